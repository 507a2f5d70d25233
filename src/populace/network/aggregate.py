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


def push_product(layer: ContactLayer, x: Tensor, max_edge_fraction: float = PUSH_MAX_EDGE_FRACTION) -> Tensor | None:
    """y = A x of a symmetric layer by pushing from the agents with x_j != 0 along their rows, or None.

    For A = A^T, y = sum_j x_j A[j, :]: the work is the contacts of the nonzero agents only. Returns None
    (use ``contact_product``) when the layer is not symmetric or when those agents hold more than
    ``max_edge_fraction`` of the layer's contacts, and off CPU (CUDA's index_add_ sums in no fixed order, so
    results would not repeat bit for bit). No autograd (weights are used detached).
    """
    if not layer.is_symmetric or layer.n_edges == 0 or x.device.type != "cpu":
        return None
    x = x.contiguous()
    active = x != 0 if x.dim() == 1 else (x != 0).any(1)
    rows = flatnonzero(active)  # [k] int64
    crow = layer.crow
    start = crow[rows].long()
    count = crow[rows + 1].long() - start  # [k] contacts of each active agent
    total = int(count.sum())
    if total > max_edge_fraction * layer.n_edges:
        return None
    y = torch.zeros_like(x)
    if total == 0:
        return y
    # edge ids of the active rows, row after row: start of the row + position within it
    edges = torch.arange(total, device=x.device) + torch.repeat_interleave(
        start - (count.cumsum(0) - count), count, output_size=total)
    values = torch.repeat_interleave(x[rows], count, dim=0, output_size=total)  # x_j on each of j's contacts
    weight = layer.weight
    if weight is not None:
        w = weight.detach()[edges].to(x.dtype)
        values = values * (w if x.dim() == 1 else w.unsqueeze(1))
    return y.index_add_(0, layer.col[edges], values)


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


def aggregate(layer: ContactLayer, x: Tensor) -> Tensor:
    r"""y_i = sum_j w_ij x_j over the contacts j of agent i in ``layer``; x [N] or [N, K], y like x.

    Differentiable in x and in ``layer.weight`` when they require grad; under ``torch.no_grad()`` (or when
    nothing requires grad) it is the bare sparse product, with no autograd node.
    """
    check_agent_values(x, layer.n_agents, layer.device)
    weight = layer.weight
    needs_grad = x.requires_grad or (weight is not None and weight.requires_grad)
    if not (needs_grad and torch.is_grad_enabled()):
        y = push_product(layer, x)
        return contact_product(layer, x) if y is None else y
    return ContactAggregation.apply(x, weight, layer)
