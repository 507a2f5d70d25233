"""Synthesis of persons from marginal tables per zone and a joint seed table per region (any place).

Input format ("zones x categories"): for each attribute, a table of counts with one row per zone and one column per
category (a pandas DataFrame or a tensor [Z, C]); a seed table of joint counts [R, C_1, ..., C_k] per region over
the same attributes, in the same order; and the region of each zone. For every zone, IPF fits the region's seed
(plus a small floor, so categories absent from the seed stay reachable) to the zone's margins; the fit is then
rounded to whole persons per cell keeping each zone's total (`integerize`) and expanded to one row per person.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import Tensor

from populace.core import rng
from populace.population.groups import order_within_groups
from populace.population.ipf import Margin, integerize, ipf

SEED_FLOOR = 1e-3
"""Added to every seed cell, as a fraction of the seed's mean cell, so no cell the margins need is impossible."""


@dataclasses.dataclass(frozen=True)
class PersonCounts:
    """Integer persons per zone and joint category: `counts[z, c_1, ..., c_k]`, with the attribute names."""

    counts: Tensor
    attributes: tuple[str, ...]
    fitted: Tensor  # the real-valued IPF fit, before rounding

    def expand(self) -> dict[str, Tensor]:
        """One row per person, ordered by zone then category: {"zone": int16 [N], attribute: uint8 [N], ...}."""
        flat = self.counts.reshape(-1)
        cells = torch.repeat_interleave(torch.arange(flat.numel()), flat)
        columns: dict[str, Tensor] = {}
        for axis, size in reversed(list(enumerate(self.counts.shape))):
            code = cells % size
            cells = cells // size
            name = "zone" if axis == 0 else self.attributes[axis - 1]
            columns[name] = code.to(torch.int16 if axis == 0 else torch.uint8)
        return {"zone": columns["zone"], **{a: columns[a] for a in self.attributes}}


def fit_persons(
    margins: Mapping[str, pd.DataFrame | Tensor],
    seed_table: Tensor,
    region_of_zone: Sequence[int] | Tensor,
    *,
    seed: int,
    scale: float = 1.0,
    tolerance: float = 1e-10,
) -> PersonCounts:
    """Fit and round persons per zone x categories; see the module docstring.

    Args:
        margins: attribute name -> counts [Z, C_attr]; all must agree on each zone's total.
        seed_table: joint counts [R, C_1, ..., C_k] per region, attributes in the order of `margins`.
        region_of_zone: [Z] region index of each zone.
        seed: seed of the rounding draws.
        scale: fraction of the population to synthesise (0 < scale <= 1); proportions are kept.
    """
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    names = list(margins)
    targets = [_as_table(name, margins[name]) for name in names]
    regions = torch.as_tensor(region_of_zone, dtype=torch.long)
    n_zones = targets[0].shape[0]
    for name, table in zip(names, targets, strict=True):
        if table.shape[0] != n_zones:
            raise ValueError(f"margin {name!r} has {table.shape[0]} zones, {names[0]!r} has {n_zones}")
    if regions.shape != (n_zones,):
        raise ValueError(f"region_of_zone must have one entry per zone ({n_zones}), got {list(regions.shape)}")
    expected = (len(names) + 1, tuple(t.shape[1] for t in targets))
    seed_table = seed_table.to(torch.float64)
    if seed_table.dim() != expected[0] or tuple(seed_table.shape[1:]) != expected[1]:
        raise ValueError(f"seed_table must have shape [regions, {', '.join(map(str, expected[1]))}] (categories of "
                         f"{', '.join(names)}), got {list(seed_table.shape)}")
    if int(regions.min()) < 0 or int(regions.max()) >= seed_table.shape[0]:
        raise ValueError(f"region_of_zone must index the {seed_table.shape[0]} regions of seed_table")
    per_region = seed_table + SEED_FLOOR * seed_table.mean(dim=tuple(range(1, seed_table.dim())), keepdim=True)
    joint_seed = per_region[regions]  # [Z, C_1, ..., C_k]
    fit_margins = [Margin((0, axis + 1), table * scale, name)
                   for axis, (name, table) in enumerate(zip(names, targets, strict=True))]
    fitted = ipf(joint_seed, fit_margins, tolerance=tolerance).table
    return PersonCounts(integerize(fitted, seed=seed, zone_axes=1), tuple(names), fitted)


