r"""Contact aggregation y_i = sum_j w_ij x_j: one sparse product; its backward saves nothing per edge.

Forward: y = A x with A the layer's CSR matrix (row i lists the contacts of agent i), computed by
``torch.sparse_csr_tensor(crow, col, w) @ x`` (MKL on CPU, cuSPARSE on CUDA) on the layer's own int32
indices: no per-call copy to int64, and on CPU int32 is also the faster kernel
(see ``benchmarks/aggregate.py``). Without autograd (fast mode), a symmetric layer whose nonzero x_j hold few of
its contacts pushes from those agents along their rows instead (``push_product``): the work then follows the
infectious agents, not the edge count.

Backward: grad_x = A^T grad_y (for a symmetric layer A^T = A, so the layer itself is reused; otherwise its
transpose is built once and cached on the layer), and, only when the weights require grad,
grad_w[e] = sum_k grad_y[row_e, k] x[col_e, k], a sampled dense product on A's pattern. The only tensor saved
for backward is x (per agent, and only when the weights require grad): nothing with one entry per edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from populace.core.ops import flatnonzero

if TYPE_CHECKING:
    from populace.network.graph import ContactLayer

SUPPORTED_DTYPES = (torch.float32, torch.float64)
PUSH_MAX_EDGE_FRACTION = 1 / 16
"""Without autograd, a symmetric layer pushes from the nonzero agents when they hold at most this share of its
contacts (pushing costs a few times more per contact than the full product; see ``push_product``)."""


def check_agent_values(x: Tensor, n_agents: int, device: torch.device, what: str = "x") -> None:
    """Refuse x unless it is a float32/float64 tensor of shape [N] or [N, K] on ``device``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor of shape [N] or [N, K], got {type(x).__name__}.")
    if x.dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{what} must be float32 or float64, got {x.dtype}. Cast it first, e.g. {what}.float()."
        )
    if x.dim() not in (1, 2) or x.shape[0] != n_agents:
        raise ValueError(
            f"{what} must have shape [N] or [N, K] with N = n_agents = {n_agents}, got {tuple(x.shape)}. "
            "Rows are agents: one value (or K values) per agent."
        )
    if x.device != device:
        raise ValueError(
            f"{what} is on {x.device} but the contact layer is on {device}. "
            f"Move one of them, e.g. layer.to({str(x.device)!r})."
        )


def contact_product(layer: ContactLayer, x: Tensor) -> Tensor:
    """y = A x for x [N] or [N, K], without autograd (weights are used detached); y has x's dtype."""
    return layer.to_sparse_csr(x.dtype) @ x.contiguous()


def pays_to_push(layer: ContactLayer, rows: Tensor, max_edge_fraction: float = PUSH_MAX_EDGE_FRACTION) -> bool:
    """Whether pushing from `rows` (int64 [k]) beats the full product: the layer is symmetric and on CPU (CUDA's
    index_add_ sums in no fixed order, so results would not repeat bit for bit), and `rows` hold at most
    ``max_edge_fraction`` of its contacts."""
    if not layer.is_symmetric or layer.n_edges == 0 or rows.device.type != "cpu":
        return False
    crow = layer.crow
    return int(crow[rows + 1].long().sum() - crow[rows].long().sum()) <= max_edge_fraction * layer.n_edges


def nonzero_rows(x: Tensor) -> Tensor:
    """The agents with x_j != 0 (any column of x [N, K]), int64 [k]."""
    return flatnonzero(x != 0 if x.dim() == 1 else (x != 0).any(1))


def _row_edges(layer: ContactLayer, rows: Tensor) -> tuple[Tensor, Tensor]:
    """(edge ids of `rows`, row after row [E], contacts of each row [k])."""
    start = layer.crow[rows].long()
    count = layer.crow[rows + 1].long() - start  # [k]
    total = int(count.sum())
    # edge ids: start of the row + position within it
    edges = torch.arange(total, device=rows.device) + torch.repeat_interleave(
        start - (count.cumsum(0) - count), count, output_size=total)
    return edges, count


def _weighted(layer: ContactLayer, edges: Tensor, values: Tensor) -> Tensor:
    weight = layer.weight
    if weight is None:
        return values
    w = weight.detach()[edges].to(values.dtype)
    return values * (w if values.dim() == 1 else w.unsqueeze(1))


def _push(layer: ContactLayer, x: Tensor, rows: Tensor) -> Tensor:
    """y = sum_{j in rows} x_j A[j, :] (A symmetric): scatter x_j onto the contacts of each row."""
    edges, count = _row_edges(layer, rows)
    values = torch.repeat_interleave(x[rows], count, dim=0, output_size=edges.numel())  # x_j on each of j's contacts
    return torch.zeros_like(x).index_add_(0, layer.col[edges], _weighted(layer, edges, values))


