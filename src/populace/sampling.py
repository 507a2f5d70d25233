"""Differentiable discrete draws: straight-through Bernoulli and categorical, Gumbel-softmax.

Randomness is passed in, never drawn here: ``u`` holds uniforms in the open interval (0, 1), one per
draw, from the engine's counter-based RNG, so every draw is a deterministic function of (parameters, u).
With the same ``u`` both execution modes give the same sample:

- fast (``straight_through=False``): compact hard samples (bool, int64) with no autograd graph;
- differentiable (``straight_through=True``): the same hard sample as floats, whose gradient is the
  straight-through surrogate (Bengio, Leonard & Courville 2013, arXiv:1308.3432). ``gumbel_softmax``
  gives the relaxed (Concrete) sample and its straight-through hard version.

Checks: types, dtypes and shapes are always checked (they cost nothing). Range checks (probabilities in
[0, 1] and not NaN, rows summing to 1, u in (0, 1)) read every value and make a GPU synchronise; they run
when ``validate=True`` (the default). A hot loop whose inputs are checked elsewhere may pass
``validate=False``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.autograd.forward_ad as fwad
import torch.nn.functional as F  # noqa: N812 (PyTorch's own convention)
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

__all__ = ["active_coupling", "bernoulli", "categorical", "coupled", "gumbel", "gumbel_softmax"]

_U_FIX = ("Pass uniforms from the engine's counter-based RNG, which lie in the open interval (0, 1) "
          "(torch.rand can return exactly 0).")


if TYPE_CHECKING:
    from populace.core.coupling import DrawCoupling

_COUPLING: contextvars.ContextVar[DrawCoupling | None] = contextvars.ContextVar("populace_draw_coupling",
                                                                               default=None)


def active_coupling() -> DrawCoupling | None:
    """The draw coupling of the step being taken, or None outside a stochastic-derivative run
    (`populace.core.coupling`; `World.bernoulli` asks it for its draws)."""
    return _COUPLING.get()


@contextlib.contextmanager
def coupled(coupling: DrawCoupling) -> Iterator[DrawCoupling]:
    """Make `coupling` govern the Bernoulli draws taken inside the block."""
    token = _COUPLING.set(coupling)
    try:
        yield coupling
    finally:
        _COUPLING.reset(token)


def _require_float(name: str, x: object) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}. "
                        f"Wrap it first: torch.as_tensor({name}, dtype=torch.float32).")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}. "
                        f"Convert it first: {name}.float() (or .double()).")


def _require_categories(name: str, x: Tensor) -> None:
    if x.dim() == 0 or x.shape[-1] == 0:
        raise ValueError(f"{name} must have shape [*, K] with K >= 1 categories in the last dim, got shape "
                         f"{tuple(x.shape)}. For a single draw over K categories pass a [K] tensor.")


def _require_values(name: str, ok: Tensor, x: Tensor, expected: str, fix: str) -> None:
    """Raise a ValueError showing a few values of ``x`` where the bool mask ``ok`` is False."""
    if not bool(ok.all()):
        bad = x.detach()[~ok]
        raise ValueError(f"{name} must be {expected}; {bad.numel()} of {x.numel()} values are not, "
                         f"e.g. {bad[:3].tolist()}. {fix}")


def _require_uniforms(u: Tensor) -> None:
    _require_values("u", (u > 0) & (u < 1), u, "in the open interval (0, 1)", _U_FIX)


def _refuse_uncoupled_draw(p: Tensor) -> None:
    """In a stochastic-derivative run (`populace.gradients`), a draw whose probability moves with the parameter must
    go through `World.bernoulli`, where the run's coupling sees it; taken here it would be silently left out."""
    if active_coupling() is not None and fwad.unpack_dual(p).tangent is not None:
        raise RuntimeError("this draw's probability depends on the parameter of a stochastic-derivative run but it "
                           "is drawn by populace.sampling directly; draw it with world.bernoulli(stream, p) so the "
                           "run accounts for it")


