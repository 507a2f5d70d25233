"""Synthetic New York City: 8.3 million people in 262 neighbourhoods (2020 NTAs), in households, with jobs.

Sources (read through `populace.data` from the data directory; see `../shared/data/SOURCES.md`):

- zones and their margins: NYC Department of City Planning, ACS 2017-2021 NTA profiles: 18 age bands, sex,
  8 race / Hispanic-origin groups, employed civilians and 13 industry groups;
- joint seed of age x sex x race / Hispanic origin per borough: US Census Bureau CC-EST2019-ALLDATA-36
  (2019-07-01). Each borough's NTA tables are rescaled to this estimate, the last before the pandemic, so the
  city totals 8,336,817 people at scale 1;
- households by size 1, 2, 3, 4+ per NTA: NYC Council Data Team (councilcount), ACS 2019-2023.
- who works, among people 16 and over, weights the choice by age with US employment-population ratios
  (16-19: 29.7%, 20-24: 64.6%, 25-54: 77.9%, 55-64: 61.8%, 65+: 18.6%; Economic Policy Institute analysis of
  the basic monthly CPS, 2016); the number employed per NTA comes from the City Planning table;
- where they work: each worker's borough of work (or outside NYC) is drawn from the home borough's row of the
  US Census Bureau's ACS 2009-2013 county-to-county commuting flows (`populace.population.commuting`); workers
  working outside NYC keep their job but have no workplace in the work layer.

Simplifications, stated: everyone lives in a household (the 2.1% in group quarters are housed like the rest);
NTAs with residents but no households in the household table (shelters on park land) get households of about
`GROUP_HOME_SIZE`; commuters into NYC from elsewhere (New Jersey, Long Island, Westchester) are not in the
population, so a borough's workplaces hold only the NYC residents who work there.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from populace.core import AgentTable, rng
from populace.data import (
    BOROUGHS,
    acs_commuting_flows,
    census,
    census_county_population,
    commuting,
    commuting_shares,
    contacts,
    councilcount,
    councilcount_household_sizes,
    dcp,
    dcp_nta_profiles,
)
from populace.data.shipped import data_files
from populace.population.commuting import assign_work_regions
from populace.population.groups import order_within_groups
from populace.population.households import assign_households, household_sizes
from populace.population.ipf import integerize
from populace.population.layers import LayerConfig, build_layers
from populace.population.storage import NO_CODE, Population
from populace.population.synthesis import choose_within_zones, exact_ages, fit_persons, fit_report

AGE_BANDS = ("0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
             "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85+")
SEXES = ("male", "female")
RACE_ETHNICITY = ("hispanic", "white_nh", "black_nh", "aian_nh", "asian_nh", "nhpi_nh", "other_nh", "two_or_more_nh")
INDUSTRIES = ("agriculture_mining", "construction", "manufacturing", "wholesale_trade", "retail_trade",
              "transportation_utilities", "information", "finance_real_estate", "professional_management",
              "education_health", "arts_food", "other_services", "public_administration")
ADULT_AGE = 18
WORKING_AGE = 16
GROUP_HOME_SIZE = 10
EMPLOYMENT_RATIO_BY_AGE = ((16, 0.297), (20, 0.646), (25, 0.779), (55, 0.618), (65, 0.186))
"""(from age, employment-population ratio) steps, EPI analysis of the basic CPS, 2016."""

SOURCE_FILES = (census.CENSUS_FILE, dcp.DEMO_FILE, dcp.ECON_FILE, councilcount.NTA_FILE, contacts.URBAN_FILE,
                commuting.COMMUTING_FILE)
"""The raw files a synthetic NYC is built from (their SHA-256 go into the manifest)."""

_CENSUS_RACE = {"white": 1, "black": 2, "aian": 3, "asian": 4, "nhpi": 5, "two_or_more": 7}


@dataclasses.dataclass(frozen=True)
class SyntheticPeople:
    """Agents (rows ordered by zone, then household), zones, households and the fit report of a synthesis."""

    agents: AgentTable
    zones: pd.DataFrame
    households: pd.DataFrame
    fit: pd.DataFrame
    codes: dict[str, list[str]]


def synthesize_nyc(*, scale: float = 0.01, seed: int = 1, data_dir: str | None = None) -> SyntheticPeople:
    """People of New York City at `scale` (1.0: about 8.34 million), reproducible from `seed`."""
    profiles = dcp_nta_profiles(data_dir)
    region = torch.tensor(profiles["borough"].cat.codes.to_numpy(), dtype=torch.long)
    margins = _nta_margins(profiles, census_county_population(data_dir))
    people = fit_persons(margins, _census_seed(data_dir), region, seed=seed, scale=scale)
    columns = people.expand()
    n = columns["zone"].numel()
    ids = torch.arange(n, dtype=torch.int32)
    age = exact_ages(columns["age_band"], ids, seed=seed, open_band=len(AGE_BANDS) - 1)

    persons_by_zone = torch.bincount(columns["zone"].long(), minlength=len(profiles))
    adults_by_zone = torch.bincount(columns["zone"][age >= ADULT_AGE].long(), minlength=len(profiles))
    by_size = _households_by_size(profiles, persons_by_zone, adults_by_zone, scale, seed, data_dir)
    home_zone, home_size = household_sizes(persons_by_zone, by_size, seed=seed)
    can_head = (age >= ADULT_AGE) | (adults_by_zone[columns["zone"].long()] == 0)
    household = assign_households(columns["zone"], age, can_head, ids, home_zone, home_size, seed=seed)

    order = torch.argsort(household, stable=True)  # rows by household; households are already by zone
    columns = {name: values[order] for name, values in columns.items()}
    age, household = age[order], household[order]
    is_employed, industry = _jobs(profiles, columns["zone"], age, ids, persons_by_zone, seed)
    agents = AgentTable({
        "id": ids, "zone": columns["zone"], "region": region[columns["zone"].long()].to(torch.uint8),
        "household": household, "age": age, "age_band": columns["age_band"], "sex": columns["sex"],
        "race_ethnicity": columns["race_ethnicity"], "is_employed": is_employed, "industry": industry,
    })
    agents = agents.with_columns(
        work_region=assign_work_regions(agents, commuting_shares(acs_commuting_flows(data_dir)), seed=seed))
    zones = pd.DataFrame({
        "zone": torch.arange(len(profiles), dtype=torch.int16).numpy(),
        "code": profiles["nta_code"].to_numpy(), "name": profiles["nta_name"].to_numpy(),
        "region": region.to(torch.uint8).numpy(), "population": persons_by_zone.to(torch.int32).numpy(),
    })
    households = pd.DataFrame({"household": torch.arange(home_zone.numel(), dtype=torch.int32).numpy(),
                               "zone": home_zone.to(torch.int16).numpy(), "size": home_size.numpy()})
    report = fit_report(people, margins, scale=scale, zone_codes=list(profiles["nta_code"]))
    codes = {"region": list(BOROUGHS), "age_band": list(AGE_BANDS), "sex": list(SEXES),
             "race_ethnicity": list(RACE_ETHNICITY), "industry": list(INDUSTRIES), "work_region": list(BOROUGHS)}
    return SyntheticPeople(agents, zones, households, report, codes)


def _nta_margins(profiles: pd.DataFrame, census: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Age, sex and race / Hispanic-origin counts per NTA, each borough rescaled to the Census 2019 estimate."""
    borough_total = census.groupby("borough", observed=True)["count"].sum()
    nta_total_by_borough = profiles.groupby("borough", observed=True)["population"].transform("sum")
    factor = profiles["borough"].map(borough_total).astype("float64") / nta_total_by_borough.astype("float64")
    tables = {
        "age_band": profiles[[f"age_{b.replace('-', '_').replace('+', '_plus')}" for b in AGE_BANDS]],
        "sex": profiles[list(SEXES)],
        "race_ethnicity": profiles[list(RACE_ETHNICITY)],
    }
    return {name: table.astype("float64").mul(factor.to_numpy(), axis=0) for name, table in tables.items()}


