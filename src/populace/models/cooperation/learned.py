r"""Donation fractions learned by gradient through the game: the strategy table's theta trained for the societies'
total resources (`populace.calibrate.fit` on a `DonationTraining` problem).

`DonationTraining` is a `populace.calibrate.CalibrationProblem`: one differentiable generation (`rules.rounds`
steps, no selection) of `n_societies` societies whose agents use a trainable `StrategyTable` (clamps, indicator
and punishment floor smooth at `temperature`, `populace.models.cooperation.relaxed`), with the one loss term

    resources = - mean_i R_i / R0        (minus the mean final resources per agent, in units of the start)

so with a multiplier m > 1 the fit drives every donor toward giving all it has: a society's total grows by
(m - 1) x each gift, and the game has no other effect on it. This is the society's optimum; the evolutionary
runs (`Cooperation` over generations) select on each agent's own resources instead. The relaxed run has no random
draws (the initial assignment aside, fixed by `assignment`), so the seed does not change it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import Tensor, nn

from populace.calibrate import FitSettings, fit
from populace.models.cooperation.model import Cooperation
from populace.models.cooperation.rules import DonorGameRules
from populace.models.cooperation.strategies import Strategy, StrategyTable


class DonationTraining(nn.Module):
    """The `CalibrationProblem` of learned donation fractions (module docstring).

    Args:
        strategies: the table to train (its theta must require gradients: `StrategyTable(..., trainable=True)`).
        rules: the game (default: the published one); one generation of it is played.
        n_societies: S; assignment: strategy id per agent ([S n]; default: seat i of each society uses strategy
            i mod K, so every strategy plays).
        temperature: tau of the smooth clamps; dtype: float dtype of the state.
    """

    def __init__(self, strategies: StrategyTable, rules: DonorGameRules | None = None, *, n_societies: int = 1,
                 assignment: Tensor | None = None, temperature: float = 0.05, dtype: torch.dtype = torch.float32):
        super().__init__()
        if not strategies.theta.requires_grad:
            raise ValueError("strategies.theta does not require gradients: build the table with "
                             "StrategyTable(..., trainable=True)")
        rules = rules or DonorGameRules()
        if assignment is None:
            seats = torch.arange(rules.agents_per_society) % len(strategies)
            assignment = seats.repeat(n_societies)
        self.strategies = strategies
        self.rules = rules
        self.model = Cooperation(n_societies, strategies, rules, assignment=assignment, temperature=temperature,
                                 dtype=dtype)

    @property
    def loss_weights(self) -> Mapping[str, float]:
        return {"resources": 1.0}

    def loss_terms(self, seed: int, *, differentiable: bool = True) -> Mapping[str, Tensor]:
        final = self.model.run(self.rules.rounds, seed=seed, differentiable=differentiable, progress=False)
        return {"resources": -final.final_world.agents.resources.mean() / self.rules.initial_resources}


def train_donations(strategies: Sequence[Strategy] | None = None, rules: DonorGameRules | None = None, *,
                    iterations: int = 60, learning_rate: float = 0.05, n_societies: int = 1,
                    seed: int = 0) -> tuple[StrategyTable, pd.DataFrame]:
    """A `StrategyTable` of `strategies` (default: `default_strategies()`) trained by `populace.calibrate.fit`
    (Adam) on `DonationTraining`; returns it and the fit's history (one row per iteration: loss, resources, ...)."""
    table = StrategyTable(strategies, trainable=True)
    problem = DonationTraining(table, rules, n_societies=n_societies)
    history = fit(problem, FitSettings(iterations=iterations, learning_rate=learning_rate, seed=seed,
                                       checkpoint_every=iterations), progress=False)
    return table, history
