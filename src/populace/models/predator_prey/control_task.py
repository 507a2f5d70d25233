r"""The predator-prey control task and its methods: steer the lattice's prey and predators to target levels by
removing predators, at a low cost of control (`populace control predator-prey`, docs/control.md).

Task: `PredatorPrey` on a side x side torus (default 40 x 40, predator death d = 0.1 per step: without control
the populations swing through a predator outbreak that nearly wipes out the prey, then keep fluctuating); the
control r(t) in [0, r_max] is an extra hazard of predator death per step (`predator_removal`); the objective is
`populace.control.Objective` with targets prey 0.4, predators 0.2 (fractions of sites), scale 0.1 and
control weight lambda: J = tracking + lambda x control over T steps.

Methods, each tuned on training seeds and scored on the held-out seeds (`HELD_OUT_SEEDS`):

| method | what is tuned | how |
|---|---|---|
| neural network (gradient) | a `Controller` of (t / T, prey, predators) | Adam through the differentiable ABM (`fit`) |
| neural network (ES) | the same network, same start | (1+1)-ES with as many simulator runs |
| constant (grid) | one level r | grid of levels, mean J over the grid seeds |
| bang-bang (grid) | r switching between 0 and r_max | grid of periods and durations |
| mean-field optimum | r(t) per step | direct optimal control of the mean-field map |
| no control | nothing | r = 0 |
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from torch import nn

from populace.calibrate import FitSettings, iteration_seeds
from populace.control import (
    Controller,
    ControlProblem,
    ControlVariable,
    MethodResult,
    Objective,
    Schedule,
    bang_bang_schedules,
    constant_schedules,
    evolution_method,
    fixed_method,
    gradient_method,
    grid_method,
)
from populace.models.predator_prey.mean_field import optimal_schedule
from populace.models.predator_prey.model import REMOVAL, PredatorPrey

OBSERVED = ("prey", "predators")
BANG_BANG_PERIODS = (2, 3, 4, 5, 6, 10, 20)
"""Cycle lengths of the bang-bang grid (the whole run, a single switch, is added)."""


@dataclasses.dataclass(frozen=True)
class PredatorPreyTask:
    """The task's settings (module docstring)."""

    side: int = 40
    steps: int = 60
    p_predator_death: float = 0.1
    target_prey: float = 0.4
    target_predators: float = 0.2
    max_removal: float = 1.0
    control_weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.max_removal > 0:
            raise ValueError(f"max_removal must be > 0 (the largest removal hazard per step), got {self.max_removal}")
        for name in ("target_prey", "target_predators"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a fraction of the sites in [0, 1], got {getattr(self, name)}")

    @property
    def variable(self) -> ControlVariable:
        return ControlVariable(REMOVAL, 0.0, self.max_removal, unit="hazard per step")

    @property
    def objective(self) -> Objective:
        return Objective({"prey": self.target_prey, "predators": self.target_predators}, scale=0.1,
                         control_weight=self.control_weight)

    def model(self) -> PredatorPrey:
        return PredatorPrey.lattice(self.side, p_predator_death=self.p_predator_death)

    def problem(self, policy: nn.Module) -> ControlProblem:
        return ControlProblem(self.model(), policy, self.objective, steps=self.steps)

    def controller(self, seed: int = 0) -> Controller:
        """The network both trained methods start from: 2 tanh layers of 16, starting at r = 0.3 r_max."""
        return Controller([self.variable], OBSERVED, scale=[0.3, 0.3], hidden=16, depth=2, initial=0.3, seed=seed)


def tune_methods(task: PredatorPreyTask, settings: FitSettings, *, out: Path | None = None, resume: bool = False,
                 grid_seeds: int = 4, constant_levels: int = 21,
                 progress: bool | None = None) -> dict[str, MethodResult]:
    """Every method of the module docstring, tuned (the gradient fit checkpoints to `out/training` and resumes)."""
    seeds = iteration_seeds(settings.seed, 0, grid_seeds)
    variables = [task.variable]
    grid_problem = task.problem(Schedule.constant(variables, [0.0]))
    started = time.perf_counter()
    mean_field, _ = optimal_schedule(task.model(), task.variable, task.objective, task.steps)
    mean_field_seconds = time.perf_counter() - started
    return {
        "neural network (gradient)": gradient_method(task.problem(task.controller(settings.seed)), settings,
                                                     out=None if out is None else out / "training", resume=resume,
                                                     progress=progress),
        "neural network (ES)": evolution_method(task.problem(task.controller(settings.seed)), settings, sigma=0.3),
        "constant (grid)": grid_method(grid_problem, constant_schedules(variables, constant_levels), seeds),
        "bang-bang (grid)": grid_method(grid_problem, bang_bang_schedules(variables, task.steps,
                                                                          [*BANG_BANG_PERIODS, task.steps]), seeds),
        "mean-field optimum": fixed_method(mean_field, seconds=mean_field_seconds),
        "no control": fixed_method(Schedule.constant(variables, [0.0])),
    }
