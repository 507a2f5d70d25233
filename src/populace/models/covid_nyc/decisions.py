r"""The decisions of the NYC COVID-19 model: their names and options, situation features, and `HeuristicDecisions`.

Every week each agent answers two yes/no decisions (options `YES_NO`, "yes" first): `ISOLATE`, then, if employed
and not isolating, `GO_TO_WORK`. What it sees is the situation of `SITUATION_FEATURES` (built by
`populace.models.covid_nyc.behaviour.local_case_situation` and the orders). `HeuristicDecisions` answers both as
simple functions of symptoms, local cases and orders; `populace.models.covid_nyc.archetypes.covid_decisions` asks a
language model instead (`populace.behavior.LLMDecisions`).

Isolation (`ISOLATE`), for agent i with symptoms s_i in {0, 1}, its region's weekly incidence I_i (new symptomatic
cases per 100,000 over the last 7 days) and case growth g_i (log ratio of this week's cases to last week's):

    logit p_i = a_0 + (a_s - a_0) s_i + b_I log(1 + I_i / I_ref) + b_g g_i

so with no cases around (I = g = 0) an agent isolates with probability p_0 = sigmoid(a_0) without symptoms and
p_s = sigmoid(a_s) with them, and the odds grow with local incidence (b_I per e-fold of 1 + I / I_ref) and with
growing case counts (b_g per unit of log growth, i.e. per e-fold of weekly cases). Defaults (assumptions, to
calibrate): p_0 = 0.01, p_s = 0.6 (self-isolation with symptoms was far from complete in surveys of 2020),
b_I = 1.0 with I_ref = 100 per 100,000 per week (at New York City's April 2020 peak, about 500, the odds of an
agent without symptoms rise by 6x), b_g = 0.5.

Going to work (`GO_TO_WORK`), asked of an employed agent who does not isolate (the caller enforces that), with
industry k_i and the orders' work-from-home fraction w_i:

    p_i = q (1 - w_i r[k_i])

q = sigmoid(a_q): the share of workers at work in a usual week (default 0.97: routine absence, an assumption);
r[k] = sigmoid(c_k): the share of industry k's workers who can work from home, `TELEWORKABLE_FRACTION_BY_INDUSTRY`
by default. So the orders send home a share w of those who can telework; the others still go in.

The probabilities p_0, p_s, q and r are natural parameters (`UnitInterval`: trained as their logits a_0, a_s, a_q,
c_k, which the formulas read exactly, `populace.core.parameters.unconstrained`); the slopes b_I, b_g are plain
`nn.Parameter`s in logit units. Values saved under the former keys (`logit_isolate_baseline`,
`logit_isolate_if_symptomatic`, `logit_at_work`, `logit_teleworkable`) still load. `probabilities` returns the rows
(p_i, 1 - p_i) over `YES_NO`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import MappingProxyType

import torch
from torch import Tensor, nn

from populace.behavior.interface import YES_NO, DecisionError, Situation, yes_no
from populace.core.parameters import UnitInterval, natural_parameter, renamed_parameter, unconstrained
from populace.core.world import World

ISOLATE = "isolate"
"""Stay home, away from work, school and most community contacts, this week."""
GO_TO_WORK = "go_to_work"
"""Go to the workplace this week (asked of employed agents who do not isolate)."""
DECISIONS = MappingProxyType({ISOLATE: YES_NO, GO_TO_WORK: YES_NO})
"""The model's decisions and their options."""

SITUATION_FEATURES = {
    "is_symptomatic": "1 if the agent has symptoms today, else 0",
    "incidence_per_100k": "new symptomatic cases in the agent's region over the last 7 days, per 100,000 residents",
    "case_growth": "log((cases of the last 7 days + 1) / (cases of the 7 days before + 1)) in the agent's region",
    "work_from_home_fraction": "share of teleworkable workers that the orders in force send home, in [0, 1]",
}
"""The situation features of the model's decisions: name -> meaning. Every feature is a float or bool tensor [N]."""

TELEWORKABLE_FRACTION_BY_INDUSTRY = (0.111, 0.172, 0.303, 0.165, 0.165, 0.140, 0.533, 0.574, 0.534, 0.259, 0.088,
                                     0.277, 0.298)
