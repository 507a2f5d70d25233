r"""Policies: what sets a model's control variables each step, from the time and the aggregates it observes.

A policy is an `nn.Module` with `variables` (the `ControlVariable`s it sets, each with its bounds) whose
`forward(time_fraction, observed)` maps the run's progress t / T (a 0-dim tensor) and the observed aggregates
(a [F] tensor) to the controls u [C], each within its bounds:

- `Controller`: a feedback network, u_c = low_c + (high_c - low_c) sigmoid(z_c), z = MLP(t / T, observed / scale)
  (tanh hidden layers), after Boettcher, Fonseca & Laubenbacher 2024 ("Control of Medical Digital Twins with
  Artificial Neural Networks"): the bounds hold by construction, whatever the weights;
- `Schedule`: an open-loop schedule of K fixed values per variable, segment k = floor(K t / T) (a constant control
  is K = 1; bang-bang schedules and the mean-field optimum are schedules).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


@dataclasses.dataclass(frozen=True)
class ControlVariable:
    """A control the policy sets: its name (the world's environment key the model reads), bounds and unit."""

    name: str
    low: float
    high: float
    unit: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"control {self.name!r} needs finite bounds low < high, got [{self.low}, {self.high}]")

    def fraction(self, value: Tensor) -> Tensor:
        """(u - low) / (high - low): 0 at the lower bound, 1 at the upper."""
        return (value - self.low) / (self.high - self.low)


def _check_variables(variables: Sequence[ControlVariable]) -> tuple[ControlVariable, ...]:
    variables = tuple(variables)
    if not variables or not all(isinstance(v, ControlVariable) for v in variables):
        raise ValueError(f"a policy needs at least one ControlVariable, got {variables!r}")
    names = [v.name for v in variables]
    if len(set(names)) != len(names):
        raise ValueError(f"control variables must have distinct names, got {names}")
    return variables


class Controller(nn.Module):
    r"""u = low + (high - low) sigmoid(MLP([t / T, observed / scale])) (module docstring).

    Shape: time_fraction [] and observed [F] -> u [C]. The last layer starts at zero weights and biases
    logit(`initial`), so an untrained controller applies the constant fraction `initial` of each range.

    Args:
        variables: the C controls it sets.
        observed: names of the F aggregates it reads (the model's observables).
        scale: typical size of each observed aggregate (divides it), default 1.
        hidden: units per hidden layer; depth: hidden layers (>= 1).
        initial: the starting control, as a fraction of each range in (0, 1).
        seed: seed of the weights' initialisation.
    """

    def __init__(self, variables: Sequence[ControlVariable], observed: Sequence[str], *,
                 scale: Sequence[float] | None = None, hidden: int = 16, depth: int = 2, initial: float = 0.5,
                 seed: int = 0):
        super().__init__()
        self.variables = _check_variables(variables)
        self.observed = tuple(observed)
        for name, value in (("hidden", hidden), ("depth", depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0 < initial < 1:
            raise ValueError(f"initial must be a fraction of the control range in (0, 1), got {initial}")
        scale = [1.0] * len(self.observed) if scale is None else list(scale)
        if len(scale) != len(self.observed) or not all(s > 0 for s in scale):
            raise ValueError(f"scale needs one number > 0 per observed aggregate {list(self.observed)}, got {scale}")
        self.hidden, self.depth = hidden, depth
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("low", torch.tensor([v.low for v in self.variables], dtype=torch.float32))
        self.register_buffer("span", torch.tensor([v.high - v.low for v in self.variables], dtype=torch.float32))
        generator = torch.Generator().manual_seed(seed)
        sizes = [1 + len(self.observed)] + [hidden] * depth
        layers: list[nn.Module] = []
        for n_in, n_out in itertools.pairwise(sizes):
            linear = nn.Linear(n_in, n_out)
            with torch.no_grad():
                bound = 1 / math.sqrt(n_in)
                linear.weight.uniform_(-bound, bound, generator=generator)
                linear.bias.uniform_(-bound, bound, generator=generator)
            layers += [linear, nn.Tanh()]
        out = nn.Linear(hidden, len(self.variables))
        with torch.no_grad():
            out.weight.zero_()
            out.bias.fill_(math.log(initial / (1 - initial)))
        self.layers = nn.Sequential(*layers, out)

    def extra_repr(self) -> str:
        controls = ", ".join(f"{v.name} in [{v.low:g}, {v.high:g}]" for v in self.variables)
        return f"{controls}; observed={list(self.observed)}, hidden={self.hidden}, depth={self.depth}"

    def forward(self, time_fraction: Tensor, observed: Tensor) -> Tensor:
        x = torch.cat([time_fraction.reshape(1).to(self.scale.dtype), observed.to(self.scale.dtype) / self.scale])
        return self.low + self.span * torch.sigmoid(self.layers(x))


class Schedule(nn.Module):
    """Open loop: u = values[floor(K t / T)] (module docstring), values [K, C] fixed (a buffer), within bounds.

    Shape: time_fraction [] (observed ignored) -> u [C].
    """

    observed: tuple[str, ...] = ()

    def __init__(self, variables: Sequence[ControlVariable], values: Tensor | Sequence[Sequence[float]]):
        super().__init__()
        self.variables = _check_variables(variables)
        values = torch.as_tensor(values, dtype=torch.float32)
        if values.dim() != 2 or values.shape[0] < 1 or values.shape[1] != len(self.variables):
            raise ValueError(f"values must be [K >= 1, C = {len(self.variables)}] (a row per segment, a column per "
                             f"control), got shape {list(values.shape)}")
        for c, v in enumerate(self.variables):
            column = values[:, c]
            if not bool(((column >= v.low) & (column <= v.high)).all()):
                raise ValueError(f"schedule values of {v.name!r} must lie in [{v.low:g}, {v.high:g}], got "
                                 f"[{float(column.min()):g}, {float(column.max()):g}]")
        self.register_buffer("values", values)

    @classmethod
    def constant(cls, variables: Sequence[ControlVariable], value: Sequence[float]) -> Schedule:
        """The same controls all along (K = 1)."""
        return cls(variables, [list(value)])

    def extra_repr(self) -> str:
        return f"segments={self.values.shape[0]}, controls={[v.name for v in self.variables]}"

    def forward(self, time_fraction: Tensor, observed: Tensor) -> Tensor:
        k = self.values.shape[0]
        segment = min(int(float(time_fraction) * k), k - 1)
        return self.values[segment]