def bernoulli(p: Tensor, u: Tensor, *, straight_through: bool = False,
              gradient: Literal["identity", "fired"] = "identity", validate: bool = True,
              among: Tensor | None = None) -> Tensor:
    r"""Bernoulli draw by inversion: x = 1[u < p], so P(x = 1) = p exactly when u ~ Uniform(0, 1).

    Shapes: p [*] and u [*] must match exactly; to share one p across many draws pass
    ``p.expand_as(u)`` (a view: nothing is copied). Returns x [*].

    ``straight_through=False``: x is a bool tensor with no gradient (fast mode).

    ``straight_through=True``: x = hard + (p - p.detach()) in p's dtype; its value is exactly the 0/1
    sample and dx/dp := 1. For a loss linear in x, L(x) = c x, the gradient is exact:
    d/dp E[c x] = c. For a nonlinear loss it is biased: the true derivative is
    d/dp E[L(x)] = L(1) - L(0), the estimator's mean is E[L'(x)]. Example: L(x) = (x - a)^2 has
    d/dp E[L] = 1 - 2a, while straight-through averages to 2(p - a).

    ``gradient="fired"`` changes the surrogate to dx/dp := x / p (x = hard * p / p.detach()): only draws
    that fired carry a gradient, scaled up by 1/p, so E[dx/dp] = 1 and linear losses stay exact. In
    chains of draws on a static network (infection passing along fixed contacts) the identity surrogate
    lets the gradient of agents that were *not* infected echo back and forth between neighbours; this one
    does not, and its bias there is far smaller (see tests/models/test_sir.py for measured figures).

    Args:
        p: probabilities in [0, 1], floating dtype.
        u: uniforms in the open interval (0, 1), floating dtype, one per draw.
        straight_through: return floats carrying the straight-through gradient instead of bools.
        gradient: the straight-through surrogate: "identity" (dx/dp = 1) or "fired" (dx/dp = x / p).
        validate: check that p lies in [0, 1] (no NaN) and u in (0, 1); costs one pass over each.
        among: like p, bool or (straight-through) a 0/1 float mass with its own gradient: the draws that count;
            x is ``among & x`` (bools) or ``among * x`` (floats), taken in the same autograd node.

    The straight-through draw is one autograd node that saves the sample as bools (and p for "fired", among when
    given): 1 to 9 bytes a draw, where the same formulas as separate operations would save 12 to 20.

    Raises:
        TypeError: p or u is not a floating-point tensor.
        ValueError: shapes differ, or (with ``validate``) a value is out of range.

    Example:
        >>> p = torch.tensor([0.0, 0.5, 1.0])
        >>> bernoulli(p, torch.tensor([0.25, 0.25, 0.75]))
        tensor([False,  True,  True])
    """
    _require_float("p", p)
    _require_float("u", u)
    if p.shape != u.shape:
        raise ValueError(f"p has shape {tuple(p.shape)} but u has shape {tuple(u.shape)}; they must "
                         "match (one uniform per draw). To share p across draws, pass p.expand_as(u).")
    if validate:
        _require_values("p", (p >= 0) & (p <= 1), p, "a probability in [0, 1] (not NaN)",
                        "Clamp it with p.clamp(0, 1), or trace the NaN with torch.autograd.detect_anomaly().")
        _require_uniforms(u)
    if gradient not in ("identity", "fired"):
        raise ValueError(f"gradient must be 'identity' or 'fired', got {gradient!r}")
    _refuse_uncoupled_draw(p)
    hard = u < p  # [*] bool
    if not straight_through:
        return hard if among is None else among.bool() & hard
    return _StraightThroughBernoulli.apply(p, hard, among, gradient == "fired")


class _StraightThroughBernoulli(torch.autograd.Function):
    """x = hard (or among * hard) as p's dtype; d x / d p = 1 ("identity") or hard / p ("fired"), times among;
    d x / d among = hard. Saves hard (bool), p for "fired", among when p needs its gradient."""

    @staticmethod
    def forward(ctx: FunctionCtx, p: Tensor, hard: Tensor, among: Tensor | None, fired: bool) -> Tensor:
        x = hard.to(p.dtype)
        ctx.fired = fired
        ctx.save_for_backward(hard, p.detach() if fired else None,
                              among if among is not None and ctx.needs_input_grad[0] else None)
        return x if among is None else among * x

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, Tensor | None, None]:
        hard, p, among = ctx.saved_tensors
        grad_p = grad_among = None
        if ctx.needs_input_grad[0]:
            grad_x = grad if among is None else grad * among
            grad_p = torch.where(hard, grad_x / p, 0.0) if ctx.fired else grad_x
        if ctx.needs_input_grad[2]:
            grad_among = grad * hard.to(grad.dtype)
        return grad_p, None, grad_among, None