def _census_seed(data_dir: str | None) -> torch.Tensor:
    """Joint counts [borough, age band, sex, race / Hispanic origin] from the Census county file."""
    census = census_county_population(data_dir)
    race = census["race"].astype(str).map(_CENSUS_RACE).where(~census["hispanic"], 0)
    seed = torch.zeros(len(BOROUGHS), len(AGE_BANDS), len(SEXES), len(RACE_ETHNICITY), dtype=torch.float64)
    index = (torch.tensor(census["borough"].cat.codes.to_numpy(), dtype=torch.long),
             torch.tensor(census["age_band"].cat.codes.to_numpy(), dtype=torch.long),
             torch.tensor(census["sex"].cat.codes.to_numpy(), dtype=torch.long),
             torch.tensor(race.to_numpy(), dtype=torch.long))
    seed.index_put_(index, torch.tensor(census["count"].to_numpy(), dtype=torch.float64), accumulate=True)
    return seed


def _households_by_size(profiles: pd.DataFrame, persons: torch.Tensor, adults: torch.Tensor, scale: float,
                        seed: int, data_dir: str | None) -> torch.Tensor:
    """Households of size 1, 2, 3, 4+ per NTA [Z, 4], scaled to our persons and capped at one per adult."""
    table = councilcount_household_sizes("nta", data_dir).set_index("nta_code").reindex(profiles["nta_code"])
    counts = torch.tensor(table[["size_1", "size_2", "size_3", "size_4_plus"]].fillna(0).to_numpy(),
                          dtype=torch.float64)
    population = torch.tensor(table["population"].fillna(0).to_numpy(), dtype=torch.float64)
    factor = torch.where(population > 0, persons / population.clamp_min(1), torch.zeros_like(population))
    counts = counts * factor.unsqueeze(1)
    no_table = (counts.sum(1) < 0.5) & (persons > 0)
    counts[no_table, 3] = torch.ceil(persons[no_table] / GROUP_HOME_SIZE).double()  # group homes
    heads = torch.maximum(adults, (persons > 0).long())  # a zone of children only (at small scale) gets one home
    too_many = counts.sum(1) > heads
    counts[too_many] *= (heads[too_many] / counts[too_many].sum(1)).unsqueeze(1)
    rounded = integerize(counts, seed=seed, zone_axes=1)
    excess = (rounded.sum(1) - heads).clamp_min(0)  # rounding up may pass the heads by one
    rounded[:, 0] -= torch.minimum(excess, rounded[:, 0])
    rounded[(rounded.sum(1) == 0) & (persons > 0), 0] = 1  # at least one home where anybody lives
    return rounded


