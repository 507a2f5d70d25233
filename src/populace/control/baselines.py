r"""Baselines of a trained controller, each tuned on the same training seeds with the simulator in fast mode:

- `constant_schedules`: the same controls all along, on a grid of levels per control;
- `bang_bang_schedules`: one control switching between its bounds, a number of steps high in every cycle of a
  period, on a grid of periods and durations (a single switch is the period of the whole run);
- `grid_search`: the policy of a grid with the lowest mean objective over the seeds.

The gradient-free optimiser on the controller's own weights is `populace.calibrate.evolution_strategy` on the
`ControlProblem` (a (1+1)-ES with the one-fifth rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from populace.control.controller import ControlVariable, Schedule
from populace.control.problem import ControlProblem, evaluate


def constant_schedules(variables: Sequence[ControlVariable], levels: int | Sequence[int]) -> dict[str, Schedule]:
    """Every combination of `levels` evenly spaced values in each control's [low, high] (one number for every
    control, or one per control), labelled by the values."""
    per_control = [levels] * len(variables) if isinstance(levels, int) else list(levels)
    if len(per_control) != len(variables) or any(n < 2 for n in per_control):
        raise ValueError(f"levels must be >= 2 (the grid includes both bounds), one number or one per control "
                         f"({len(variables)}), got {levels}")
    grids = [torch.linspace(v.low, v.high, n).tolist() for v, n in zip(variables, per_control, strict=True)]
    combos = torch.cartesian_prod(*[torch.tensor(g) for g in grids]).reshape(-1, len(variables))
    return {", ".join(f"{v.name}={float(x):.4g}" for v, x in zip(variables, row, strict=True)):
            Schedule.constant(variables, row.tolist()) for row in combos}


def bang_bang_schedules(variables: Sequence[ControlVariable], steps: int, periods: Sequence[int], *,
                        max_on: int = 9) -> dict[str, Schedule]:
    """For each control and each period P of `periods`: the control at its upper bound for `on` steps of every P
    (the first `on`, or the last), at its lower bound for the rest (the other controls at their lower bounds), for
    up to `max_on` evenly spaced `on` in 1..P-1. P = `steps` is a single switch (high then low, or low then high).
    Step-by-step schedules, labelled "name high k % P < on" or "name high k % P >= P - on"."""
    if any(p < 2 for p in periods):
        raise ValueError(f"periods must be >= 2 steps (one high, one low at least), got {list(periods)}")
    low = torch.tensor([v.low for v in variables])
    k = torch.arange(steps)
    out = {}
    for c, v in enumerate(variables):
        for period in dict.fromkeys(int(p) for p in periods):
            choices = range(1, period)
            ons = sorted({choices[round(i * (len(choices) - 1) / max(max_on - 1, 1))] for i in range(max_on)}
                         if len(choices) > max_on else choices)
            for on in ons:
                for first, high in ((True, k % period < on), (False, k % period >= period - on)):
                    values = low.repeat(steps, 1)
                    values[high, c] = v.high
                    rule = f"< {on}" if first else f">= {period - on}"
                    label = f"{v.name} high k % {period} {rule}"
                    out[label] = Schedule(variables, values)
    return out


def grid_search(problem: ControlProblem, policies: Mapping[str, nn.Module],
                seeds: Iterable[int]) -> tuple[str, pd.DataFrame]:
    """The label of the policy with the lowest mean objective over `seeds`, and the table of every policy's
    means (policy, each term of the objective, objective), best first."""
    seeds = list(seeds)
    if not policies:
        raise ValueError("grid_search needs at least one policy")
    rows = []
    for label, policy in policies.items():
        scores = evaluate(problem.with_policy(policy), seeds)
        rows.append({"policy": label, **scores.drop(columns="seed").mean().to_dict()})
    table = pd.DataFrame(rows).sort_values("objective", kind="stable", ignore_index=True)
    return str(table["policy"].iloc[0]), table
