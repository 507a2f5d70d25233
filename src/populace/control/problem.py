r"""`ControlProblem`: training a policy through the simulator is a `populace.calibrate.CalibrationProblem`.

Its trained tensors are the policy's (the model's own parameters are frozen), its loss terms the objective's
tracking and control terms of one seeded run of `steps` steps, so `populace.calibrate.fit` trains a `Controller`
by Adam on the gradient through the differentiable simulator, with checkpoints and exact resume, and
`populace.calibrate.evolution_strategy` searches the same weights without gradients. `evaluate` scores any policy
on held-out seeds in fast mode, `scored_runs` also tabulates its runs. `checkpoint_steps` bounds the memory of a
long differentiable run (`populace.run`).

    problem = ControlProblem(model, Controller(variables, ["prey", "predators"]), objective, steps=60)
    fit(problem, FitSettings(iterations=100, seeds_per_step=2), out="run", resume=True)
    evaluate(problem, HELD_OUT_SEEDS)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
import torch
from torch import Tensor, nn

from populace.control.controlled import Controlled
from populace.control.objective import ControlObjective
from populace.core.model import Model
from populace.core.trajectory import Trajectory

HELD_OUT_SEEDS = range(2_100_000_000, 2_100_000_020)
"""Evaluation seeds, none of them a seed that training draws: `populace.calibrate.iteration_seeds(s, i, j)` is
s x 1,000,003 + i x 7,919 + j, below 2,079,000,000 for run seeds s < 2,000, iterations i < 10,000 and j < 16."""


class ControlProblem(nn.Module):
    """Train `policy` to minimise `objective` on `model` over `steps` steps (module docstring)."""

    def __init__(self, model: Model, policy: nn.Module, objective: ControlObjective, *, steps: int,
                 checkpoint_steps: int | None = None):
        super().__init__()
        model.requires_grad_(False)
        self.controlled = Controlled(model, policy, horizon=steps)
        self.objective, self.steps, self.checkpoint_steps = objective, steps, checkpoint_steps

    @property
    def policy(self) -> nn.Module:
        return self.controlled.policy

    def with_policy(self, policy: nn.Module) -> ControlProblem:
        """The same model, objective and steps under another policy (the model is shared, not copied)."""
        return ControlProblem(self.controlled.model, policy, self.objective, steps=self.steps,
                              checkpoint_steps=self.checkpoint_steps)

    @property
    def loss_weights(self) -> Mapping[str, float]:
        return self.objective.weights

    def loss_terms(self, seed: int, *, differentiable: bool = True) -> Mapping[str, Tensor]:
        return self.terms(self.run(seed, differentiable=differentiable))

    def run(self, seed: int, *, differentiable: bool = False) -> Trajectory:
        """One controlled run of `steps` steps."""
        checkpoint = self.checkpoint_steps if differentiable else None
        return self.controlled.run(self.steps, seed=seed, differentiable=differentiable, progress=False,
                                   checkpoint_steps=checkpoint)

    def terms(self, trajectory: Trajectory) -> dict[str, Tensor]:
        """The objective's terms of a run."""
        return self.objective.terms({name: trajectory[name] for name in trajectory.names}, self.policy.variables)


@torch.no_grad()
def scored_runs(problem: ControlProblem, seeds: Iterable[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One fast run per seed: the scores (seed, each term of the objective, objective J) and the trajectories
    row by row (seed, step, then every observable: the model's and the controls)."""
    rows, frames = [], []
    for seed in seeds:
        trajectory = problem.run(seed)
        terms = problem.terms(trajectory)
        rows.append({"seed": seed, **{name: float(value) for name, value in terms.items()},
                     "objective": problem.objective.total(terms)})
        frame = trajectory.to_pandas()
        frame.insert(0, "seed", seed)
        frames.append(frame)
    return pd.DataFrame(rows), pd.concat(frames, ignore_index=True)


def evaluate(problem: ControlProblem, seeds: Iterable[int]) -> pd.DataFrame:
    """One fast run per seed: columns seed, each term of the objective (e.g. tracking, control), objective (J)."""
    return scored_runs(problem, seeds)[0]
