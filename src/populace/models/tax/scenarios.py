"""The tax model's policy vocabulary for the generic scenario runner (`populace.analysis`): new rates from a year on.

| change | value | meaning |
|---|---|---|
| `top_rate` | a number in [0, 1] | the top bracket's marginal rate is this from `from` (a step: one tax year) on |
| `rates` | one number in [0, 1] per bracket | every bracket's marginal rate, from `from` on (the thresholds stay) |

Changes of one policy apply in the order given, each to the schedule the one before left.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from populace.analysis.ensemble import Scenarios
from populace.analysis.policy import Change, Number, Numbers, Vocabulary
from populace.core import Model, World
from populace.models.tax.model import TaxPolicy, with_schedule
from populace.models.tax.schedule import TaxSchedule
from populace.models.tax.workers import BoundedLabourSupply


class ScheduleFrom(Model):
    """A `TaxPolicy` economy whose workers face `schedule` from step `step` on (before: the economy's own)."""

    def __init__(self, economy: TaxPolicy, schedule: TaxSchedule, step: int):
        super().__init__()
        self.economy, self.schedule, self.step = economy, schedule, step

    def extra_repr(self) -> str:
        return f"schedule={self.schedule}, step={self.step}"

    @property
    def observable_labels(self) -> Mapping[str, Sequence[str]]:
        return self.economy.observable_labels

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        return self.economy.initial_world(seed=seed, differentiable=differentiable)

    def forward(self, world: World) -> World:
        return self.economy(with_schedule(world, self.schedule) if world.step >= self.step else world)

    def observe(self, world: World) -> dict[str, Tensor]:
        return self.economy.observe(world)


def with_rates(model: TaxPolicy | ScheduleFrom, rates: Sequence[float], step: int) -> ScheduleFrom:
    """The economy facing the same brackets with marginal `rates` from `step` on (one per bracket)."""
    economy = model.economy if isinstance(model, ScheduleFrom) else model
    return ScheduleFrom(economy, model.schedule.with_rates(torch.tensor(rates, dtype=torch.float64)), step)


def with_top_rate(model: TaxPolicy | ScheduleFrom, rate: float, step: int) -> ScheduleFrom:
    """The economy whose top bracket's marginal rate is `rate` from `step` on."""
    return with_rates(model, [*model.schedule.rates.tolist()[:-1], rate], step)


TAX_POLICIES = Vocabulary("TaxPolicy", [Change("top_rate", Number(ge=0, le=1), with_top_rate),
                                        Change("rates", Numbers(Number(ge=0, le=1)), with_rates)])


@dataclasses.dataclass(frozen=True)
class TaxScenarios(Scenarios):
    """`TaxPolicy(n_workers)` under the 2018 US federal schedule for the generic runner: rational workers, or
    `BoundedLabourSupply()` ones (random choices each year) with `bounded`; a draw holds values by natural name or
    `state_dict` key (`Scenarios.load`)."""

    n_workers: int
    bounded: bool = False
    vocabulary = TAX_POLICIES

    def build(self, draw: Mapping[str, Tensor] | None) -> TaxPolicy:
        model = TaxPolicy(self.n_workers, labour_supply=BoundedLabourSupply() if self.bounded else None)
        return self.load(model, draw)
