"""How good is a gradient? Each estimator against the central finite difference over many seeds, with its cost.

For one model, loss and direction in parameter space, `compare_estimators` measures per seed

- "finite difference": (loss(theta + h v) - loss(theta - h v)) / 2h with common random numbers (the same seed on
  both sides), the reference: unbiased up to O(h^2) curvature, noisy where a small change flips discrete outcomes;
- "straight-through": the gradient of a differentiable run (the draws' surrogates, `populace.sampling`) along v;
- "stochastic derivative": `stochastic_derivative` with `paths` alternative paths (unbiased),

and summarises each by its mean, standard error and spread over seeds, its bias against the finite difference
(the ratio of means, with a 95% interval from the paired per-seed differences) and its seconds per gradient.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import torch
from torch import Tensor

from populace.core.model import Model
from populace.gradients.stochastic import Loss, parameter_directions, stochastic_derivative

ESTIMATORS = ("finite difference", "straight-through", "stochastic derivative")


@dataclasses.dataclass(frozen=True)
class EstimatorFigures:
    """One estimator's per-seed estimates, summarised (`compare_estimators`)."""

    estimator: str
    estimates: tuple[float, ...]
    seconds_per_gradient: float
    reference: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.estimates)

    @property
    def sd(self) -> float:
        """The spread of one gradient over seeds (its noise in one training step)."""
        return statistics.stdev(self.estimates) if len(self.estimates) > 1 else math.nan

    @property
    def standard_error(self) -> float:
        return self.sd / math.sqrt(len(self.estimates))

    @property
    def ratio(self) -> float:
        """Mean estimate / mean finite difference (1 = unbiased)."""
        return self.mean / statistics.fmean(self.reference)

    @property
    def ratio_interval(self) -> tuple[float, float]:
        """95% interval of the ratio, from the paired per-seed differences to the finite difference."""
        differences = [e - r for e, r in zip(self.estimates, self.reference, strict=True)]
        half = 1.96 * statistics.stdev(differences) / math.sqrt(len(differences)) if len(differences) > 1 else math.nan
        scale = statistics.fmean(self.reference)
        bias = statistics.fmean(differences)
        return 1 + (bias - half) / scale, 1 + (bias + half) / scale


def compare_estimators(make_model: Callable[[], Model], loss: Loss, steps: int, *, seeds: Sequence[int],
                       wrt: str | Mapping[str, Tensor], h: float, paths: int = 8, step_exponent: float = 0.5,
                       estimators: Sequence[str] = ESTIMATORS) -> dict[str, EstimatorFigures]:
    """Per-seed estimates of d E[loss] / d theta along `wrt` by each estimator, summarised (module docstring).

    Args:
        make_model: builds the model at the point theta where the gradient is taken (called for every estimate).
        loss: the scalar loss of a trajectory; it must keep gradients in differentiable runs.
        steps: steps per run.
        seeds: the seeds; each estimator uses every one (common random numbers across estimators).
        wrt: the direction, as `stochastic_derivative` takes it.
        h: the finite difference's step along the direction.
        paths, step_exponent: the stochastic derivative's alternative paths and pruning (`stochastic_derivative`).
        estimators: which to run besides the finite difference (always run: it is the reference).
    """
    unknown = sorted(set(estimators) - set(ESTIMATORS))
    if unknown:
        raise ValueError(f"unknown estimator(s) {unknown}; choose from {list(ESTIMATORS)}")
    measures: dict[str, Callable[[int], float]] = {
        "finite difference": lambda seed: finite_difference(make_model, loss, steps, seed=seed, wrt=wrt, h=h),
        "straight-through": lambda seed: straight_through(make_model(), loss, steps, seed=seed, wrt=wrt),
        "stochastic derivative": lambda seed: stochastic_derivative(make_model(), loss, steps, seed=seed, wrt=wrt,
                                                                    paths=paths, step_exponent=step_exponent,
                                                                    progress=False).derivative,
    }
    chosen = ["finite difference", *[e for e in estimators if e != "finite difference"]]
    estimates: dict[str, list[float]] = {name: [] for name in chosen}
    seconds = dict.fromkeys(chosen, 0.0)
    for seed in seeds:
        for name in chosen:
            started = time.perf_counter()
            estimates[name].append(measures[name](seed))
            seconds[name] += time.perf_counter() - started
    reference = tuple(estimates["finite difference"])
    return {name: EstimatorFigures(name, tuple(values), seconds[name] / len(seeds), reference)
            for name, values in estimates.items()}


def finite_difference(make_model: Callable[[], Model], loss: Loss, steps: int, *, seed: int,
                      wrt: str | Mapping[str, Tensor], h: float) -> float:
    """(loss(theta + h v) - loss(theta - h v)) / 2h of two fast runs with the same seed."""
    sides = []
    for sign in (1, -1):
        model = make_model()
        with _shifted(model, parameter_directions(model, wrt), sign * h):
            sides.append(float(loss(model.run(steps, seed=seed, progress=False))))
    return (sides[0] - sides[1]) / (2 * h)


def straight_through(model: Model, loss: Loss, steps: int, *, seed: int, wrt: str | Mapping[str, Tensor]) -> float:
    """The gradient of one differentiable run's loss (the draws' straight-through surrogates), along `wrt`."""
    directions = parameter_directions(model, wrt)
    model.zero_grad()
    loss(model.run(steps, seed=seed, differentiable=True, progress=False)).backward()
    parameters = dict(model.named_parameters())
    return sum(float((parameters[name].grad * direction).sum()) for name, direction in directions.items()
               if parameters[name].grad is not None)


@contextlib.contextmanager
def _shifted(model: Model, directions: Mapping[str, Tensor], step: float) -> Iterator[None]:
    """The model's parameters moved by `step` along `directions` inside the block, restored after."""
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, direction in directions.items():
            parameters[name].add_(step * direction)
    try:
        yield
    finally:
        with torch.no_grad():
            for name, direction in directions.items():
                parameters[name].sub_(step * direction)
