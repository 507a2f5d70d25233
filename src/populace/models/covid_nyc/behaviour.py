r"""`Behaviour`: the weekly isolation and go-to-work decisions of the NYC COVID-19 model, and their effect on contacts.

Once a week (steps t with t % 7 == `day_of_week`) every agent decides, through a `DecisionModel` (`populace.behavior`:
`HeuristicDecisions`, or `LLMDecisions` over `archetypes.covid_decisions()`), two yes/no decisions (options
`YES_NO`, "yes" first, so each draw is 1[u < p_yes]):

1. whether to isolate (`ISOLATE`), seeing `local_case_situation(world)`: its own symptoms and its region's symptomatic
   cases of the last week (incidence per 100,000 residents, growth against the week before);
2. then, if employed and not isolating, whether to go to work (`GO_TO_WORK`), seeing the orders' work-from-home
   fraction (`world.env[WORK_FROM_HOME_KEY]`, written by `Policy`; absent: 0) and its own `is_isolating`.

The decisions hold until the next decision day. They act on contacts through per-agent factors g_l on contact layer
l, the columns `contact_factor_key(l)` that `Transmission` applies on both ends of every contact
(sum_j w_lij g_li g_lj f_j): on the work layer g = goes_to_work (the non-employed, the isolating and those working
from home have no work contacts); on each layer of `isolation_contact_factor_by_layer` g = k_l for an isolating
agent and 1 for the others (defaults: school 0, community 0.25: an isolating agent keeps a quarter of its
community contacts, for errands and care; an assumption); other layers (the household) are left alone.

Reads stage, onset_day, is_asymptomatic, region, is_employed (and what the decision model reads, e.g. industry);
writes is_isolating, goes_to_work and the factor columns, which the initial world must hold
(`Behaviour.initial_columns`). Fast mode: bool decisions; differentiable mode: straight-through floats from the same
uniforms, so both modes make the same decisions and gradients reach the decision model's parameters. The situation
features are counts of past events (event days): they carry no gradient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from populace.behavior.interface import YES_NO, DecisionModel, chosen, decide, is_decision_step
from populace.core.agents import AgentTable
from populace.core.model import Substep
from populace.core.ops import bincount, complement, count_where, indicator, select
from populace.core.world import World
from populace.models.covid_nyc.decisions import GO_TO_WORK, ISOLATE
from populace.models.covid_nyc.disease import STAGES, Stage, contact_factor_key
from populace.models.covid_nyc.policy import WORK_FROM_HOME_KEY

ISOLATION_CONTACT_FACTOR_BY_LAYER = {"school": 0.0, "community": 0.25}
"""Contact factor of an isolating agent by layer (assumption; see the module docstring)."""
PER_100K = 100_000
YES = YES_NO.index("yes")


def local_case_situation(world: World, *, window_days: int = 7) -> dict[str, Tensor]:
    r"""The isolation situation of every agent: symptoms, and its region's recent symptomatic cases.

    c_r = agents of region r whose symptoms began in the last `window_days` days (onset_day in [t - W, t - 1], not
    asymptomatic), c'_r the same over the W days before; n_r the agents of region r. Returns float32 [N]:
    is_symptomatic (stage I; in differentiable mode the float stage mass), incidence_per_100k = 1e5 c_r / n_r and
    case_growth = log((c_r + 1) / (c'_r + 1)), each agent getting its region's values.
    """
    if not (isinstance(window_days, int) and window_days >= 1):
        raise ValueError(f"window_days must be an int >= 1, got {window_days!r}")
    a = world.agents
    for column in ("stage", "onset_day", "is_asymptomatic", "region"):
        if column not in a:
            raise KeyError(f"agents have no column {column!r} (they have: {', '.join(a.columns)}); the behaviour "
                           "substep runs on a CovidDisease world")
    t = world.step
    region = a.region  # [N]
    n_regions = int(region.max()) + 1 if a.n else 0
    onset = a.onset_day.long()  # [N], -1 before scheduled
    is_case = ~a.is_asymptomatic.bool() & (onset >= 0) & (onset < t)
    recent = is_case & (onset >= t - window_days)
    before = is_case & (onset < t - window_days) & (onset >= t - 2 * window_days)
    residents = bincount(region, n_regions).clamp(min=1)  # [R]
    cases = count_where(region, recent, n_regions)  # [R]
    cases_before = count_where(region, before, n_regions)  # [R]
    incidence = PER_100K * cases / residents  # [R]
    growth = torch.log((cases + 1) / (cases_before + 1))  # [R]
    is_symptomatic = STAGES.mass(a.stage, Stage.I)  # [N]
    index = region.long()  # [N]
    return {"is_symptomatic": is_symptomatic, "incidence_per_100k": incidence[index], "case_growth": growth[index]}


class Behaviour(Substep):
    r"""Weekly isolation and go-to-work decisions, written as columns and as per-agent contact factors.

    is_isolating_i ~ Bernoulli(p_iso_i), goes_to_work_i = is_employed_i (1 - is_isolating_i) x_i with
    x_i ~ Bernoulli(p_work_i); p_iso and p_work from the decision model. Contact factors:
    g_work = goes_to_work, g_l = 1 - is_isolating (1 - k_l) for the layers l of `isolation_contact_factor_by_layer`.

    Args:
        decision_model: answers `ISOLATE` and `GO_TO_WORK` with the options `YES_NO` (e.g. `HeuristicDecisions()`);
            its parameters become this substep's, so calibration reaches them.
        day_of_week: decisions are made on the steps t with t % 7 == day_of_week (0..6), in a model of day steps
            (`populace.behavior.is_decision_step`).
        work_layer: the contact layer of workplaces.
        isolation_contact_factor_by_layer: {layer: k_l in [0, 1]}, the contact factor of an isolating agent.
        window_days: W of `local_case_situation`.
    """

    def __init__(self, decision_model: DecisionModel, *, day_of_week: int = 0, work_layer: str = "work",
                 isolation_contact_factor_by_layer: Mapping[str, float] = ISOLATION_CONTACT_FACTOR_BY_LAYER,
                 window_days: int = 7):
        super().__init__()
        if not isinstance(decision_model, DecisionModel):
            raise TypeError(f"decision_model must be a DecisionModel (with .decisions and .probabilities(decision, "
                            f"world, situation)), got {type(decision_model).__name__}; e.g. HeuristicDecisions()")
        missing = [d for d in (ISOLATE, GO_TO_WORK) if d not in decision_model.decisions]
        if missing:
            raise ValueError(f"{type(decision_model).__name__} does not make the decision(s) {missing} that "
                             f"Behaviour asks (it makes: {', '.join(decision_model.decisions)})")
        for d in (ISOLATE, GO_TO_WORK):
            if tuple(decision_model.decisions[d]) != YES_NO:
                raise ValueError(f"Behaviour asks {d!r} as a yes/no decision with the options {YES_NO}, but "
                                 f"{type(decision_model).__name__} offers {tuple(decision_model.decisions[d])}")
        if day_of_week not in range(7):
            raise ValueError(f"day_of_week must be an int in 0..6, got {day_of_week!r}")
        if not (isinstance(window_days, int) and window_days >= 1):
            raise ValueError(f"window_days must be an int >= 1, got {window_days!r}")
        factors = dict(isolation_contact_factor_by_layer)
        if work_layer in factors:
            raise ValueError(f"isolation_contact_factor_by_layer names the work layer {work_layer!r}, whose factor is "
                             "goes_to_work (isolating agents do not go to work); leave it out")
        for layer, k in factors.items():
            if not (isinstance(layer, str) and layer.isidentifier()):
                raise ValueError(f"layer names must be identifiers (they name columns), got {layer!r}")
            if not (isinstance(k, (int, float)) and math.isfinite(k) and 0 <= k <= 1):
                raise ValueError(f"the isolation contact factor of layer {layer!r} must be in [0, 1], got {k!r}")
        self.decision_model = decision_model
        self.day_of_week = day_of_week
        self.work_layer = work_layer
        self.isolation_contact_factor_by_layer = {layer: float(k) for layer, k in factors.items()}
        self.window_days = window_days
        self.writes = ("is_isolating", "goes_to_work", contact_factor_key(work_layer),
                       *(contact_factor_key(layer) for layer in factors))

    def extra_repr(self) -> str:
        return (f"day_of_week={self.day_of_week}, work_layer={self.work_layer!r}, "
                f"isolation_contact_factor_by_layer={self.isolation_contact_factor_by_layer}, "
                f"window_days={self.window_days}")

    def initial_columns(self, agents: AgentTable, *, differentiable: bool = False) -> dict[str, Tensor]:
        """The columns this substep writes, before any decision: nobody isolates, every employed agent goes to work.

        Add them to the initial world: `World.of(table.with_columns(behaviour.initial_columns(table)), ...)`.
        """
        if "is_employed" not in agents:
            raise KeyError(f"agents have no column 'is_employed' (they have: {', '.join(agents.columns)})")
        employed = agents.is_employed.bool()  # [N]
        out = {"is_isolating": indicator(torch.zeros_like(employed), differentiable=differentiable),
               "goes_to_work": indicator(employed, differentiable=differentiable),
               contact_factor_key(self.work_layer): employed.float()}
        out.update({contact_factor_key(layer): torch.ones(agents.n, device=agents.device)
                    for layer in self.isolation_contact_factor_by_layer})
        return out

    def forward(self, world: World) -> dict[str, Tensor]:
        if not is_decision_step(world, day_of_week=self.day_of_week):
            return {}
        a = world.agents
        n = a.n
        situation = local_case_situation(world, window_days=self.window_days)
        isolating = chosen(decide(self.decision_model, ISOLATE, world, situation), YES)  # [N] bool, or float 0/1
        w = world.env.get(WORK_FROM_HOME_KEY, torch.zeros((), device=world.device)).float()
        if w.dim() != 0:
            raise ValueError(f"world.env[{WORK_FROM_HOME_KEY!r}] must be a 0-dim tensor, got shape {list(w.shape)}")
        go = chosen(decide(self.decision_model, GO_TO_WORK, world,
                           {"work_from_home_fraction": w.expand(n), "is_isolating": isolating}), YES)
        # bools in fast mode; in differentiable mode floats 0/1 carrying straight-through gradients
        goes = a.is_employed * complement(isolating) * go
        return {"is_isolating": isolating, "goes_to_work": goes,
                **isolation_contact_factors(isolating, goes, self.isolation_contact_factor_by_layer, self.work_layer)}


def isolation_contact_factors(isolating: Tensor, goes_to_work: Tensor, factor_by_layer: Mapping[str, float],
                              work_layer: str) -> dict[str, Tensor]:
    """The contact factor columns of agents who isolate (bool [N], or 0/1 floats) and go to work: g_work =
    goes_to_work, g_l = k_l for an isolating agent and 1 for the others on each layer l of `factor_by_layer`
    (float [N] each, keyed by `contact_factor_key`). `Behaviour` writes them for its decisions, `Testing` for an
    isolation after a positive test."""
    out = {contact_factor_key(work_layer): goes_to_work.float()}
    out.update({contact_factor_key(layer): select(isolating, k, 1.0).float() for layer, k in factor_by_layer.items()})
    return out

