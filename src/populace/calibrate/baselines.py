r"""Baselines for the gradient calibration: a gradient-free optimiser on the same simulator, and a naive forecast.

`evolution_strategy`: a (1+1) evolution strategy with the one-fifth success rule (Rechenberg 1973; Hansen N et al.
2015, "Evolution strategies", Springer Handbook of Computational Intelligence), on the same learned tensors as the
free gradient fit, flattened into one vector x. Each evaluation runs the simulator (fast mode) with the same seeds an
iteration of `fit` uses and averages the loss: a candidate x' = x + sigma z (z standard normal) replaces x when its
loss is not higher; sigma is multiplied by exp(1/3) after a success and by exp(-1/12) after a failure (the one-fifth
rule: sigma is stable when a fifth of the candidates succeed). A budget of B simulator runs gives B / k evaluations
(k seeds each), the first at the starting point. In 100-300 dimensions and a few dozen evaluations this is about what
any gradient-free method can do (Nelder-Mead needs d + 1 evaluations for its first simplex alone).

`naive_forecast`: persistence, the forecast to beat: each borough's last 7-day mean of cases (and deaths) of the
training window for every held-out day, and its last observed monthly unemployment rate for every held-out month.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from populace.calibrate.fit import iteration_seeds
from populace.calibrate.problem import Calibration
from populace.calibrate.targets import Targets, moving_average


@torch.no_grad()
def mean_loss(calibration: Calibration, seeds: list[int]) -> float:
    """The loss averaged over fast-mode runs with these seeds."""
    return sum(float(calibration.seed_loss(s, differentiable=False)[0]) for s in seeds) / len(seeds)


@torch.no_grad()
def evolution_strategy(calibration: Calibration, *, simulator_runs: int, seeds_per_evaluation: int = 1,
                       seed: int = 0, sigma: float = 0.1) -> list[dict[str, float]]:
    """Minimise the loss over `calibration.trainable()` with a (1+1)-ES (module docstring); leaves the best point in
    the calibration and returns the history: one row per evaluation (loss, best loss, sigma, accepted)."""
    if calibration.mode != "free":
        raise ValueError("the gradient-free baseline searches the free parameters; build the calibration with "
                         "mode='free'")
    if simulator_runs < seeds_per_evaluation:
        raise ValueError(f"simulator_runs ({simulator_runs}) must be at least seeds_per_evaluation "
                         f"({seeds_per_evaluation})")
    params = list(calibration.trainable().values())
    generator = torch.Generator().manual_seed(seed)
    best = parameters_to_vector(params).double()
    best_loss = mean_loss(calibration, iteration_seeds(seed, 0, seeds_per_evaluation))
    history = [{"evaluation": 0, "loss": best_loss, "best_loss": best_loss, "sigma": sigma, "accepted": 1.0}]
    for evaluation in range(1, simulator_runs // seeds_per_evaluation):
        candidate = best + sigma * torch.randn(best.shape, generator=generator, dtype=torch.float64)
        vector_to_parameters(candidate.float(), params)
        loss = mean_loss(calibration, iteration_seeds(seed, evaluation, seeds_per_evaluation))
        accepted = math.isfinite(loss) and loss <= best_loss
        if accepted:
            best, best_loss = candidate, loss
            sigma *= math.exp(1 / 3)
        else:
            sigma *= math.exp(-1 / 12)
        history.append({"evaluation": evaluation, "loss": loss, "best_loss": best_loss, "sigma": sigma,
                        "accepted": float(accepted)})
    vector_to_parameters(best.float(), params)
    return history


def naive_forecast(train: Targets, days: int, months: int) -> dict[str, Tensor]:
    """Persistence from the training window: `cases`, `deaths` [days, R] and `unemployment` [months, R]."""
    if not len(train.months):
        raise ValueError(f"the training window {train.window} has no unemployment month to persist")
    last = {name: moving_average(getattr(train, name))[-1] for name in ("cases", "deaths")}  # [R] each
    return {"cases": last["cases"].expand(days, -1), "deaths": last["deaths"].expand(days, -1),
            "unemployment": train.unemployment[-1].expand(months, -1)}
