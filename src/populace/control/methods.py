r"""Tuning the methods a control task compares, each into a `MethodResult` (the policy, the simulator runs and
seconds its tuning took, what it recorded):

- `gradient_method`: a `Controller` trained by `populace.calibrate.fit` through the differentiable simulator
  (checkpoints in `out`, exact resume);
- `evolution_method`: the same network searched by `populace.calibrate.evolution_strategy` with as many simulator
  runs as the gradient fit (`FitSettings.iterations x seeds_per_step`);
- `grid_method`: the best of a grid of policies (`grid_search`);
- `fixed_method`: a policy taken as it is (no control, a schedule of real orders, an optimum computed elsewhere).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping

import pandas as pd
from torch import nn

from populace.calibrate import FitSettings, evolution_strategy, fit
from populace.control.baselines import grid_search
from populace.control.problem import ControlProblem


@dataclasses.dataclass
class MethodResult:
    """A tuned policy, the simulator runs its tuning took and its seconds, what the tuning recorded (a fit's or the
    ES's history, a grid's table) and, for a grid, the label of the policy chosen."""

    policy: nn.Module
    simulator_runs: int = 0
    seconds: float = 0.0
    record: pd.DataFrame | None = None
    chosen: str = ""


def gradient_method(problem: ControlProblem, settings: FitSettings, *, out: str | os.PathLike[str] | None = None,
                    resume: bool = False, progress: bool | None = None) -> MethodResult:
    """Train the problem's policy by `fit` (history in `record`)."""
    started = time.perf_counter()
    history = fit(problem, settings, out=out, resume=resume, progress=progress)
    return MethodResult(problem.policy, settings.iterations * settings.seeds_per_step, time.perf_counter() - started,
                        history)


def evolution_method(problem: ControlProblem, settings: FitSettings, *, sigma: float) -> MethodResult:
    """Search the problem's policy weights by the (1+1)-ES with the gradient fit's budget of runs and seeds."""
    started = time.perf_counter()
    runs = settings.iterations * settings.seeds_per_step
    history = evolution_strategy(problem, simulator_runs=runs, seeds_per_evaluation=settings.seeds_per_step,
                                 seed=settings.seed, sigma=sigma)
    return MethodResult(problem.policy, runs, time.perf_counter() - started, pd.DataFrame(history))


def grid_method(problem: ControlProblem, policies: Mapping[str, nn.Module], seeds: Iterable[int]) -> MethodResult:
    """The grid's best policy on `seeds` (the grid's table in `record`, the label in `chosen`)."""
    started = time.perf_counter()
    seeds = list(seeds)
    best, table = grid_search(problem, policies, seeds)
    return MethodResult(policies[best], len(policies) * len(seeds), time.perf_counter() - started, table, best)


def fixed_method(policy: nn.Module, *, seconds: float = 0.0) -> MethodResult:
    """A policy used as it is (`seconds`: what computing it took, if anything)."""
    return MethodResult(policy, 0, seconds)
