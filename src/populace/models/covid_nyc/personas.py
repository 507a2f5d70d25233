r"""Per-agent personas of the NYC COVID-19 model and the attributes a learned grouping may use (`--grouping`).

`persona_texts(agents, rows, boroughs, neighbourhoods)` describes each agent by every attribute the synthetic city
has: exact age, sex, race / Hispanic origin, household size, neighbourhood and borough, and work (industry, or not
in work), e.g. "a 34-year-old woman, Hispanic, living with 2 others in Jackson Heights, Queens, working in retail
trade". `grouping_levels(boroughs, neighbourhoods)` cuts the same attributes into levels for
`populace.behavior.grouping`: 6 age bands, sex, 8 race / Hispanic-origin groups, household size (1 to 6 or more),
borough, neighbourhood (NTA), work (the archetypes' 3 work situations) and industry (13, or not in work).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from populace.behavior.archetypes import Levels
from populace.models.covid_nyc.archetypes import WORK_LEVELS, borough_levels
from populace.population.nyc import INDUSTRIES

RACE_WORDS = ("Hispanic", "white (not Hispanic)", "Black (not Hispanic)", "American Indian (not Hispanic)",
              "Asian (not Hispanic)", "Pacific Islander (not Hispanic)", "of another race (not Hispanic)",
              "of two or more races (not Hispanic)")
"""`populace.population.nyc.RACE_ETHNICITY` in words."""
INDUSTRY_WORDS = ("agriculture or mining", "construction", "manufacturing", "wholesale trade", "retail trade",
                  "transport or utilities", "information and media", "finance or real estate",
                  "professional services", "education or health care", "food service or the arts", "other services",
                  "public administration")
"""`INDUSTRIES` in words."""
NOT_IN_WORK = len(INDUSTRIES)
MAX_HOUSEHOLD = 6


def household_size(agents: Mapping[str, Tensor]) -> Tensor:
    """Members of each agent's household (column `household`), int64 [N]."""
    household = agents["household"].long()
    return torch.bincount(household)[household]


def industry_or_none(agents: Mapping[str, Tensor]) -> Tensor:
    """The industry code of employed agents, `NOT_IN_WORK` (13) for the others, int64 [N]."""
    industry = agents["industry"].long().clamp(max=NOT_IN_WORK)
    return torch.where(agents["is_employed"].bool(), industry, NOT_IN_WORK)


def persona_texts(agents: Mapping[str, Tensor], rows: Tensor, boroughs: Sequence[str],
                  neighbourhoods: Sequence[str]) -> list[str]:
    """One description per agent at positions `rows` (see the module docstring)."""
    size = household_size(agents)[rows].tolist()
    work = industry_or_none(agents)[rows].tolist()
    texts = []
    for age, sex, race, zone, region, members, job in zip(
            agents["age"][rows].tolist(), agents["sex"][rows].tolist(), agents["race_ethnicity"][rows].tolist(),
            agents["zone"][rows].tolist(), agents["region"][rows].tolist(), size, work, strict=True):
        home = "living alone" if members == 1 else f"living with {members - 1} other{'s' if members > 2 else ''}"
        doing = "not in work" if job == NOT_IN_WORK else f"working in {INDUSTRY_WORDS[job]}"
        article = "an" if age in (8, 11, 18) or 80 <= age <= 89 else "a"
        texts.append(f"{article} {age}-year-old {('man', 'woman')[sex]}, {RACE_WORDS[race]}, {home} in "
                     f"{neighbourhoods[zone]}, {boroughs[region]}, {doing}")
    return texts


def grouping_levels(boroughs: Sequence[str], neighbourhoods: Sequence[str]) -> tuple[Levels, ...]:
    """The attributes a learned grouping may choose from (see the module docstring)."""
    return (
        Levels.bins("age", "age", (18, 30, 40, 50, 65), ("aged under 18", "aged 18 to 29", "aged 30 to 39",
                                                         "aged 40 to 49", "aged 50 to 64", "aged 65 or older")),
        Levels.codes("sex", "sex", ("a man", "a woman")),
        Levels.codes("race_ethnicity", "race_ethnicity", RACE_WORDS),
        Levels.bins("household", household_size, tuple(range(2, MAX_HOUSEHOLD + 1)),
                    ("living alone", *(f"in a household of {k}" for k in range(2, MAX_HOUSEHOLD)),
                     f"in a household of {MAX_HOUSEHOLD} or more"), reads=("household",)),
        borough_levels(boroughs),
        Levels.codes("neighbourhood", "zone", [f"in {name}" for name in _distinct(neighbourhoods)]),
        WORK_LEVELS,
        Levels.codes("industry", industry_or_none, (*(f"working in {w}" for w in INDUSTRY_WORDS), "not in work"),
                     reads=("industry", "is_employed")),
    )


def _distinct(names: Sequence[str]) -> list[str]:
    """Names made distinct (a repeated one gets its position)."""
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names):
        out.append(name if name not in seen else f"{name} ({i})")
        seen.add(name)
    return out