"""Share of workers who can work from home, by industry, in the order of `populace.population.nyc.INDUSTRIES`
(agriculture_mining, construction, manufacturing, wholesale_trade, retail_trade, transportation_utilities,
information, finance_real_estate, professional_management, education_health, arts_food, other_services,
public_administration): Economic Policy Institute, "Workers in leisure and hospitality are least able to work from
home: share of workers who can telework, by industry, 2017-2018" (Gould E & Shierholz H, 2020, from the BLS
American Time Use Survey); EPI's sectors are coarser than the ACS groups, so wholesale and retail share one value.
The labour substep uses the same figures for an industry's exposure to the shock. An assumption for New York City,
whose workers (more often in offices) can likely telework more than the national shares say."""

FORMER_KEYS = {"logit_isolate_baseline": "p_isolate_baseline",
               "logit_isolate_if_symptomatic": "p_isolate_if_symptomatic",
               "logit_at_work": "p_at_work", "logit_teleworkable": "teleworkable_fraction_by_industry"}
"""`HeuristicDecisions`' former parameter keys (logits) -> the natural parameters whose unconstrained values they
were."""

ISOLATE_FEATURES = ("is_symptomatic", "incidence_per_100k", "case_growth")
GO_TO_WORK_FEATURES = ("work_from_home_fraction",)


def _check_probability(name: str, p: float) -> float:
    if not (isinstance(p, (int, float)) and 0 < p < 1):
        raise ValueError(f"{name} must be a probability in the open interval (0, 1) (it is stored as a logit), got "
                         f"{p!r}; use e.g. 0.001 or 0.999 for 'almost never' or 'almost always'")
    return float(p)


