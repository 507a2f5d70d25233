"""Iterative proportional fitting (IPF) of a seed table to marginal tables, and integer rounding that keeps totals.

IPF (Deming & Stephan 1940) rescales a non-negative seed table x[d_0, ..., d_{k-1}] so that its sums over chosen
axes match target margins, one margin at a time:

    x <- x * target_m / (sum of x over the axes not in m)      for each margin m, repeated until all match.

When the targets are consistent and reachable from the seed's support it converges to the table closest to the
seed in Kullback-Leibler divergence among those with the target margins (Ireland & Kullback 1968). Zones are
just another axis: a seed [zones, age, sex] with margins (zones, age) and (zones, sex) fits every zone at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import Tensor

from populace.core import rng


@dataclasses.dataclass(frozen=True)
class Margin:
    """A target table: `target` holds the sums of the fitted table over every axis not in `axes`.

    `axes` are positions in the seed table, in increasing order; `target` has the seed's sizes on those axes.
    """

    axes: tuple[int, ...]
    target: Tensor
    name: str = ""

    def label(self) -> str:
        return self.name or f"margin over axes {self.axes}"


@dataclasses.dataclass(frozen=True)
class IPFResult:
    """The fitted table, the sweeps it took and the largest remaining margin error (relative to the total)."""

    table: Tensor
    iterations: int
    max_relative_error: float
    converged: bool


def ipf(seed: Tensor, margins: Sequence[Margin], *, tolerance: float = 1e-8, max_iterations: int = 1000,
        strict: bool = True) -> IPFResult:
    """Fit `seed` (non-negative, float64 recommended) to `margins`; see the module docstring for the algorithm.

    The error after each sweep is max over margins and cells of |fitted - target| / total. With `strict`,
    a fit that has not converged after `max_iterations` sweeps raises, naming the margin that is off and why
    (usually a target cell > 0 where the seed has no support, or margins with different totals).
    """
    table = _check_seed(seed)
    checked = [_check_margin(table, m) for m in margins]
    if not checked:
        raise ValueError("ipf needs at least one margin to fit")
    _check_consistent_totals(checked)
    total = float(checked[0].target.sum())
    error = float("inf")
    for iteration in range(1, max_iterations + 1):
        for margin in checked:
            table = table * _factor(table, margin)
        error = max(_margin_error(table, m) for m in checked) / max(total, 1e-300)
        if error <= tolerance:
            return IPFResult(table, iteration, error, True)
    if strict:
        worst = max(checked, key=lambda m: _margin_error(table, m))
        raise ValueError(
            f"IPF did not converge in {max_iterations} sweeps: {worst.label()} is off by {error:.2e} of the total. "
            "A target cell > 0 whose seed cells are all 0 cannot be reached: give the seed some weight there "
            "(e.g. seed + 1e-6) or fix the target; or pass a larger max_iterations"
        )
    return IPFResult(table, max_iterations, error, False)


def integerize(table: Tensor, *, seed: int, zone_axes: int = 0) -> Tensor:
    """Round a fitted table to int64 counts, unbiased cell by cell, keeping each zone's total (rounded to whole).

    Each zone is first rescaled to its rounded total. Each cell keeps floor(x); the remainder R = total - sum floor(x)
    goes to R cells drawn by systematic sampling (Madow 1949) in a random cell order, with inclusion probability
    equal to each cell's fractional part: so E[count] = x for every cell, no cell moves by more than one, and the
    zone total is exact. The first `zone_axes` axes index zones; draws come from the counter-based RNG (`seed`).
    """
    if table.is_complex() or not table.is_floating_point():
        raise TypeError(f"table must be floating point, got {table.dtype}")
    if bool((table < 0).any()) or not bool(torch.isfinite(table).all()):
        raise ValueError("table must hold finite, non-negative counts")
    if not 0 <= zone_axes < table.dim():
        raise ValueError(f"zone_axes must be in [0, {table.dim()}), got {zone_axes}")
    n_zones = int(torch.tensor(table.shape[:zone_axes]).prod()) if zone_axes else 1
    flat = table.reshape(n_zones, -1).to(torch.float64)  # [Z, cells]
    total = flat.sum(-1, keepdim=True)
    flat = torch.where(total > 0, flat * (torch.round(total) / total.clamp_min(1e-300)), flat)
    whole = torch.floor(flat)
    fraction = (flat - whole).clamp(0, 1)
    cell_ids = torch.arange(flat.numel(), dtype=torch.int64)
    order = torch.argsort(rng.uniform(seed, 0, "integerize.order", cell_ids, dtype=torch.float64)
                          .reshape(flat.shape), dim=-1)
    cumulative = torch.cumsum(torch.gather(fraction, -1, order), dim=-1)  # [Z, cells], ends at R
    start = rng.uniform(seed, 0, "integerize.start", torch.arange(n_zones), dtype=torch.float64).unsqueeze(-1)
    points_below = torch.ceil(cumulative - start).clamp_min(0)  # sampling points u, u+1, ... below each cut
    picked = torch.diff(points_below, dim=-1, prepend=torch.zeros_like(start))
    bump = torch.zeros_like(flat).scatter_(-1, order, picked)
    return (whole + bump).long().reshape(table.shape)


def _check_seed(seed: Tensor) -> Tensor:
    if not isinstance(seed, Tensor) or not seed.is_floating_point():
        raise TypeError(f"seed must be a floating-point tensor, got {getattr(seed, 'dtype', type(seed).__name__)}")
    if not bool(torch.isfinite(seed).all()) or bool((seed < 0).any()):
        raise ValueError("seed must hold finite, non-negative weights")
    return seed


def _check_margin(seed: Tensor, margin: Margin) -> Margin:
    axes = tuple(margin.axes)
    if list(axes) != sorted(set(axes)) or any(not 0 <= a < seed.dim() for a in axes):
        raise ValueError(f"{margin.label()}: axes must be increasing positions in [0, {seed.dim()}), got {axes}")
    expected = tuple(seed.shape[a] for a in axes)
    target = margin.target.to(seed.dtype)
    if tuple(target.shape) != expected:
        raise ValueError(f"{margin.label()}: target has shape {tuple(target.shape)}, expected {expected} "
                         f"(the seed's sizes on axes {axes})")
    if not bool(torch.isfinite(target).all()) or bool((target < 0).any()):
        bad = int((~torch.isfinite(target) | (target < 0)).sum())
        raise ValueError(f"{margin.label()}: target has {bad} negative or non-finite counts")
    return Margin(axes, target, margin.name)


def _check_consistent_totals(margins: Sequence[Margin]) -> None:
    """Margins must agree on every total they share: the grand total, and sums over common axes."""
    for i, a in enumerate(margins):
        for b in margins[i + 1:]:
            common = tuple(sorted(set(a.axes) & set(b.axes)))
            sum_a = a.target.sum(dim=tuple(k for k, ax in enumerate(a.axes) if ax not in common))
            sum_b = b.target.sum(dim=tuple(k for k, ax in enumerate(b.axes) if ax not in common))
            scale = max(float(sum_a.abs().max()), 1.0)
            if float((sum_a - sum_b).abs().max()) > 1e-6 * scale:
                where = f"over axes {common}" if common else "in total"
                raise ValueError(f"{a.label()} and {b.label()} disagree {where}: {float(sum_a.sum()):,.1f} vs "
                                 f"{float(sum_b.sum()):,.1f}. Rescale one of them to the other's totals first")


def _current(table: Tensor, margin: Margin) -> Tensor:
    other = tuple(a for a in range(table.dim()) if a not in margin.axes)
    return table.sum(dim=other) if other else table


def _factor(table: Tensor, margin: Margin) -> Tensor:
    current = _current(table, margin)
    factor = torch.where(current > 0, margin.target / current.clamp_min(1e-300), torch.zeros_like(current))
    shape = [table.shape[a] if a in margin.axes else 1 for a in range(table.dim())]
    return factor.reshape(shape)


def _margin_error(table: Tensor, margin: Margin) -> float:
    return float((_current(table, margin) - margin.target).abs().max())