def _jobs(profiles: pd.DataFrame, zone: torch.Tensor, age: torch.Tensor, ids: torch.Tensor,
          persons_by_zone: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Who is employed (bool [N]) and in which industry (uint8 [N], 255 if none), matching the NTA tables."""
    population = torch.tensor(profiles["population"].to_numpy(), dtype=torch.float64)
    share = torch.where(population > 0, persons_by_zone / population.clamp_min(1), torch.zeros_like(population))
    industry_table = torch.tensor(profiles[[f"ind_{name}" for name in INDUSTRIES]].to_numpy(), dtype=torch.float64)
    industry_counts = integerize(industry_table * share.unsqueeze(1), seed=seed, zone_axes=1)  # [Z, 13]
    weight = torch.zeros(age.numel(), dtype=torch.float64)
    for from_age, ratio in EMPLOYMENT_RATIO_BY_AGE:
        weight[age >= from_age] = ratio
    is_employed = choose_within_zones(zone, weight, industry_counts.sum(1), ids, seed=seed, stream="synthesis.jobs")
    # industries: the employed of each zone, in a random order, take the zone's industry labels in turn
    workers = torch.nonzero(is_employed).flatten()
    order, _, _ = order_within_groups(zone[workers], rng.uniform(seed, 0, "synthesis.industry", ids[workers]))
    workers = workers[order]  # by zone, random within a zone
    worker_zone = zone[workers].long()
    rank = torch.arange(workers.numel()) - torch.searchsorted(worker_zone, worker_zone)
    per_zone = industry_counts.sum(1)
    labels = torch.repeat_interleave(torch.arange(len(INDUSTRIES)).repeat(len(profiles)), industry_counts.reshape(-1))
    label_zone = torch.repeat_interleave(torch.arange(len(profiles)), industry_counts.sum(1))
    shuffled, _, _ = order_within_groups(label_zone, rng.uniform(seed, 0, "synthesis.industry_labels",
                                                                  torch.arange(labels.numel())))
    labels = labels[shuffled]  # random order within each zone
    label_start = torch.cumsum(per_zone, 0) - per_zone
    industry = torch.full((age.numel(),), NO_CODE, dtype=torch.uint8)
    industry[workers] = labels[label_start[worker_zone] + rank].to(torch.uint8)
    return is_employed, industry


def build_nyc(scale: float = 0.01, seed: int = 1, data_dir: str | None = None,
              layer_config: LayerConfig | None = None) -> Population:
    """The synthetic New York City with its household, school, work and community layers, ready to `save`."""
    people = synthesize_nyc(scale=scale, seed=seed, data_dir=data_dir)
    agents, layers = build_layers(people.agents, layer_config, seed=seed, data_dir=data_dir)
    root, sources = data_files(list(SOURCE_FILES), data_dir)
    manifest = {"place": "nyc", "seed": seed, "scale": scale, "sources": sources, "codes": people.codes,
                "data_dir": str(root),
                "fit": {attribute: {"max_abs_difference": float(rows["difference"].abs().max()),
                                    "total_abs_difference": float(rows["difference"].abs().sum())}
                        for attribute, rows in people.fit.groupby("attribute")}}
    return Population(agents=agents, zones=people.zones, households=people.households, layers=layers,
                      manifest=manifest)