def categorical(probs: Tensor, u: Tensor, *, straight_through: bool = False, validate: bool = True) -> Tensor:
    r"""Categorical draw by inverse CDF: x = min{k : u c_{K-1} < c_k}, c_k = p_0 + ... + p_k.

    So P(x = k) = p_k. Scaling u by the total c_{K-1} (1 up to rounding) and keeping the product
    strictly below it means rounding in the cumulative sum can never return index K nor a category
    with p_k = 0, even for u = 1 - 2^-24.

    Probabilities only, as in ``torch.distributions.Categorical(probs=...)``: from logits, pass
    ``logits.softmax(-1)``, or draw with ``gumbel_softmax(logits, u, temperature=t, hard=True)``
    (Gumbel-max, which needs K uniforms per draw instead of one).

    Shapes: probs [*, K], u [*] (one uniform per row; for one row shared by many draws pass
    ``probs.expand(*u.shape, K)``). Returns int64 indices [*], or with ``straight_through`` a
    one-hot [*, K].

    ``straight_through=True``: x = onehot + (probs - probs.detach()) in probs' dtype; its value is
    exactly the one-hot sample and dx/dprobs := identity. For a loss linear in x, L(x) = f . x, the
    gradient is exact: d/dprobs E[f . x] = f (so through probs = softmax(logits) the logits get
    J_softmax^T f). For a nonlinear loss it is biased, as for ``bernoulli``: the estimator's mean is
    E[grad L(x)] instead of (L(e_k))_k.

    Args:
        probs: probabilities over the last dim, each in [0, 1], rows summing to 1; floating dtype.
        u: uniforms in the open interval (0, 1), floating dtype, one per row.
        straight_through: return a one-hot float tensor carrying the straight-through gradient.
        validate: check probs in [0, 1] (no NaN), rows summing to 1 within sqrt(eps) of probs' dtype
            (1.5e-8 in float64, 3.5e-4 in float32), and u in (0, 1); costs one pass over each.

    Raises:
        TypeError: probs or u is not a floating-point tensor.
        ValueError: probs has no category dim, shapes do not match, or (with ``validate``) a value is
            out of range.

    Example:
        >>> probs = torch.tensor([[0.2, 0.0, 0.8], [0.2, 0.0, 0.8]])
        >>> categorical(probs, torch.tensor([0.1, 0.3]))
        tensor([0, 2])
    """
    _require_float("probs", probs)
    _require_float("u", u)
    _require_categories("probs", probs)
    n_categories = probs.shape[-1]
    if probs.shape[:-1] != u.shape:
        raise ValueError(f"probs has shape {tuple(probs.shape)}, so u must have shape "
                         f"{tuple(probs.shape[:-1])} (one uniform per row), got {tuple(u.shape)}. "
                         f"To share one row across draws, pass probs.expand(*u.shape, {n_categories}).")
    if validate:
        _require_values("probs", (probs >= 0) & (probs <= 1), probs, "a probability in [0, 1] (not NaN)",
                        "Build probabilities with logits.softmax(-1).")
        row_sum = probs.detach().sum(-1)  # [*]
        tolerance = math.sqrt(torch.finfo(probs.dtype).eps)
        _require_values("row sums of probs", (row_sum - 1).abs() <= tolerance, row_sum,
                        f"1 (within {tolerance:.2g})", "Normalize them: probs / probs.sum(-1, keepdim=True).")
        _require_uniforms(u)
    with torch.no_grad():
        dtype = torch.promote_types(probs.dtype, u.dtype)
        cdf = probs.detach().to(dtype).cumsum(-1)  # [*, K], c_k
        total = cdf[..., -1]  # [*]
        below_total = torch.nextafter(total, torch.zeros_like(total))  # largest float < total
        v = torch.minimum(u.to(dtype) * total, below_total)  # [*]
        index = torch.searchsorted(cdf, v.unsqueeze(-1), right=True).squeeze(-1)  # [*], #{k : c_k <= v}
    if not straight_through:
        return index
    onehot = F.one_hot(index, n_categories).to(probs.dtype)  # [*, K]
    return onehot + (probs - probs.detach())  # value: onehot exactly; gradient: identity


