"""Groups for the contact layers: school classes and workplaces, as new `school_class` / `workplace` columns.

- `assign_school_classes`: pupils (ages `pupil_ages`, default 5..17) are grouped by (zone, age) and each group of
  n pupils is split at random into k = max(1, round(n / class_size)) classes of near-equal size, so a class has
  between class_size / 2 and 1.5 class_size pupils whenever its group has at least class_size / 2.
- `assign_workplaces`: employed agents are grouped by (work region, industry), put in an order that interleaves
  their home regions and cut into consecutive workplaces whose sizes are drawn from `WorkplaceSizes` (the last
  workplace of each group takes the workers left, so it may be smaller). The work region is the `work_region`
  column (`populace.population.commuting`) when the table has one, else the region the worker lives in.

Groups are numbered in (zone, age) and (work region, industry) order, so ids follow the agents' locality order. Every
random draw comes from the counter-based RNG keyed on the seed and on agent ids (or size-draw slots), so the
result is reproducible and does not depend on the order of the rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from populace.core import AgentTable, rng
from populace.population.storage import NO_CODE


@dataclass(frozen=True)
class WorkplaceSizes:
    r"""Workplace (establishment) sizes S in workers: a discretised power law truncated to [1, max_size].

    S = floor(X) with X Pareto on [1, max_size + 1): P(S >= s) = (s^-alpha - (max_size + 1)^-alpha) /
    (1 - (max_size + 1)^-alpha) for s = 1..max_size. The default alpha = 1.06 is the Zipf law of US firm sizes
    (P(S >= s) ~ s^-1.059, Axtell 2001, Science 293:1818, fitted to the 1997 US Census of all firms). Firms are
    not establishments, and the County Business Patterns establishment-size tables are not available offline:
    fit alpha and max_size to them (or to NYC's) when you have them.
    """

    alpha: float = 1.06
    max_size: int = 5000

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, (int, float)) and math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"WorkplaceSizes.alpha must be a finite number > 0, got {self.alpha!r}.")
        if not (isinstance(self.max_size, int) and self.max_size >= 1):
            raise ValueError(f"WorkplaceSizes.max_size must be an int >= 1, got {self.max_size!r}.")

    def cdf(self, s: Tensor) -> Tensor:
        """P(S <= s) for integer sizes s (float64, same shape)."""
        tail = (self.max_size + 1.0) ** -self.alpha
        s = s.to(torch.float64).clamp(0, self.max_size)
        return (1.0 - (s + 1.0) ** -self.alpha) / (1.0 - tail)

    def sample(self, u: Tensor) -> Tensor:
        """Sizes (int64) from uniforms u in (0, 1), by inverting the Pareto CDF: X = (1 - u (1 - tail))^(-1/alpha)."""
        tail = (self.max_size + 1.0) ** -self.alpha
        x = (1.0 - u.to(torch.float64) * (1.0 - tail)) ** (-1.0 / self.alpha)
        return x.floor().long().clamp(1, self.max_size)


def assign_school_classes(
    agents: AgentTable, *, class_size: int = 25, pupil_ages: tuple[int, int] = (5, 17), seed: int
) -> Tensor:
    """School class of every agent, int32 [N]: classes 0..K-1 for pupils (ages pupil_ages[0]..pupil_ages[1]
    inclusive), -1 for everyone else. Reads `zone`, `region`, `age`, `id`. See the module docstring for the split.

    Pupils of one age in a zone with fewer than class_size / 2 of them (small zones, scaled-down populations)
    join the other such pupils of their age in the region instead, so classes keep their size at any scale.
    """
    require_columns(agents, ("zone", "region", "age"), "assign_school_classes")
    if not (isinstance(class_size, int) and class_size >= 1):
        raise ValueError(f"class_size must be an int >= 1 (pupils per class), got {class_size!r}.")
    low, high = pupil_ages
    if not 0 <= low <= high <= 255:
        raise ValueError(f"pupil_ages must be (youngest, oldest) with 0 <= youngest <= oldest, got {pupil_ages!r}.")
    age = agents["age"].long()
    pupils = ((age >= low) & (age <= high)).nonzero().squeeze(1)  # [P]
    zone = agents["zone"].long()[pupils]
    group = zone * 256 + age[pupils]  # (zone, age)
    is_small = torch.bincount(group)[group] < class_size / 2
    n_zones = int(zone.max()) + 1 if pupils.numel() else 0
    regional = (n_zones + agents["region"].long()[pupils]) * 256 + age[pupils]  # (region, age), after all zones
    group = torch.where(is_small, regional, group)
    u = rng.uniform(seed, 0, "school_classes.shuffle", agents.ids[pupils], dtype=torch.float64)
    order, start, size = order_within_groups(group, u)  # pupils[order]: grouped, random within groups
    n_classes = ((size.double() / class_size) + 0.5).floor().long().clamp(min=1)  # [G] k = round(n / class_size)
    first_class = torch.cumsum(n_classes, 0) - n_classes
    g = torch.repeat_interleave(torch.arange(size.numel()), size)  # [P] group of each sorted pupil
    rank = torch.arange(pupils.numel()) - start[g]
    school_class = torch.full((agents.n,), -1, dtype=torch.int32)
    school_class[pupils[order]] = (first_class[g] + rank * n_classes[g] // size[g]).to(torch.int32)
    return school_class


def assign_workplaces(agents: AgentTable, *, sizes: WorkplaceSizes | None = None, seed: int) -> Tensor:
    """Workplace of every agent, int32 [N]: 0..W-1 for employed agents, -1 for everyone else.

    Reads `region`, `industry`, `is_employed`, `id`, and `work_region` when the table has it (see
    `populace.population.commuting`: workers are then grouped by the region they work in, and those with
    work_region 255, working outside the area, get no workplace). Employed agents need an industry (not 255).
    Workplace sizes follow `sizes` (default `WorkplaceSizes()`); see the module docstring.
    """
    require_columns(agents, ("region", "industry", "is_employed"), "assign_workplaces")
    sizes = WorkplaceSizes() if sizes is None else sizes
    if not isinstance(sizes, WorkplaceSizes):
        raise TypeError(f"sizes must be a WorkplaceSizes, got {type(sizes).__name__}.")
    is_worker = agents["is_employed"].bool()
    has_work_region = "work_region" in agents.columns
    if has_work_region:
        is_worker = is_worker & (agents["work_region"] != NO_CODE)
    workers = is_worker.nonzero().squeeze(1)  # [M]
    industry = agents["industry"].long()[workers]
    if bool((industry == NO_CODE).any()):
        bad = int((industry == NO_CODE).sum())
        raise ValueError(f"{bad} employed agents have industry 255 (none); give every employed agent an industry "
                         "code, or mark them not employed.")
    home = agents["region"].long()[workers]
    work = agents["work_region"].long()[workers] if has_work_region else home
    group = work * 256 + industry  # (work region, industry)
    # Within a group, each home region's workers are ordered by home zone (random within a zone), then the home
    # regions are interleaved in proportion to their numbers (worker k of n from a home region sits at (k + u) / n
    # of the group): a workplace cut from the group mixes home regions as the group does, and its workers from one
    # home region mostly live in the same or neighbouring zones, which keeps the work layer local in memory. With
    # one home region per group (no commuting) this is the order by home zone.
    u = agents["zone"].double()[workers] + rng.uniform(seed, 0, "workplaces.shuffle", agents.ids[workers],
                                                       dtype=torch.float64)
    by_home, home_start, n_from_home = order_within_groups(group * 256 + home, u)
    h = torch.repeat_interleave(torch.arange(n_from_home.numel()), n_from_home)  # [M] subgroup of each position
    position = torch.empty(workers.numel(), dtype=torch.float64)
    position[by_home] = ((torch.arange(workers.numel()) - home_start[h]).double()
                         + rng.uniform(seed, 0, "workplaces.interleave", agents.ids[workers[by_home]],
                                       dtype=torch.float64)) / n_from_home[h].double()
    order, start, n_in_group = order_within_groups(group, position)
    # one size draw per worker slot (more than enough: every size is >= 1); slot j of group g is start[g] + j
    drawn = sizes.sample(rng.uniform(seed, 0, "workplaces.size", torch.arange(workers.numel()), dtype=torch.float64))
    g = torch.repeat_interleave(torch.arange(n_in_group.numel()), n_in_group)  # [M] group of each slot
    end_in_group = torch.cumsum(drawn, 0) - (torch.cumsum(drawn, 0) - drawn)[start][g]  # cumulative size in group
    is_used = end_in_group - drawn < n_in_group[g]  # the workplace starts before the group runs out
    n_used = torch.bincount(g[is_used], minlength=n_in_group.numel())
    first_place = torch.cumsum(n_used, 0) - n_used
    # worker at rank r of group g goes to the first used workplace whose cumulative end exceeds r
    ends = torch.minimum(end_in_group, n_in_group[g])[is_used]  # [W] cumulative ends (<= M), group by group
    rank = torch.arange(workers.numel()) - start[g]
    key = g * (workers.numel() + 1)  # search per group: offset both sides by the group
    place_in_group = torch.searchsorted(ends + key[is_used], rank + key, right=True) - first_place[g]
    workplace = torch.full((agents.n,), -1, dtype=torch.int32)
    workplace[workers[order]] = (first_place[g] + place_in_group).to(torch.int32)
    return workplace


def require_columns(agents: AgentTable, columns: tuple[str, ...], who: str) -> None:
    """Raise KeyError naming every missing column (and what the table has) for `who`."""
    if not isinstance(agents, AgentTable):
        raise TypeError(f"{who} needs a populace.core.AgentTable, got {type(agents).__name__}.")
    missing = [c for c in columns if c not in agents.columns]
    if missing:
        raise KeyError(f"{who}: the agent table has no column(s) {missing} (it has: {', '.join(agents.columns)}). "
                       "See docs/population-schema.md for the columns of a population.")


def order_within_groups(group: Tensor, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Sort by (group, u): returns order [M], and start [G] and size [G] of each distinct group in that order."""
    order = torch.argsort(u, stable=True)
    order = order[torch.argsort(group[order], stable=True)]
    _, size = torch.unique_consecutive(group[order], return_counts=True)
    return order, torch.cumsum(size, 0) - size, size
