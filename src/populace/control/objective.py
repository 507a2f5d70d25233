r"""The objective of a control task: reach target levels of some aggregates, at a low cost of control.

Over a run of T steps, with x_k(t) the observed aggregate k after step t, x*_k its target, s the tracking scale,
u_c(t) the control c applied during step t and f_c its fraction of the control's range ((u - low) / (high - low)):

    tracking = (1 / T) sum_{t=1..T} sum_k ((x_k(t) - x*_k) / s)^2        (a deviation of s for one step costs 1 / T)
    control  = (1 / T) sum_{t=1..T} sum_c f_c(t)^2                       (1: every control at its upper bound)
    J = tracking + lambda control                                        (lambda = `control_weight`)

Steps before `from_step` are not counted in the tracking term (a transient the task forgives); both terms are
computed on a trajectory's rows 1..T (`Controlled` records the controls of step t on row t).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Protocol

from torch import Tensor

from populace.control.controller import ControlVariable


class ControlObjective(Protocol):
    """What a `ControlProblem` needs of an objective: named terms of a run's series, their weights, the total.
    `Objective` is the tracking one; a task may bring its own (e.g. deaths and unemployment)."""

    @property
    def weights(self) -> dict[str, float]: ...

    def terms(self, series: Mapping[str, Tensor], variables: Sequence[ControlVariable]) -> dict[str, Tensor]: ...

    def total(self, terms: Mapping[str, Tensor | float]) -> float: ...


@dataclasses.dataclass(frozen=True)
class Objective:
    """J = tracking + control_weight x control (module docstring)."""

    targets: Mapping[str, float]
    scale: float = 0.1
    control_weight: float = 1.0
    from_step: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", dict(self.targets))
        if not self.targets:
            raise ValueError("an objective needs at least one target level, e.g. {'prey': 0.4}")
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError(f"scale must be a finite number > 0, got {self.scale}")
        if not (self.control_weight >= 0 and math.isfinite(self.control_weight)):
            raise ValueError(f"control_weight must be a finite number >= 0, got {self.control_weight}")
        if isinstance(self.from_step, bool) or not isinstance(self.from_step, int) or self.from_step < 1:
            raise ValueError(f"from_step must be an int >= 1, got {self.from_step!r}")

    @property
    def weights(self) -> dict[str, float]:
        """The loss weights of the terms (`populace.calibrate` problems)."""
        return {"tracking": 1.0, "control": self.control_weight}

    def terms(self, series: Mapping[str, Tensor], variables: Sequence[ControlVariable]) -> dict[str, Tensor]:
        """{"tracking", "control"} from series [T + 1] of the targets' aggregates and of the controls (by name)."""
        missing = [name for name in [*self.targets, *(v.name for v in variables)] if name not in series]
        if missing:
            raise KeyError(f"the series lack {missing} (they have: {', '.join(series)})")
        steps = series[variables[0].name].shape[0] - 1
        if steps < self.from_step:
            raise ValueError(f"a run of {steps} steps has no step from from_step={self.from_step} on to track")
        tracking = sum(((series[name][self.from_step:] - level) / self.scale).square().sum()
                       for name, level in self.targets.items()) / steps
        control = sum(v.fraction(series[v.name][1:]).square().sum() for v in variables) / steps
        return {"tracking": tracking, "control": control}  # type: ignore[dict-item]

    def total(self, terms: Mapping[str, Tensor | float]) -> float:
        """J of the terms, as a number."""
        return float(terms["tracking"]) + self.control_weight * float(terms["control"])
