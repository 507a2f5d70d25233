r"""Parameters in natural units: a rate is positive, a probability lies in (0, 1), a share in (low, high).

A model states a parameter by its natural value and its constraint; the optimiser steps an unconstrained tensor u
behind it, through `torch.nn.utils.parametrize`:

    Positive       x = exp(u)                             u = log x
    UnitInterval   x = sigmoid(u)                         u = log(x / (1 - x))
    Bounded        x = low + (high - low) sigmoid(u)      u = logit((x - low) / (high - low))

    natural_parameter(self, "beta_per_day", 0.03, Positive())
    self.beta_per_day                                   # tensor(0.0300), differentiable in u
    self.beta_per_day = torch.tensor(0.05)              # sets u = log 0.05
    # named_parameters(): "parametrizations.beta_per_day.original" (u); natural_parameters(): "beta_per_day" (x)
    load_values(self, {"beta_per_day": 0.05})           # or {"parametrizations.beta_per_day.original": log 0.05}

u is computed in float64 from the value given and then rounded, so a parameter holds exactly the u that
`math.log(value)` gives. Parametrized modules cannot be pickled (a torch limitation): save them by `state_dict()`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

_PARAMETRIZED = re.compile(r"(^|\.)parametrizations\.([^.]+)\.original$")


class Constraint(nn.Module):
    """A map from unconstrained u to a natural value x (`forward`) and back (`right_inverse`)."""

    def contains(self, x: Tensor) -> bool:
        """Whether every value of x lies in the open support."""
        raise NotImplementedError

    def support(self) -> str:
        """The support in words, for error messages."""
        raise NotImplementedError


class Positive(Constraint):
    """x = exp(u) > 0."""

    def forward(self, u: Tensor) -> Tensor:
        return u.exp()

    def right_inverse(self, x: Tensor) -> Tensor:
        return x.double().log().to(x.dtype)

    def contains(self, x: Tensor) -> bool:
        return bool((x > 0).all() and torch.isfinite(x).all())

    def support(self) -> str:
        return "a finite number > 0"


class UnitInterval(Constraint):
    """x = sigmoid(u) in (0, 1)."""

    def forward(self, u: Tensor) -> Tensor:
        return torch.sigmoid(u)

    def right_inverse(self, x: Tensor) -> Tensor:
        x64 = x.double()
        return (x64 / (1 - x64)).log().to(x.dtype)

    def contains(self, x: Tensor) -> bool:
        return bool(((x > 0) & (x < 1)).all())

    def support(self) -> str:
        return "a number in (0, 1)"


class Bounded(Constraint):
    """x = low + (high - low) sigmoid(u) in (low, high)."""

    def __init__(self, low: float, high: float):
        super().__init__()
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"Bounded needs finite low < high, got low={low}, high={high}")
        self.low, self.high = low, high

    def forward(self, u: Tensor) -> Tensor:
        return self.low + (self.high - self.low) * torch.sigmoid(u)

    def right_inverse(self, x: Tensor) -> Tensor:
        share = (x.double() - self.low) / (self.high - self.low)
        return (share / (1 - share)).log().to(x.dtype)

    def contains(self, x: Tensor) -> bool:
        return bool(((x > self.low) & (x < self.high)).all())

    def support(self) -> str:
        return f"a number in ({self.low:g}, {self.high:g})"

    def extra_repr(self) -> str:
        return f"low={self.low:g}, high={self.high:g}"


def natural_parameter(module: nn.Module, name: str, value: float | Sequence[float] | Tensor,
                      constraint: Constraint, *, dtype: torch.dtype = torch.float32) -> None:
    """Give `module` a trainable parameter `name` with natural value `value` under `constraint`.

    Raises ValueError naming the parameter when a value lies outside the constraint's support.
    """
    natural = torch.as_tensor(value, dtype=torch.float64)
    if not constraint.contains(natural):
        raise ValueError(f"{type(module).__name__}.{name} must be {constraint.support()}, got {value}")
    unconstrained = constraint.right_inverse(natural)  # float64, then rounded once
    module.register_parameter(name, nn.Parameter(natural.to(dtype)))
    cls = type(module)
    parametrize.register_parametrization(module, name, constraint)
    if type(module) is not cls:  # torch's subclass "Parametrized<cls>": keep the name errors and reprs show
        type(module).__name__, type(module).__qualname__ = cls.__name__, cls.__qualname__
    with torch.no_grad():
        getattr(module.parametrizations, name).original.copy_(unconstrained)


def unconstrained(module: nn.Module, name: str) -> Tensor:
    """The trainable u behind natural parameter `name` of `module`, with its gradient: log x (`Positive`), logit x
    (`UnitInterval`), what a formula on the log or logit scale reads exactly (no log of an exp)."""
    return getattr(module.parametrizations, name).original


def renamed_parameter(module: nn.Module, old: str, new: str) -> None:
    """Keep loading values that name a parameter of `module` by its former key `old` (e.g. "logit_p", now "new" =
    "parametrizations.p.original", the same unconstrained value): `load_state_dict` maps it, `current_keys` too."""
    renames = module.__dict__.setdefault("_renamed_parameters", {})
    if not renames:
        module.register_load_state_dict_pre_hook(_load_renamed)
    renames[old] = new


def current_keys(module: nn.Module, values: dict[str, object]) -> dict[str, object]:
    """`values` by `state_dict` key of `module`, with the former keys of `renamed_parameter` replaced by the present."""
    renames = {f"{prefix}.{old}".lstrip("."): f"{prefix}.{new}".lstrip(".") for prefix, owner in module.named_modules()
               for old, new in owner.__dict__.get("_renamed_parameters", {}).items()}
    return {renames.get(key, key): value for key, value in values.items()}


def _load_renamed(module: nn.Module, state_dict: dict[str, Tensor], prefix: str, *_: object) -> None:
    for old, new in module.__dict__["_renamed_parameters"].items():
        if prefix + old in state_dict:
            state_dict[prefix + new] = state_dict.pop(prefix + old)


def natural_name(name: str) -> str:
    """The natural name of a parameter: "a.parametrizations.beta.original" -> "a.beta"; others unchanged."""
    return _PARAMETRIZED.sub(r"\1\2", name)


def _owner(module: nn.Module, natural: str) -> tuple[nn.Module, str]:
    """The submodule that holds the attribute of natural name `natural`, and the attribute's name."""
    owner, _, attribute = natural.rpartition(".")
    return module.get_submodule(owner), attribute