def fit_report(person_counts: PersonCounts, margins: Mapping[str, pd.DataFrame | Tensor], *,
               scale: float = 1.0, zone_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Synthetic count vs table for every zone, attribute and category (the table scaled by `scale`).

    Columns: zone, attribute, category, target, synthetic, difference.
    """
    rows = []
    counts = person_counts.counts.double()
    for axis, name in enumerate(person_counts.attributes):
        table = _as_table(name, margins[name]) * scale
        other = tuple(a for a in range(1, counts.dim()) if a != axis + 1)
        synthetic = counts.sum(dim=other) if other else counts
        labels = list(margins[name].columns) if isinstance(margins[name], pd.DataFrame) else range(table.shape[1])
        zones = list(zone_codes) if zone_codes is not None else list(range(table.shape[0]))
        frame = pd.DataFrame({
            "zone": [z for z in zones for _ in labels],
            "attribute": name,
            "category": [str(c) for _ in zones for c in labels],
            "target": table.reshape(-1).numpy(),
            "synthetic": synthetic.reshape(-1).numpy(),
        })
        rows.append(frame)
    report = pd.concat(rows, ignore_index=True)
    report["difference"] = report["synthetic"] - report["target"]
    return report


def exact_ages(age_band: Tensor, ids: Tensor, *, seed: int, open_band: int, band_years: int = 5,
               open_band_years: int = 10) -> Tensor:
    """Age in whole years, uniform in each `band_years` band; band `open_band` (e.g. 85+) spans `open_band_years`."""
    width = torch.where(age_band.long() == open_band, open_band_years, band_years)
    offset = (rng.random_bits(seed, 0, "synthesis.age", ids) * width) >> 32
    return (age_band.long() * band_years + offset).to(torch.uint8)


def choose_within_zones(zone: Tensor, weight: Tensor, count_by_zone: Tensor, ids: Tensor, *, seed: int,
                        stream: str) -> Tensor:
    """Pick count_by_zone[z] persons in each zone, each with probability min(1, lambda_z * weight), as a bool mask [N].

    lambda_z is solved (bisection) so that the probabilities of zone z add up to its count: a person's chance is
    proportional to its weight until it reaches 1. Exactly that many are then drawn by systematic sampling in a
    random order (Madow 1949), so each person's inclusion probability is exactly its p. Persons with weight 0 are
    never picked; a zone asking for more than its eligible persons takes all of them.
    """
    zone = zone.long()
    n_zones = int(count_by_zone.numel())
    w = weight.double().clamp_min(0)
    eligible = torch.zeros(n_zones, dtype=torch.float64).index_add_(0, zone, (w > 0).double())
    target = torch.minimum(count_by_zone.double(), eligible)
    log_low = torch.full((n_zones,), -60.0, dtype=torch.float64)
    log_high = torch.full((n_zones,), 60.0, dtype=torch.float64)
    for _ in range(80):  # bisection on log lambda: 120 / 2^80 is far below float precision
        mid = (log_low + log_high) / 2
        total = torch.zeros(n_zones, dtype=torch.float64).index_add_(0, zone, (mid.exp()[zone] * w).clamp(max=1))
        too_many = total > target
        log_high = torch.where(too_many, mid, log_high)
        log_low = torch.where(too_many, log_low, mid)
    p = (log_high.exp()[zone] * w).clamp(max=1)
    p = p * (target / torch.zeros(n_zones, dtype=torch.float64).index_add_(0, zone, p).clamp_min(1e-300))[zone]
    order, _, _ = order_within_groups(zone, rng.uniform(seed, 0, f"{stream}.order", ids, dtype=torch.float64))
    zone_sorted = zone[order]
    running = torch.cumsum(p[order], 0)
    before_zone = torch.cat([running.new_zeros(1), running])[torch.searchsorted(zone_sorted, zone_sorted)]
    start = rng.uniform(seed, 0, f"{stream}.start", torch.arange(n_zones), dtype=torch.float64)[zone_sorted]
    points = torch.ceil(running - before_zone - start).clamp_min(0)  # sampling points u, u + 1, ... below
    previous = torch.ceil(running - p[order] - before_zone - start).clamp_min(0)
    chosen = torch.zeros(zone.numel(), dtype=torch.bool)
    chosen[order] = (points - previous) > 0
    return chosen


def _as_table(name: str, table: pd.DataFrame | Tensor) -> Tensor:
    values = torch.as_tensor(table.to_numpy(dtype="float64", copy=True) if isinstance(table, pd.DataFrame) else table,
                             dtype=torch.float64)
    if values.dim() != 2:
        raise ValueError(f"margin {name!r} must be a zones x categories table, got shape {list(values.shape)}")
    if not bool(torch.isfinite(values).all()) or bool((values < 0).any()):
        raise ValueError(f"margin {name!r} must hold finite, non-negative counts")
    return values
