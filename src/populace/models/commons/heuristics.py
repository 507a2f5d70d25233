r"""Heuristic harvesters (`HarvestPolicy`s): sustainable share, greedy, random, tit-for-tat, and a greedy newcomer.

Each answers w [G, S] whole units for every seat from the month's `GroupView` (the model zeroes inactive seats):

- `SustainableShare`: w_i = f, the sustainable share;
- `Greedy(amount)`: w_i = amount (default: the whole pool h);
- `RandomHarvest(high)`: w_i uniform on {0, ..., high}, from the counter-based RNG (keyed on agent and month);
- `TitForTat`: w_i = f in month 0, then max(f, max_{j != i} c_j(t - 1)): the sustainable share, or the largest
  catch another active seat of the group took last month when that was more (retaliation matches the greediest);
- `WithNewcomer(residents, newcomer)`: `residents` on seats 0..S-2, `newcomer` (default `Greedy()`) on the last
  seat, the one `CommonsRules(newcomer_month=...)` adds; each sees the other's seats as active but not `deciding`
  (language-model residents are not asked for the newcomer, and see what it took).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from populace.core.world import World
from populace.models.commons.policy import GroupView, HarvestPolicy


def _whole(name: str, value: int | None, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of units >= 0{' or None' if allow_none else ''}, "
                         f"got {value!r}")


class SustainableShare:
    """w_i = f: every seat asks for the sustainable share."""

    def requests(self, view: GroupView, world: World) -> Tensor:
        return view.sustainable_share.unsqueeze(1).expand(view.active.shape).to(view.resource.dtype)


class Greedy:
    """w_i = `amount` units (None: the whole pool h)."""

    def __init__(self, amount: int | None = None):
        _whole("amount", amount, allow_none=True)
        self.amount = amount

    def requests(self, view: GroupView, world: World) -> Tensor:
        if self.amount is None:
            return view.resource.detach().unsqueeze(1).expand(view.active.shape).clone()
        return torch.full(view.active.shape, float(self.amount), dtype=view.resource.dtype,
                          device=view.resource.device)


class RandomHarvest:
    """w_i uniform on {0, ..., `high`} (default 20, twice the sustainable share of a full GovSim pool)."""

    def __init__(self, high: int = 20, *, stream: str = "commons-random-request"):
        _whole("high", high, allow_none=False)
        self.high = high
        self.stream = stream

    def requests(self, view: GroupView, world: World) -> Tensor:
        draws = world.randint(self.stream, self.high + 1)
        return draws.reshape(view.active.shape).to(view.resource.dtype)


class TitForTat:
    """w_i = f in month 0, then max(f, largest catch another active seat took last month)."""

    def requests(self, view: GroupView, world: World) -> Tensor:
        share = view.sustainable_share.unsqueeze(1).expand(view.active.shape).to(view.resource.dtype)
        if view.month == 0:
            return share
        others = view.last_catch.unsqueeze(1).expand(-1, view.active.shape[1], -1)  # [G, S (me), S (other)]
        mask = ~torch.eye(view.active.shape[1], dtype=torch.bool, device=share.device)
        largest = torch.where(mask, others, torch.zeros((), dtype=share.dtype, device=share.device)).amax(dim=2)
        return torch.maximum(share, largest.detach())


class WithNewcomer:
    """`residents` on every seat but the last, `newcomer` (default `Greedy()`) on the last."""

    def __init__(self, residents: HarvestPolicy, newcomer: HarvestPolicy | None = None):
        self.residents = residents
        self.newcomer = newcomer or Greedy()

    def requests(self, view: GroupView, world: World) -> Tensor:
        last = torch.zeros(view.active.shape[1], dtype=torch.bool, device=view.active.device)
        last[-1] = True
        resident = self.residents.requests(dataclasses.replace(view, deciding=view.asked & ~last), world)
        joiner = self.newcomer.requests(dataclasses.replace(view, deciding=view.asked & last), world)
        return torch.where(last, joiner, resident)
