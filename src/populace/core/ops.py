"""Tensor operations the hot paths of a day need, faster on the CPU than their plain PyTorch spelling, and the
logic of 0/1 states written once for both modes.

A yes/no state of each agent (employed, isolating, infected today) or a draw is a bool [N] in fast mode and a float
[N] of 0/1 values carrying gradients in differentiable mode (straight-through draws, stage masses). On both, `*` is
"and" (bool * bool is bool); `without`, `either`, `complement`, `select`, `hard`, `attach_gradient` and
`group_total` give the rest, each the bool operation on bools and, on floats, the algebra whose gradient the
straight-through estimator needs; `indicator` makes such a column from a mask:

    lost = employed * world.bernoulli("job_loss", p)          # bool [N] | float [N]
    employed = either(without(employed, lost), hired)          # (e & ~l) | h  |  e - l + h
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def flatnonzero(mask: Tensor) -> Tensor:
    """The positions (int64 [K], ascending) where the 1-D bool `mask` is True.

    On the CPU through NumPy's `flatnonzero`, about ten times faster than `torch.nonzero` (and than indexing with
    a bool mask, which calls it) on millions of agents; elsewhere `torch.nonzero`.
    """
    if mask.dim() != 1 or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a 1-D bool tensor, got shape {list(mask.shape)} and dtype {mask.dtype}")
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.detach().numpy()))
    return mask.nonzero().squeeze(1)


def bincount(codes: Tensor, minlength: int) -> Tensor:
    """float [minlength]: how many of `codes` (integer codes 0..minlength-1 [N], any integer dtype) equal each code;
    on the CPU through NumPy, which counts uint8 codes without widening them."""
    if codes.device.type == "cpu":
        return torch.from_numpy(np.bincount(codes.numpy(), minlength=minlength)).float()
    return torch.bincount(codes.long(), minlength=minlength).float()


def count_where(groups: Tensor, mask: Tensor, n_groups: int) -> Tensor:
    """float [n_groups]: how many agents with `mask` True each group has (groups: integer codes 0..n_groups-1 [N])."""
    return bincount(groups[flatnonzero(mask)], n_groups)


class _GroupSum(torch.autograd.Function):
    """out[g] = sum of values[i] over the agents i of group g; backward gathers the gradient by group."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, values: Tensor, groups: Tensor, n_groups: int) -> Tensor:
        ctx.groups = groups  # the agents' own (unchanging) group column: a reference, not a saved copy
        return values.new_zeros(n_groups).index_add_(0, groups.long(), values)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad[ctx.groups.long()], None, None


def group_sum(values: Tensor, groups: Tensor, n_groups: int) -> Tensor:
    """[n_groups]: the sum of `values` [N] over the agents of each group (`groups`: codes 0..n_groups-1 [N]).

    Differentiable in `values`. Unlike `index_add`, it keeps no int64 copy of `groups` for the backward pass (it
    keeps a reference to `groups` itself, which must not be changed in place), so a long differentiable run that
    sums by region every day saves 8 bytes per agent per sum.
    """
    if values.shape != groups.shape or values.dim() != 1:
        raise ValueError(f"values and groups must both be [N], got {list(values.shape)} and {list(groups.shape)}")
    return _GroupSum.apply(values, groups, n_groups)


def indicator(mask: Tensor, *, differentiable: bool) -> Tensor:
    """The column of a yes/no state from bool `mask` [N]: the mask itself in fast mode, its float 0/1 (which later
    draws give gradients) in differentiable mode."""
    return mask.float() if differentiable else mask


def hard(x: Tensor) -> Tensor:
    """bool [*]: whether each state is set, from bools (itself) or from 0/1 floats (value > 1/2, detached)."""
    return x if x.dtype == torch.bool else x.detach() > 0.5


def without(a: Tensor, b: Tensor) -> Tensor:
    """a and not b, for b a part of a (e.g. the employed who lost their job): a & ~b on bools, a - b on floats.

    On floats the difference is what keeps the gradient right: it cancels b's derivative exactly where b moves out
    of a, which a * (1 - b) does not. A bool operand next to a float one is taken as 0/1.
    """
    if a.dtype == torch.bool and b.dtype == torch.bool:
        return a & ~b
    dtype = a.dtype if a.is_floating_point() else b.dtype
    return a.to(dtype) - b.to(dtype)


def either(a: Tensor, b: Tensor) -> Tensor:
    """a or b, for disjoint a and b (e.g. the still employed and the re-hired): a | b on bools, a + b on floats."""
    if a.dtype == torch.bool and b.dtype == torch.bool:
        return a | b
    dtype = a.dtype if a.is_floating_point() else b.dtype
    return a.to(dtype) + b.to(dtype)


def complement(x: Tensor) -> Tensor:
    """Not x: ~x on bools, 1 - x on floats (with the negated gradient)."""
    return ~x if x.dtype == torch.bool else 1 - x


def select(condition: Tensor, if_set: float, if_not: float) -> Tensor:
    """float [*]: `if_set` where `condition` holds, `if_not` elsewhere. On bools `torch.where`; on 0/1 floats
    if_not + condition (if_set - if_not), the same values with the derivative (if_set - if_not) d condition."""
    if condition.dtype == torch.bool:
        return torch.where(condition, if_set, if_not)
    return if_not + condition * (if_set - if_not)


def attach_gradient(x: Tensor, level: Tensor) -> Tensor:
    """x carrying the derivative of `level`, a 0-dim tensor of value 1 (e.g. rate / stop_grad(rate)): x * level on
    floats (the same values, d/dtheta = x d level/dtheta), x itself on bools (fast mode keeps no gradient)."""
    return x if x.dtype == torch.bool else x * level


def group_total(x: Tensor, groups: Tensor, n_groups: int) -> Tensor:
    """float [n_groups]: how many agents of each group have the state x [N] (bool: `count_where`, touching only
    the agents that have it), or the sum of its 0/1 floats with their gradient (`group_sum`)."""
    if x.dtype == torch.bool:
        return count_where(groups, x, n_groups)
    return group_sum(x, groups, n_groups)