def natural_parameters(module: nn.Module) -> dict[str, Tensor]:
    """Every parameter of `module` by natural name, in natural units (detached): the values to report."""
    values = {}
    for name, parameter in module.named_parameters():
        natural = natural_name(name)
        if natural == name:
            values[name] = parameter.detach()
        else:
            owner, attribute = _owner(module, natural)
            values[natural] = getattr(owner, attribute).detach()
    return values


def natural_gradients(module: nn.Module) -> dict[str, Tensor]:
    """d loss / d x by natural name, for every parameter with a `.grad`: (d loss / d u) / (dx / du), elementwise."""
    gradients = {}
    for name, parameter in module.named_parameters():
        if parameter.grad is None:
            continue
        natural = natural_name(name)
        if natural == name:
            gradients[name] = parameter.grad
            continue
        owner, attribute = _owner(module, natural)
        (constraint,) = getattr(owner.parametrizations, attribute)
        u = parameter.detach().requires_grad_()
        (slope,) = torch.autograd.grad(constraint(u).sum(), u)  # dx/du, elementwise constraints only
        gradients[natural] = parameter.grad / slope
    return gradients


def unconstrained_value(module: nn.Module, name: str) -> Tensor:
    """The value of parameter `name` (from `named_parameters()`) that gives `module` its present natural value.

    That is the stored tensor itself, unless later parametrizations (e.g. a network's output) compute the natural
    value; then it is the first constraint's inverse of that value. Detached.
    """
    natural = natural_name(name)
    owner, attribute = _owner(module, natural)
    value = getattr(owner, attribute).detach()
    if natural == name:  # a plain parameter, or an attribute some parametrization computes
        return value
    chain = getattr(owner.parametrizations, attribute)
    return chain.original.detach() if len(chain) == 1 else chain[0].right_inverse(value)


def load_values(module: nn.Module, values: Mapping[str, Tensor | float | Sequence[float]], *, prefix: str = ""
                ) -> None:
    """Set parameters and buffers of `module` from `values`, each keyed by its natural name in natural units
    ("transmission.beta_per_day": 0.05, as `natural_parameters` reports it) or by its `state_dict` key in stored
    units ("transmission.parametrizations.beta_per_day.original": log 0.05, as `named_parameters()` and a fit's
    draws name it); a leading `prefix` is dropped first (e.g. "model.", where a calibration problem holds the model
    as `model`), and former keys (`renamed_parameter`) map to the present ones. Names left out keep their values.

    Unlike `load_state_dict(strict=False)`, an unknown name is a KeyError listing the known ones, and a value of the
    wrong shape, or outside its parameter's constraint, a ValueError naming it.
    """
    state = module.state_dict()
    by_natural = {natural_name(key): key for key in state if natural_name(key) != key}
    given = current_keys(module, {name[len(prefix):] if prefix and name.startswith(prefix) else name: name
                                  for name in values})  # {key, former keys renamed: the name as given}
    loaded, unknown = {}, []
    for key, name in given.items():
        value = values[name]
        if key in state:
            loaded[key] = _checked(name, torch.as_tensor(value), state[key]).to(state[key].dtype)
        elif key in by_natural:
            loaded[by_natural[key]] = _stored(module, name, key, torch.as_tensor(value, dtype=torch.float64))
        else:
            unknown.append(name)
    if unknown:
        known = ", ".join(natural_name(key) for key in state)
        raise KeyError(f"parameters {unknown} are not in {type(module).__name__} (its parameters and buffers, by "
                       f"natural name{f' after the prefix {prefix!r}' if prefix else ''}: {known}; or by state_dict "
                       "key)")
    module.load_state_dict(loaded, strict=False)


def _checked(name: str, value: Tensor, like: Tensor) -> Tensor:
    """`value`, refused by `name` unless it has the shape of `like`."""
    if value.shape != like.shape:
        raise ValueError(f"parameter {name} has shape {list(value.shape)}, the model's {list(like.shape)}")
    return value


def _stored(module: nn.Module, name: str, natural: str, value: Tensor) -> Tensor:
    """The stored (unconstrained) value u that gives the natural parameter `natural` of `module` the value x."""
    owner, attribute = _owner(module, natural)
    chain = getattr(owner.parametrizations, attribute)
    _checked(name, value, getattr(owner, attribute))
    if len(chain) != 1:
        raise ValueError(f"parameter {name} is computed by {len(chain)} parametrizations (e.g. a network's output); "
                         f"give its stored value by state_dict key instead")
    (constraint,) = chain
    if isinstance(constraint, Constraint) and not constraint.contains(value):
        raise ValueError(f"parameter {name} must be {constraint.support()}, got {value.tolist()}")
    return constraint.right_inverse(value).to(chain.original.dtype)
