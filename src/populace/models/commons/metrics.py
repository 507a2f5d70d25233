r"""GovSim's metrics, per group (each group is one run of the game), from a `Commons` trajectory.

With h(t) the pool after month t's harvest (h(0) = h0), T months, R_i the units agent i caught over the run:

- survival time m = max{t in 0..T : h(t) > C}, C = `collapse_below` (the strict inequality as published: a pool
  left at exactly C survives the month but does not count);
- survived = 1[m = T]; the survival rate is its mean over groups;
- gain R_i per agent (units, one unit of money each);
- efficiency u = 1 - max(0, T f0 - sum_t sum_i c_i(t)) / (T f0), f0 the group's sustainable catch of a full pool
  (GovSim: 50);
- equality 1 - Gini(R) over the group's seats, Gini(R) = sum_i sum_j |R_i - R_j| / (2 n^2 mean(R)) (1 when
  nobody caught anything);
- over-usage: the share of the group's positive catches that exceed the month's sustainable share f (0 when the
  group caught nothing).
"""

from __future__ import annotations

import torch
from torch import Tensor

from populace.core.trajectory import Trajectory
from populace.models.commons.rules import CommonsRules

GOVSIM_F0 = 50.0
"""f0: the sustainable catch of a group of a full GovSim pool, floor(100 / 2), units per month."""

GROUP_METRICS = ("survival_months", "survived", "gain_per_agent", "efficiency", "equality", "over_usage")
"""The per-group metrics `group_metrics` returns, in this order."""


def survival_time(after_harvest: Tensor, collapse_below: float) -> Tensor:
    """m [G] = max{t : h(t) > C} from h(t) [T + 1, G] (row 0: h0); 0 when no h(t) is above C."""
    months = torch.arange(after_harvest.shape[0], device=after_harvest.device).unsqueeze(1)
    return (months * (after_harvest > collapse_below)).amax(dim=0)


def efficiency(total_catch: Tensor, months: int, f0: float = GOVSIM_F0) -> Tensor:
    """u [G] = 1 - max(0, T f0 - total) / (T f0) for each group's total catch [G]."""
    target = months * f0
    return 1 - torch.clamp(target - total_catch, min=0) / target


def equality(gain: Tensor) -> Tensor:
    """1 - Gini [G] of the gains R [G, S] within each group (1 where all are 0)."""
    n = gain.shape[1]
    spread = (gain.unsqueeze(2) - gain.unsqueeze(1)).abs().sum(dim=(1, 2))
    total = gain.sum(dim=1)
    gini = torch.where(total > 0, spread / (2 * n * total.clamp(min=1e-12)), torch.zeros_like(total))
    return 1 - gini


def over_usage(over_catches: Tensor, positive_catches: Tensor) -> Tensor:
    """[G]: catches above f over positive catches, both summed over the run (0 when there were none)."""
    return torch.where(positive_catches > 0, over_catches / positive_catches.clamp(min=1),
                       torch.zeros_like(positive_catches))


def group_metrics(trajectory: Trajectory, rules: CommonsRules, f0: float = GOVSIM_F0) -> dict[str, Tensor]:
    """The `GROUP_METRICS`, each [G] float64, of a finished `Commons` run (its trajectory records every month)."""
    world = trajectory.final_world
    if world is None or len(trajectory) != rules.months + 1:
        raise ValueError(f"group_metrics needs a finished run of {rules.months} months recorded every month "
                         f"(model.run({rules.months}, ...)), got {len(trajectory)} records")
    gain = world.agents.gain.reshape(-1, rules.seats).to(torch.float64)
    m = survival_time(trajectory["after_harvest"].to(torch.float64), rules.collapse_below)
    return {
        "survival_months": m.to(torch.float64),
        "survived": (m == rules.months).to(torch.float64),
        "gain_per_agent": gain.mean(dim=1),
        "efficiency": efficiency(trajectory["harvest"].to(torch.float64)[1:].sum(dim=0), rules.months, f0),
        "equality": equality(gain),
        "over_usage": over_usage(trajectory["over_catches"].to(torch.float64)[1:].sum(dim=0),
                                 trajectory["positive_catches"].to(torch.float64)[1:].sum(dim=0)),
    }
