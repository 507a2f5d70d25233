r"""The behaviour interface: a `DecisionModel` gives, per agent, the probability of "yes" to a named decision.

A decision (`ISOLATE`, `GO_TO_WORK`, or any other name a model knows) is asked of every agent at once. The caller
(a model's behaviour substep) passes the world, for the agents' fixed attributes (age, region, industry, ...), and
the *situation*: named per-agent features of what the agent sees this time ([N] tensors, e.g. its symptoms and its
region's recent cases; `SITUATION_FEATURES` lists the standard ones). The decision model returns p [N] in [0, 1];
`decide` checks it and draws x_i = 1[u_i < p_i] with u_i from the engine's counter-based RNG, keyed on (seed, step,
"decision/<name>", agent id), so the same seed gives the same decisions in any agent order and in both modes:

- fast: x bool [N], no autograd graph;
- differentiable: x float [N] with the same values and the straight-through gradient dx/dp = 1
  (`populace.sampling.bernoulli`), so gradients reach the decision model's parameters.

Implementations: `HeuristicDecisions` (`populace.behavior.heuristic`); the LLM archetype backend plugs in the same
way (an `nn.Module` with `decisions` and `probability`). Decisions are made weekly by convention: `is_decision_day`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from populace import sampling
from populace.core.world import World

ISOLATE = "isolate"
"""Stay home, away from work, school and most community contacts, this week."""
GO_TO_WORK = "go_to_work"
"""Go to the workplace this week (asked of employed agents who do not isolate)."""

SITUATION_FEATURES = {
    "is_symptomatic": "1 if the agent has symptoms today, else 0",
    "incidence_per_100k": "new symptomatic cases in the agent's region over the last 7 days, per 100,000 residents",
    "case_growth": "log((cases of the last 7 days + 1) / (cases of the 7 days before + 1)) in the agent's region",
    "work_from_home_fraction": "share of teleworkable workers that the orders in force send home, in [0, 1]",
}
"""The standard situation features: name -> meaning. Every feature is a float or bool tensor [N]."""

DAYS_PER_WEEK = 7

Situation = Mapping[str, Tensor]
"""Feature name -> per-agent values [N] (float or bool)."""


class DecisionError(ValueError):
    """A decision model was asked something it cannot answer, or answered with a bad probability tensor."""


@runtime_checkable
class DecisionModel(Protocol):
    """What a behaviour backend provides: the probability of "yes" per agent for each decision it knows.

    Attributes:
        decisions: names of the decisions it answers, e.g. ("isolate", "go_to_work").
    """

    decisions: tuple[str, ...]

    def probability(self, decision: str, world: World, situation: Situation) -> Tensor:
        """p [N] in [0, 1], float: the probability that each agent answers yes to `decision` in `situation`."""
        ...


def is_decision_day(step: int, *, day_of_week: int = 0) -> bool:
    """True on the steps t with t % 7 == day_of_week, when weekly decisions are made (day 0 by default)."""
    return step % DAYS_PER_WEEK == day_of_week


def decision_stream(decision: str) -> str:
    """The counter-based RNG stream of a decision's draws."""
    return f"decision/{decision}"


def check_situation(situation: Situation, n_agents: int) -> None:
    """Refuse a situation unless it maps names to float or bool tensors of shape [N]."""
    if not isinstance(situation, Mapping):
        raise TypeError(f"situation must be a mapping of feature name -> [N] tensor, got {type(situation).__name__}")
    for name, value in situation.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"situation feature {name!r} must be a tensor of shape [{n_agents}], got "
                            f"{type(value).__name__}")
        if value.shape != (n_agents,):
            raise ValueError(f"situation feature {name!r} must have shape [{n_agents}] (one value per agent), got "
                             f"{list(value.shape)}; broadcast a shared value with value.expand({n_agents})")
        if not (value.is_floating_point() or value.dtype == torch.bool):
            raise TypeError(f"situation feature {name!r} must be float or bool, got {value.dtype}")


def check_probability(decision: str, p: object, n_agents: int) -> Tensor:
    """p itself when it is a float tensor [N] with every value in [0, 1]; a `DecisionError` naming the fix if not."""
    if not isinstance(p, Tensor) or not p.is_floating_point():
        what = p.dtype if isinstance(p, Tensor) else type(p).__name__
        raise DecisionError(f"the probability of {decision!r} must be a float tensor [{n_agents}], got {what}")
    if p.shape != (n_agents,):
        raise DecisionError(f"the probability of {decision!r} must have shape [{n_agents}] (one per agent), got "
                            f"{list(p.shape)}")
    ok = (p >= 0) & (p <= 1)  # False for NaN
    if not bool(ok.all()):
        bad = p.detach()[~ok]
        raise DecisionError(f"the probability of {decision!r} must lie in [0, 1]; {bad.numel()} of {n_agents} values "
                            f"do not, e.g. {bad[:3].tolist()}. Build it with torch.sigmoid(logit)")
    return p


def decide(model: DecisionModel, decision: str, world: World, situation: Situation) -> Tensor:
    """Ask `model` for p [N] and draw each agent's answer: bool [N] (fast) or straight-through float [N].

    Raises:
        DecisionError: the model does not know `decision`, or returns a bad probability tensor.
        TypeError, ValueError: a situation feature is not a float or bool tensor [N].
    """
    if decision not in model.decisions:
        raise DecisionError(f"{type(model).__name__} does not make the decision {decision!r} (it makes: "
                            f"{', '.join(model.decisions)})")
    n = world.agents.n
    check_situation(situation, n)
    p = check_probability(decision, model.probability(decision, world, situation), n)
    u = world.uniform(decision_stream(decision)).to(p.dtype)  # [N]
    return sampling.bernoulli(p, u, straight_through=world.differentiable, validate=False)
