"""Policy vocabularies: the changes a model accepts by name, checked with one-line errors, applied from a step on.

A model lists what a policy can change as `Change`s (a name, a check of the value, and how to apply it to a built
model from a step on) in a `Vocabulary`. `vocabulary.policy({"name": ..., "from": step, change: value, ...})`
returns a checked `Policy`; `vocabulary.apply(model, policy)` changes the model so that it acts as before until
`policy.start` and under the policy from then on, which lets a policy run branch from a snapshot of the baseline
(`populace.analysis.ensemble`).

```python
SIR_POLICIES = Vocabulary("SIR", [Change("beta_factor", Number(gt=0), scale_beta)])   # see models/sir/scenarios.py
SIR_POLICIES.policy({"name": "distancing", "from": 30, "beta_factor": 0.5})
# Policy(name='distancing', start=30, changes=(('beta_factor', 0.5),))
SIR_POLICIES.policy({"name": "x", "from": 30, "beta_factr": 0.5})
# PolicyError: policy 'x': unknown change 'beta_factr'; SIR accepts: beta_factor
```
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from populace.core.model import Model
from populace.core.world import World

BASELINE = "baseline"
"""The name of the run without a policy (a policy may not take it)."""


class PolicyError(ValueError):
    """A policy that does not validate: the message names the policy, the change, the bad value and what is accepted."""


@dataclasses.dataclass(frozen=True)
class Number:
    """A check of a real number against bounds (`gt`, `ge`, `lt`, `le`; None: no bound); returns it as a float."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def __call__(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError
        bounds = ((self.gt, float.__gt__), (self.ge, float.__ge__), (self.lt, float.__lt__), (self.le, float.__le__))
        if not all(bound is None or above(float(value), float(bound)) for bound, above in bounds):
            raise ValueError
        return float(value)

    def __str__(self) -> str:
        bounds = ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le))
        return " and ".join(["a number", *(f"{sign} {bound:g}" for sign, bound in bounds if bound is not None)]
                            ).replace("number and", "number", 1)


@dataclasses.dataclass(frozen=True)
class Numbers:
    """A check of a non-empty list of numbers, each checked by `each`; returns a tuple of floats."""

    each: Number

    def __call__(self, value: Any) -> tuple[float, ...]:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
            raise ValueError
        return tuple(self.each(v) for v in value)

    def __str__(self) -> str:
        return f"a non-empty list of numbers, each {str(self.each).removeprefix('a number ')}"


@dataclasses.dataclass(frozen=True)
class Change:
    """One thing a policy can change: `check(value)` returns the value to use or raises ValueError (its `str` says
    what is accepted); `apply(model, value, step)` returns the model acting with it from `step` on, unchanged before.
    """

    name: str
    check: Callable[[Any], Any]
    apply: Callable[[Model, Any, int], Model]


@dataclasses.dataclass(frozen=True)
class Policy:
    """A checked policy: its `name`, the step its changes start (`start`) and the (change, value) pairs."""

    name: str
    start: int
    changes: tuple[tuple[str, Any], ...]


class Vocabulary:
    """The `Change`s a model accepts, by name; `model_name` is shown in errors."""

    def __init__(self, model_name: str, changes: Sequence[Change]):
        self.model_name = model_name
        self.changes = {change.name: change for change in changes}
        if len(self.changes) != len(changes):
            raise ValueError(f"{model_name}: two changes share a name in {[c.name for c in changes]}")

    def __repr__(self) -> str:
        return f"Vocabulary({self.model_name!r}, {list(self.changes)})"

    def policy(self, spec: Mapping[str, Any]) -> Policy:
        """The `Policy` of a mapping {"name": ..., "from": step, change: value, ...} (as a scenario file gives it)."""
        if not isinstance(spec, Mapping):
            raise PolicyError(f"a policy is a mapping {{name: ..., from: STEP, change: value}}, got {spec!r}")
        name = spec.get("name")
        if not isinstance(name, str) or not name or slug(name) == BASELINE:
            raise PolicyError(f"a policy needs a name (text other than {BASELINE!r}), got {name!r}")
        start = spec.get("from")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise PolicyError(f"policy {name!r}: from must be the step (an int >= 0) its changes start, got {start!r}")
        accepted = ", ".join(self.changes)
        given = {k: v for k, v in spec.items() if k not in ("name", "from")}
        if not given:
            raise PolicyError(f"policy {name!r} changes nothing; give at least one of: {accepted}")
        changes = []
        for key, value in given.items():
            if key not in self.changes:
                raise PolicyError(f"policy {name!r}: unknown change {key!r}; {self.model_name} accepts: {accepted}")
            check = self.changes[key].check
            try:
                changes.append((key, check(value)))
            except (TypeError, ValueError):
                raise PolicyError(f"policy {name!r}: {key} must be {check}, got {value!r}") from None
        return Policy(name, start, tuple(changes))

    def apply(self, model: Model, policy: Policy) -> Model:
        """`model` changed by each of the policy's changes from `policy.start` on; returns the changed model."""
        for key, value in policy.changes:
            model = self.changes[key].apply(model, value, policy.start)
        return model


class FromStep(nn.Module):
    """A substep that runs `before` until step `step` and `after` from then on (both return the same columns).

    Replacing a model's substep by `FromStep(substep, changed, step)` makes the model act as before on every day
    whose world is at a step < `step`, so its runs equal the baseline's draw for draw up to that step. A policy's
    changes compose through `FromStep.change`: each is handed the substep in effect from the step on (the `after`
    the change before it left), and `before` stays the baseline's.
    """

    def __init__(self, before: nn.Module, after: nn.Module, step: int):
        super().__init__()
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be an int >= 0, got {step!r}")
        self.before, self.after, self.step = before, after, step

    @classmethod
    def change(cls, substep: nn.Module, step: int, change: Callable[[nn.Module], nn.Module]) -> FromStep:
        """`substep` until `step` and `change(now)` from then on, where `now` is what runs from `step` on: the
        `after` of `substep` when it is a `FromStep` of the same step (an earlier change of the same policy), else
        `substep` itself. So `FromStep.change(FromStep.change(s, k, f), k, g)` runs s before k and g(f(s)) after.
        """
        if isinstance(substep, FromStep) and substep.step == step:
            return cls(substep.before, change(substep.after), step)
        return cls(substep, change(substep), step)

    def extra_repr(self) -> str:
        return f"step={self.step}"

    def forward(self, world: World) -> Any:
        return (self.after if world.step >= self.step else self.before)(world)


def slug(name: str, separator: str = "-") -> str:
    """The file-name form of a name: lower-case letters and digits joined by `separator` ("policy" if none)."""
    return re.sub(r"[^a-z0-9]+", separator, name.lower()).strip(separator) or "policy"
