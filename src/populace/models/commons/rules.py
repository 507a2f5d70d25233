r"""The rules of the GovSim commons as parameters (`CommonsRules`), and the month's arithmetic on them.

Each month t = 1, ..., T (T = `months`), in every group of N agents sharing a pool of h units:

1. every active agent asks for w_i >= 0 whole units;
2. if sum_i w_i <= h everyone gets w_i, otherwise the pool is rationed (`populace.models.commons.rationing`);
3. h' = h - sum_i c_i is the pool after harvest, h(t) = h' in the metrics;
4. the group collapses if h' < `collapse_below` (it harvests no more; its pool stays at h');
5. otherwise the pool regenerates: h <- min(C, r h') (C = `capacity`, r = `regeneration_factor`); with a
   non-integer r the regenerated pool is rounded down to whole units in fast mode.

The sustainable share is f = floor(floor(h (1 - 1 / r)) / n), n the agents active this month: the most each can
take with the pool regenerating to at least h (with r = 2: floor(floor(h / 2) / N), 10 at h = 100, N = 5).

Defaults are GovSim's (Piatti et al. 2024): N = 5, C = 100, h0 = 100, r = 2, collapse below 5, 12 months, no
newcomer. With `newcomer_month` = k, every group has one more seat (seat N, the last) whose agent joins in month k
(months counted 1, ..., T as above, so k = 3 is the third month, `GroupView.month` = 2).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor


@dataclasses.dataclass(frozen=True)
class CommonsRules:
    """The parameters of the commons (module docstring), validated on construction.

    Attributes:
        agents_per_group: N, the resident agents of a group (>= 1).
        capacity: C, the most units the pool holds (whole units, >= 1).
        initial_resource: h0, units in the pool in month 1 (whole units, 0 < h0 <= C).
        regeneration_factor: r, the pool after harvest is multiplied by r, capped at C (> 1).
        collapse_below: the group collapses when the pool after harvest is below this (units, >= 0).
        months: T, the months of a run (>= 1).
        newcomer_month: the month (1..T) in which an extra agent joins each group, or None.
    """

    agents_per_group: int = 5
    capacity: int = 100
    initial_resource: int = 100
    regeneration_factor: float = 2.0
    collapse_below: float = 5.0
    months: int = 12
    newcomer_month: int | None = None

    def __post_init__(self) -> None:
        for name in ("agents_per_group", "capacity", "months"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        h0 = self.initial_resource
        if isinstance(h0, bool) or not isinstance(h0, int) or not 0 < h0 <= self.capacity:
            raise ValueError(f"initial_resource must be a whole number of units in (0, capacity = {self.capacity}], "
                             f"got {h0!r}")
        r = self.regeneration_factor
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 1 < r < float("inf"):
            raise ValueError(f"regeneration_factor must be a finite number > 1 (the pool after harvest is multiplied "
                             f"by it; GovSim: 2), got {r!r}")
        c = self.collapse_below
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 <= c < self.capacity:
            raise ValueError(f"collapse_below must be a number in [0, capacity = {self.capacity}) (GovSim: 5), "
                             f"got {c!r}")
        k = self.newcomer_month
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.months):
            raise ValueError(f"newcomer_month must be None (no newcomer) or a month in 1..{self.months} "
                             f"(GovSim's newcomer joins in month 3), got {k!r}")

    @property
    def seats(self) -> int:
        """S, seats per group: N, plus one for the newcomer."""
        return self.agents_per_group + (self.newcomer_month is not None)

    def joined(self, month: int, device: torch.device | str = "cpu") -> Tensor:
        """[S] bool: the seats whose agent has joined by `month` (0-based, as `GroupView.month`)."""
        joined = torch.ones(self.seats, dtype=torch.bool, device=device)
        if self.newcomer_month is not None:
            joined[-1] = month + 1 >= self.newcomer_month
        return joined

    def sustainable_share(self, resource: Tensor, n_active: Tensor) -> Tensor:
        """f [G] = floor(floor(h (1 - 1 / r)) / n) for pools h [G] and active agents n [G] (f = 0 where n = 0)."""
        spare = torch.floor(resource * (1 - 1 / self.regeneration_factor))
        return torch.floor(spare / n_active.clamp(min=1).to(resource.dtype)) * (n_active > 0)

    def regenerate(self, after_harvest: Tensor, *, whole_units: bool) -> Tensor:
        """min(C, r h') [G]; rounded down to whole units when `whole_units` (fast mode)."""
        grown = torch.clamp(after_harvest * self.regeneration_factor, max=float(self.capacity))
        return torch.floor(grown) if whole_units else grown