class HeuristicDecisions(nn.Module):
    """Isolation and going to work from symptoms, local incidence and growth, and orders (see the module docstring).

    Args:
        p_isolate_baseline: p_0, isolation probability without symptoms and without cases around.
        p_isolate_if_symptomatic: p_s, the same for an agent with symptoms.
        isolate_logit_per_log_incidence: b_I, logit change per e-fold of 1 + incidence / I_ref.
        incidence_reference_per_100k: I_ref, weekly cases per 100,000 (a fixed setting, > 0).
        isolate_logit_per_growth: b_g, logit change per unit of weekly log case growth.
        p_at_work: q, the share of workers at work in a usual week.
        teleworkable_fraction_by_industry: r, per industry code 0..K-1, each in (0, 1).
        industry_column: the agent column of industry codes (codes >= K, such as 255 for none, count as r = 0).
    """

    decisions = DECISIONS

    def __init__(self, *, p_isolate_baseline: float = 0.01, p_isolate_if_symptomatic: float = 0.6,
                 isolate_logit_per_log_incidence: float = 1.0, incidence_reference_per_100k: float = 100.0,
                 isolate_logit_per_growth: float = 0.5, p_at_work: float = 0.97,
                 teleworkable_fraction_by_industry: Sequence[float] = TELEWORKABLE_FRACTION_BY_INDUSTRY,
                 industry_column: str = "industry"):
        super().__init__()
        p0 = _check_probability("p_isolate_baseline", p_isolate_baseline)
        ps = _check_probability("p_isolate_if_symptomatic", p_isolate_if_symptomatic)
        q = _check_probability("p_at_work", p_at_work)
        for name, value in (("isolate_logit_per_log_incidence", isolate_logit_per_log_incidence),
                            ("isolate_logit_per_growth", isolate_logit_per_growth)):
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number (logit units), got {value!r}")
        if not (isinstance(incidence_reference_per_100k, (int, float)) and incidence_reference_per_100k > 0
                and math.isfinite(incidence_reference_per_100k)):
            raise ValueError(f"incidence_reference_per_100k must be a finite number > 0, got "
                             f"{incidence_reference_per_100k!r}")
        r = [float(x) for x in teleworkable_fraction_by_industry]
        if not r or not all(0 < x < 1 for x in r):
            raise ValueError(f"teleworkable_fraction_by_industry needs one value in the open interval (0, 1) per "
                             f"industry (stored as logits), got {r}")
        natural_parameter(self, "p_isolate_baseline", p0, UnitInterval())
        natural_parameter(self, "p_isolate_if_symptomatic", ps, UnitInterval())
        self.isolate_logit_per_log_incidence = nn.Parameter(torch.tensor(float(isolate_logit_per_log_incidence)))
        self.isolate_logit_per_growth = nn.Parameter(torch.tensor(float(isolate_logit_per_growth)))
        natural_parameter(self, "p_at_work", q, UnitInterval())
        natural_parameter(self, "teleworkable_fraction_by_industry", r, UnitInterval())  # r [K]
        for old, name in FORMER_KEYS.items():
            renamed_parameter(self, old, f"parametrizations.{name}.original")
        self.incidence_reference_per_100k = float(incidence_reference_per_100k)
        self.industry_column = industry_column

    @torch.no_grad()
    def extra_repr(self) -> str:
        return (f"p_isolate_baseline={float(self.p_isolate_baseline):.3g}, "
                f"p_isolate_if_symptomatic={float(self.p_isolate_if_symptomatic):.3g}, "
                f"isolate_logit_per_log_incidence={float(self.isolate_logit_per_log_incidence):.3g}, "
                f"incidence_reference_per_100k={self.incidence_reference_per_100k:g}, "
                f"isolate_logit_per_growth={float(self.isolate_logit_per_growth):.3g}, "
                f"p_at_work={float(self.p_at_work):.3g}, "
                f"industries={self.teleworkable_fraction_by_industry.numel()}")

    def probabilities(self, decision: str, world: World, situation: Situation) -> Tensor:
        """[N, 2] (float32): rows (p_i, 1 - p_i) over `YES_NO` for `ISOLATE` or `GO_TO_WORK`; p_i from
        `probability_of_yes`."""
        return yes_no(self.probability_of_yes(decision, world, situation))

    def probability_of_yes(self, decision: str, world: World, situation: Situation) -> Tensor:
        """p [N] (float32) of "yes" to `ISOLATE` or `GO_TO_WORK`; see the module docstring for the formulas."""
        if decision == ISOLATE:
            s, incidence, growth = _features(decision, situation, ISOLATE_FEATURES)
            a_0, a_s = unconstrained(self, "p_isolate_baseline"), unconstrained(self, "p_isolate_if_symptomatic")
            logit = (a_0 + (a_s - a_0) * s
                     + self.isolate_logit_per_log_incidence * torch.log1p(incidence / self.incidence_reference_per_100k)
                     + self.isolate_logit_per_growth * growth)  # [N]
            return torch.sigmoid(logit)
        if decision == GO_TO_WORK:
            (w,) = _features(decision, situation, GO_TO_WORK_FEATURES)
            industry = world.agents[self.industry_column].long()  # [N]
            r = self.teleworkable_fraction_by_industry  # [K]
            known = industry < r.numel()
            r_agent = torch.where(known, r[industry.clamp(max=r.numel() - 1)], torch.zeros_like(w))  # [N]
            return self.p_at_work * (1 - w * r_agent)
        raise DecisionError(f"HeuristicDecisions makes no decision {decision!r} (it makes: "
                            f"{', '.join(self.decisions)})")


def _features(decision: str, situation: Situation, names: tuple[str, ...]) -> list[Tensor]:
    missing = [name for name in names if name not in situation]
    if missing:
        raise KeyError(f"the situation for {decision!r} has no feature(s) {missing} (it has: "
                       f"{', '.join(situation) or 'none'}); see populace.models.covid_nyc.decisions.SITUATION_FEATURES")
    values = [situation[name].to(torch.float32) if not situation[name].is_floating_point() else situation[name]
              for name in names]
    for name, value in zip(names, values, strict=True):
        if not bool(torch.isfinite(value.detach()).all()):
            raise ValueError(f"situation feature {name!r} for {decision!r} has NaN or infinite values")
    if "incidence_per_100k" in names and not bool((values[names.index("incidence_per_100k")].detach() >= 0).all()):
        raise ValueError("situation feature 'incidence_per_100k' must be >= 0 (cases per 100,000)")
    if "work_from_home_fraction" in names:
        w = values[names.index("work_from_home_fraction")].detach()
        if not bool(((w >= 0) & (w <= 1)).all()):
            raise ValueError("situation feature 'work_from_home_fraction' must lie in [0, 1]")
    return values
