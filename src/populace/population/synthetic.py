"""A synthetic population in the population schema, with no data behind it: for tests, benchmarks and examples."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import torch

from populace.core.agents import AgentTable
from populace.network.graph import ContactGraph, ContactLayer
from populace.network.random import erdos_renyi
from populace.population.storage import NO_CODE, Population

HOUSEHOLD_SIZE_PROBABILITIES = (0.30, 0.28, 0.16, 0.14, 0.07, 0.05)
"""P(household of 1, 2, ..., 6 people): mean 2.55, near New York City's 2.6."""

RACE_ETHNICITY_LABELS = ("hispanic", "white", "black", "american_indian_alaska_native", "asian",
                         "native_hawaiian_pacific_islander", "other", "two_or_more")
N_INDUSTRIES = 13
N_REGIONS = 5


def synthetic_population(n_agents: int, *, contacts_per_agent: float = 20.0, agents_per_zone: int = 32_000,
                         seed: int = 0) -> Population:
    """`n_agents` agents with uniform ages, households of 1-6 (mean 2.55), zones of ~`agents_per_zone`, 5 regions.

    Layers: `household` (everyone in a household in contact, unweighted) and, when `contacts_per_agent` > 0,
    `random` (`erdos_renyi(n_agents, contacts_per_agent)`: that many contacts per agent on average). Agents
    are ordered by zone then household, ids are row numbers; 16+ year olds are employed with probability 0.6
    (workplaces of ~10), 5-17 year olds are in school classes of ~25. Same seed, same population.
    """
    if n_agents < 2 or agents_per_zone < 1:
        raise ValueError(f"a synthetic population needs n_agents >= 2 and agents_per_zone >= 1, got {n_agents} "
                         f"and {agents_per_zone}")
    gen = torch.Generator().manual_seed(seed)
    probs = torch.tensor(HOUSEHOLD_SIZE_PROBABILITIES)
    mean_size = float((probs * torch.arange(1, len(probs) + 1)).sum())
    sizes = 1 + torch.multinomial(probs, math.ceil(n_agents / mean_size * 1.1) + 10, replacement=True, generator=gen)
    ends = sizes.cumsum(0)
    household = torch.searchsorted(ends, torch.arange(n_agents), right=True).to(torch.int32)  # [N], ascending
    n_households = int(household[-1]) + 1
    n_zones = max(1, round(n_agents / agents_per_zone))
    zone_of_household = (torch.arange(n_households) * n_zones // n_households).to(torch.int16)
    region_of_zone = (torch.arange(n_zones) * N_REGIONS // n_zones).to(torch.uint8)
    zone = zone_of_household[household]

    age = torch.randint(0, 95, (n_agents,), generator=gen, dtype=torch.uint8)
    is_employed = (age >= 16) & (torch.rand(n_agents, generator=gen) < 0.6)
    is_pupil = (age >= 5) & (age <= 17)
    industry = torch.randint(0, N_INDUSTRIES, (n_agents,), generator=gen, dtype=torch.uint8)
    workplace = torch.randint(0, max(1, n_agents // 25), (n_agents,), generator=gen, dtype=torch.int32)
    school_class = torch.randint(0, max(1, n_agents // 170), (n_agents,), generator=gen, dtype=torch.int32)
    agents = AgentTable({
        "id": torch.arange(n_agents, dtype=torch.int32),
        "zone": zone,
        "region": region_of_zone[zone.long()],
        "household": household,
        "age": age,
        "age_band": torch.clamp(age // 5, max=17),
        "sex": torch.randint(0, 2, (n_agents,), generator=gen, dtype=torch.uint8),
        "race_ethnicity": torch.randint(0, len(RACE_ETHNICITY_LABELS), (n_agents,), generator=gen, dtype=torch.uint8),
        "is_employed": is_employed,
        "industry": torch.where(is_employed, industry, NO_CODE),
        "school_class": torch.where(is_pupil, school_class, -1),
        "workplace": torch.where(is_employed, workplace, -1),
    }, validate=False)
    zones = pd.DataFrame({
        "zone": torch.arange(n_zones, dtype=torch.int16).numpy(),
        "code": [f"Z{z:04d}" for z in range(n_zones)],
        "name": [f"Zone {z}" for z in range(n_zones)],
        "region": region_of_zone.numpy(),
        "population": torch.bincount(zone.long(), minlength=n_zones).to(torch.int32).numpy(),
    })
    households = pd.DataFrame({
        "household": torch.arange(n_households, dtype=torch.int32).numpy(),
        "zone": zone_of_household.numpy(),
        "size": torch.bincount(household.long(), minlength=n_households).to(torch.int16).numpy(),
    })
    layers = {"household": ContactLayer.from_groups(household, name="household")}
    if contacts_per_agent > 0:
        layers["random"] = erdos_renyi(n_agents, contacts_per_agent, seed=seed)
    codes = {
        "region": [f"region {r}" for r in range(N_REGIONS)],
        "race_ethnicity": list(RACE_ETHNICITY_LABELS),
        "industry": [f"industry {i}" for i in range(N_INDUSTRIES)],
    }
    manifest = {"seed": seed, "scale": 1.0, "sources": [], "codes": codes, "builder": "synthetic_population"}
    return Population(agents, zones, households, ContactGraph(n_agents, layers), manifest)


def layered_synthetic_population(n_agents: int, *, seed: int, agents_per_zone: int = 32_000) -> Population:
    """`synthetic_population` with the four layers the NYC orders name: household, school and work (groups,
    weight 0.3), community (its random layer, 10 contacts per agent). No data behind it: for tests and examples."""
    people = synthetic_population(n_agents, contacts_per_agent=10, agents_per_zone=agents_per_zone, seed=seed)
    a = people.agents
    graph = ContactGraph(a.n, {"household": people.layers["household"],
                               "school": ContactLayer.from_groups(a.school_class, 0.3, name="school"),
                               "work": ContactLayer.from_groups(a.workplace, 0.3, name="work"),
                               "community": people.layers["random"]})
    return dataclasses.replace(people, layers=graph)