def _pull(layer: ContactLayer, g: Tensor, rows: Tensor) -> Tensor:
    """(A g)_j on `rows`, 0 elsewhere: gather g over the contacts of each row."""
    edges, count = _row_edges(layer, rows)
    values = _weighted(layer, edges, g[layer.col[edges].long()])
    owner = torch.repeat_interleave(rows, count, output_size=edges.numel())
    return torch.zeros_like(g).index_add_(0, owner, values)


def push_product(layer: ContactLayer, x: Tensor, max_edge_fraction: float = PUSH_MAX_EDGE_FRACTION) -> Tensor | None:
    """y = A x of a symmetric layer by pushing from the agents with x_j != 0 along their rows, or None.

    For A = A^T, y = sum_j x_j A[j, :]: the work is the contacts of the nonzero agents only. Returns None
    (use ``contact_product``) when it does not pay (``pays_to_push``). No autograd (weights are used detached).
    """
    if not layer.is_symmetric or x.device.type != "cpu":
        return None
    x = x.contiguous()
    rows = nonzero_rows(x)
    return _push(layer, x, rows) if pays_to_push(layer, rows, max_edge_fraction) else None


class PushAggregation(torch.autograd.Function):
    """Autograd function for y = A x of a symmetric layer, pushed from the agents `rows` where x != 0.

    Backward: grad_x = A grad_y on `rows` only, 0 elsewhere: exact when the gradient reaching x off `rows` is never
    used (the ``support`` promise of `aggregate`). Saves only `rows` ([k] int64).
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, rows: Tensor, layer: ContactLayer) -> Tensor:
        ctx.layer = layer
        ctx.save_for_backward(rows)
        return _push(layer, x, rows)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Tensor, None, None]:
        (rows,) = ctx.saved_tensors
        return _pull(ctx.layer, grad_y.contiguous(), rows), None, None


class ContactAggregation(torch.autograd.Function):
    """Autograd function for y = A x: backward grad_x = A^T grad_y, grad_w[e] = <grad_y[row_e], x[col_e]>.

    ``apply(x, weight, layer)``: ``weight`` must be ``layer.weight`` (or None); it is an input only so that
    autograd can route grad_w to it.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, weight: Tensor | None, layer: ContactLayer) -> Tensor:
        ctx.layer = layer  # the graph itself, not a saved intermediate
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(x)  # per agent: [N] or [N, K]
        return contact_product(layer, x)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        layer: ContactLayer = ctx.layer
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = contact_product(layer.transpose(), grad_y)
        if ctx.needs_input_grad[1]:
            (x,) = ctx.saved_tensors
            g2 = grad_y.reshape(layer.n_agents, -1).to(x.dtype)
            x2 = x.reshape(layer.n_agents, -1)
            pattern = layer.to_sparse_csr(x.dtype)
            # values of (g2 @ x2^T) at A's nonzeros, in edge order; beta=0 drops A's own values
            grad_w = torch.sparse.sampled_addmm(pattern, g2, x2.t(), beta=0.0).values()
            grad_w = grad_w.to(layer.weight.dtype)
        return grad_x, grad_w, None


def aggregate(layer: ContactLayer, x: Tensor, *, support: Tensor | None = None) -> Tensor:
    r"""y_i = sum_j w_ij x_j over the contacts j of agent i in ``layer``; x [N] or [N, K], y like x.

    Differentiable in x and in ``layer.weight`` when they require grad; under ``torch.no_grad()`` (or when
    nothing requires grad) it is the bare sparse product, with no autograd node.

    ``support`` (sorted int64 rows) promises that x is 0 outside these rows and that the gradient reaching x there
    is never used (whatever x is computed from has a zero derivative there: e.g. x = g * f * m with f_j = 0). Then,
    as in fast mode, a symmetric layer pushes from these rows and pulls their gradient back (`PushAggregation`),
    so forward and backward cost the contacts of these agents, not every contact.
    """
    check_agent_values(x, layer.n_agents, layer.device)
    weight = layer.weight
    weight_needs_grad = weight is not None and weight.requires_grad
    if not ((x.requires_grad or weight_needs_grad) and torch.is_grad_enabled()):
        y = push_product(layer, x)
        return contact_product(layer, x) if y is None else y
    if support is not None and not weight_needs_grad and pays_to_push(layer, support):
        return PushAggregation.apply(x.contiguous(), support, layer)
    return ContactAggregation.apply(x, weight, layer)
