r"""Baselines for a gradient calibration: a gradient-free optimiser on the same simulator, and persistence.

`evolution_strategy`: a (1+1) evolution strategy with the one-fifth success rule (Rechenberg 1973; Hansen N et al.
2015, "Evolution strategies", Springer Handbook of Computational Intelligence), on the same trained tensors as the
gradient fit (`trainable`), flattened into one vector x. Each evaluation runs the problem (fast mode) with the same
seeds an iteration of `fit` uses and averages the loss: a candidate x' = x + sigma z (z standard normal) replaces x
when its loss is not higher; sigma is multiplied by exp(1/3) after a success and by exp(-1/12) after a failure (the
one-fifth rule: sigma is stable when a fifth of the candidates succeed). A budget of B simulator runs gives B / k
evaluations (k seeds each), the first at the starting point. In 100-300 dimensions and a few dozen evaluations this
is about what any gradient-free method can do (Nelder-Mead needs d + 1 evaluations for its first simplex alone).

`persistence`: the forecast to beat: for each held-out row of a series, its last training row
(s(t) = o(t_train_end) for every t past the training window).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from populace.calibrate.fit import iteration_seeds
from populace.calibrate.problem import CalibrationProblem, total_loss, trainable


@torch.no_grad()
def mean_loss(problem: CalibrationProblem, seeds: Iterable[int]) -> float:
    """The total loss averaged over fast-mode runs with these seeds."""
    seeds = list(seeds)
    return sum(float(total_loss(problem, problem.loss_terms(s, differentiable=False))) for s in seeds) / len(seeds)


@torch.no_grad()
def evolution_strategy(problem: CalibrationProblem, *, simulator_runs: int, seeds_per_evaluation: int = 1,
                       seed: int = 0, sigma: float = 0.1) -> list[dict[str, float]]:
    """Minimise the loss over `trainable(problem)` with a (1+1)-ES (module docstring); leaves the best point in the
    problem and returns the history: one row per evaluation (loss, best loss, sigma, accepted)."""
    if simulator_runs < seeds_per_evaluation:
        raise ValueError(f"simulator_runs ({simulator_runs}) must be at least seeds_per_evaluation "
                         f"({seeds_per_evaluation})")
    params = list(trainable(problem).values())
    dtype = params[0].dtype
    generator = torch.Generator().manual_seed(seed)
    best = parameters_to_vector(params).double()
    best_loss = mean_loss(problem, iteration_seeds(seed, 0, seeds_per_evaluation))
    history = [{"evaluation": 0, "loss": best_loss, "best_loss": best_loss, "sigma": sigma, "accepted": 1.0}]
    for evaluation in range(1, simulator_runs // seeds_per_evaluation):
        candidate = best + sigma * torch.randn(best.shape, generator=generator, dtype=torch.float64)
        vector_to_parameters(candidate.to(dtype), params)
        loss = mean_loss(problem, iteration_seeds(seed, evaluation, seeds_per_evaluation))
        accepted = math.isfinite(loss) and loss <= best_loss
        if accepted:
            best, best_loss = candidate, loss
            sigma *= math.exp(1 / 3)
        else:
            sigma *= math.exp(-1 / 12)
        history.append({"evaluation": evaluation, "loss": loss, "best_loss": best_loss, "sigma": sigma,
                        "accepted": float(accepted)})
    vector_to_parameters(best.to(dtype), params)
    return history


def persistence(train: Mapping[str, Tensor], rows: Mapping[str, int]) -> dict[str, Tensor]:
    """Each series' last training row [..] repeated for its `rows[name]` held-out rows: [rows, ...]."""
    out = {}
    for name, n in rows.items():
        series = train[name]
        if series.shape[0] == 0:
            raise ValueError(f"series {name!r} has no training row to persist")
        out[name] = series[-1].expand(n, *series.shape[1:])
    return out
