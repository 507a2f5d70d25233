"""Shared pieces of the LLM-archetype tests: a small five-borough population and a deterministic answer function."""

import dataclasses
import zlib

from populace.llm import Query
from populace.network import ContactGraph, ContactLayer
from populace.population.storage import Population
from populace.population.synthetic import synthetic_population


def five_borough_population(n_agents: int = 2000, *, seed: int = 1) -> Population:
    """Synthetic agents in 5 regions (zones of ~200) with household, school, work and community layers."""
    people = synthetic_population(n_agents, contacts_per_agent=10, agents_per_zone=200, seed=seed)
    a = people.agents
    graph = ContactGraph(a.n, {"household": people.layers["household"],
                               "school": ContactLayer.from_groups(a.school_class, 0.3, name="school"),
                               "work": ContactLayer.from_groups(a.workplace, 0.3, name="work"),
                               "community": people.layers["random"]})
    return dataclasses.replace(people, layers=graph)


def hashed_yes(query: Query) -> tuple[float, float]:
    """A different, reproducible P(yes) in [0.05, 0.95] for every prompt (CRC-32 of its text)."""
    p = 0.05 + 0.9 * (zlib.crc32(query.prompt.encode()) % 1000) / 999
    return p, 1 - p