def gumbel(u: Tensor, *, validate: bool = True) -> Tensor:
    r"""Standard Gumbel noise by inversion: g = -log(-log u), so P(g <= t) = exp(-exp(-t)).

    Shapes: u [*] -> g [*], in u's dtype; differentiable in u.

    Args:
        u: uniforms in the open interval (0, 1), floating dtype.
        validate: check that u lies in (0, 1) (u = 0 or 1 would give infinite noise).

    Raises:
        TypeError: u is not a floating-point tensor.
        ValueError: (with ``validate``) a value of u is outside (0, 1).
    """
    _require_float("u", u)
    if validate:
        _require_uniforms(u)
    return -torch.log(-torch.log(u))


def gumbel_softmax(logits: Tensor, u: Tensor, *, temperature: float, hard: bool = False,
                   validate: bool = True) -> Tensor:
    r"""Gumbel-softmax (Concrete) sample: y = softmax((logits + g) / temperature), g = gumbel(u).

    The softmax is over the last dim. Jang, Gu & Poole 2017 (arXiv:1611.01144); Maddison, Mnih &
    Teh 2017 (arXiv:1611.00712). y lies on the simplex and is a smooth function of logits (pathwise
    gradient). As temperature -> 0 it tends to the one-hot of argmax(logits + g), which by the
    Gumbel-max trick is an exact sample of Categorical(softmax(logits)). The gradient's variance grows
    as temperature falls, and for temperature > 0 its mean differs from the gradient of the
    categorical expectation (biased, even for a loss linear in the sample).

    ``hard=True``: x = onehot(argmax(logits + g)) + (y - y.detach()); its value is exactly that
    Gumbel-max one-hot sample (at any temperature), its gradient that of the soft y (straight-through
    Gumbel-softmax).

    Shapes: logits [*, K] and u [*, K] must match exactly (K uniforms per draw); to share logits
    across draws pass ``logits.expand_as(u)``. Returns [*, K] in logits' dtype.

    Args:
        logits: unnormalized log-probabilities, floating dtype; -inf masks a category out.
        u: uniforms in the open interval (0, 1), floating dtype.
        temperature: tau > 0, finite; smaller is closer to one-hot.
        hard: return the straight-through one-hot sample instead of the soft y.
        validate: check logits for NaN and +inf, and u in (0, 1); costs one pass over each.

    Raises:
        TypeError: logits or u is not a floating-point tensor.
        ValueError: temperature is not finite and > 0, logits has no category dim, shapes differ, or
            (with ``validate``) a value is out of range.
    """
    _require_float("logits", logits)
    _require_float("u", u)
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}. Typical values "
                         "are 0.1 to 1; for exact hard samples at any temperature, pass hard=True.")
    _require_categories("logits", logits)
    if logits.shape != u.shape:
        raise ValueError(f"logits has shape {tuple(logits.shape)} but u has shape {tuple(u.shape)}; they "
                         "must match (one uniform per category and draw). To share logits across draws, "
                         "pass logits.expand_as(u).")
    if validate:
        _require_values("logits", logits < math.inf, logits, "a number or -inf (not NaN or +inf)",
                        "Trace the NaN with torch.autograd.detect_anomaly(), or mask categories with -inf.")
    z = logits + gumbel(u, validate=validate).to(logits.dtype)  # [*, K] perturbed logits
    y = torch.softmax(z / temperature, dim=-1)  # [*, K]
    if not hard:
        return y
    onehot = F.one_hot(z.argmax(-1), logits.shape[-1]).to(logits.dtype)  # [*, K] Gumbel-max sample
    return onehot + (y - y.detach())  # value: onehot exactly; gradient: that of y
