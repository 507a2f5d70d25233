r"""The language-model decisions of the NYC COVID-19 model: its archetypes, situation levels, persona and prompts.

`covid_decisions(region_labels)` gives the `DecisionSpec`s that `populace.behavior.LLMDecisions` asks: `ISOLATE` and
`GO_TO_WORK` (options `YES_NO`), of "a New York City resident" (`PERSON`) in one of 5 age bands x R boroughs x 3
work situations (75 archetypes for NYC), with the prompts shipped in `templates/` (`isolate.txt`,
`go_to_work.txt`). The levels cut the agent columns (age, region, is_employed, industry) and the situation
features of `populace.models.covid_nyc.decisions.SITUATION_FEATURES` into the words the prompts show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from populace.behavior.archetypes import Levels, uses_numpy
from populace.behavior.llm_decisions import DecisionSpec
from populace.behavior.templates import PromptTemplate, package_template
from populace.data.boroughs import BOROUGHS
from populace.models.covid_nyc.decisions import GO_TO_WORK, ISOLATE, TELEWORKABLE_FRACTION_BY_INDUSTRY

PERSON = "a New York City resident"
"""How every archetype's description begins."""

AGE_LEVELS = Levels.bins("age", "age", (18, 30, 50, 65), (
    "aged under 18", "aged 18 to 29", "aged 30 to 49", "aged 50 to 64", "aged 65 or older"))
"""Five age bands (years)."""

CAN_TELEWORK_SHARE = 0.4
"""An industry where at least this share of workers can work from home counts as 'can work from home'."""


_WORK_BY_INDUSTRY = np.ones(256, dtype=np.uint8)  # by industry code: 1 on site, 2 can work from home
_WORK_BY_INDUSTRY[:len(TELEWORKABLE_FRACTION_BY_INDUSTRY)] += np.array(
    [share >= CAN_TELEWORK_SHARE for share in TELEWORKABLE_FRACTION_BY_INDUSTRY], dtype=np.uint8)


def work_status(agents: Mapping[str, Tensor]) -> Tensor:
    """0 not employed, 1 employed in an industry where most work is on site, 2 in one where much can be remote.

    Reads `is_employed` and `industry` (codes of `populace.population.nyc.INDUSTRIES`; an industry's share of
    teleworkable workers is `TELEWORKABLE_FRACTION_BY_INDUSTRY`, compared with `CAN_TELEWORK_SHARE`). uint8 [N].
    """
    for column in ("is_employed", "industry"):
        if column not in agents:
            raise KeyError(f"agents have no column {column!r}, which the 'work' archetype attribute reads")
    industry, employed = agents["industry"].detach(), agents["is_employed"].detach()
    if industry.dtype != torch.uint8:
        industry = industry.clamp(0, 255)
    employed = (employed > 0.5) if employed.is_floating_point() else employed.bool()
    if uses_numpy(industry) and uses_numpy(employed):
        index = industry if industry.dtype == torch.uint8 else industry.to(torch.int32)
        code = _WORK_BY_INDUSTRY[index.numpy()]  # a new array
        code *= employed.numpy()
        return torch.from_numpy(code)
    table = torch.from_numpy(_WORK_BY_INDUSTRY).to(industry.device)
    return table.index_select(0, industry.to(torch.int32)) * employed


WORK_LEVELS = Levels.codes("work", work_status, (
    "not in work", "working at a job that has to be done on site",
    "working at a job that can mostly be done from home"), reads=("is_employed", "industry"))
"""Three work situations (`work_status`); computed again only when is_employed or industry changes."""


def borough_levels(region_labels: Sequence[str] = BOROUGHS) -> Levels:
    """The agent's region (column `region`, codes 0..R-1), shown as "living in <label>"."""
    return Levels.codes("borough", "region", [f"living in {label}" for label in region_labels])


SYMPTOM_LEVELS = Levels.bins("symptoms", "is_symptomatic", (0.5,), (
    "You feel well, with no symptoms.", "You have symptoms of COVID-19: fever and a cough."))
INCIDENCE_LEVELS = Levels.bins("local_cases", "incidence_per_100k", (10, 50, 200), (
    "very few new COVID-19 cases (under 10 per 100,000 residents)",
    "some new COVID-19 cases (10 to 50 per 100,000 residents)",
    "many new COVID-19 cases (50 to 200 per 100,000 residents)",
    "very many new COVID-19 cases (over 200 per 100,000 residents)"))
"""Weekly symptomatic cases per 100,000 in the agent's region, in four bands."""
GROWTH_LEVELS = Levels.bins("case_trend", "case_growth", (-0.2, 0.2), (
    "cases are falling", "cases are about as many as the week before", "cases are rising"))
"""Log growth of weekly cases: falling (under -0.2, i.e. down by more than 18%), steady, rising (over +22%)."""
WORK_ORDER_LEVELS = Levels.bins("work_orders", "work_from_home_fraction", (0.05, 0.5, 0.95), (
    "There are no orders to work from home.",
    "Employers are asked to let some staff who can work from home do so.",
    "Orders tell most staff who can work from home to do so.",
    "A stay-at-home order is in force: everyone who can work from home must do so."))
"""The orders' work-from-home fraction, in four bands."""


def covid_template(name: str) -> PromptTemplate:
    """A prompt template of the model's decisions, by name ("isolate", "go_to_work")."""
    return package_template(__package__, name)


def covid_decisions(region_labels: Sequence[str] = BOROUGHS) -> dict[str, DecisionSpec]:
    """The NYC COVID-19 decisions: 5 age bands x R boroughs x 3 work situations (75 archetypes for NYC).

    `ISOLATE`: asked of everyone, situation = own symptoms (2) x local weekly incidence (4) x case trend (3);
    `GO_TO_WORK`: asked of employed agents who are not isolating (the others answer "no"), situation = the
    work-from-home orders (4). `region_labels`: the borough names, e.g. a population manifest's codes["region"].
    """
    archetype = (AGE_LEVELS, borough_levels(region_labels), WORK_LEVELS)
    return {
        ISOLATE: DecisionSpec(covid_template(ISOLATE), archetype, (SYMPTOM_LEVELS, INCIDENCE_LEVELS, GROWTH_LEVELS),
                              person=PERSON),
        GO_TO_WORK: DecisionSpec(covid_template(GO_TO_WORK), archetype, (WORK_ORDER_LEVELS,),
                                 ask_only={"is_employed": True, "is_isolating": False}, person=PERSON),
    }
