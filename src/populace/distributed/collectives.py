"""Reductions across ranks: integer counts (exact, whatever the order), gradients, rows gathered, global minima."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from populace.distributed.partition import Partition


def sum_counts(counts: Tensor, *, group: Any = None) -> Tensor:
    """The sum over ranks of integer `counts` (any shape), as a new int64 tensor: integer sums do not depend on the
    order ranks are added in, so every process count gives the same totals."""
    if counts.is_floating_point() or counts.is_complex():
        raise TypeError(f"counts must be integers (sums of floats depend on the order of the ranks), got "
                        f"{counts.dtype}; pass counts.round().long() for whole-number floats")
    total = counts.to(torch.int64, copy=True)
    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
    return total


def sum_gradients(module: nn.Module, *, group: Any = None) -> None:
    """Add up each parameter's `.grad` over ranks, in place: parameters are replicated, each rank's gradient is its
    agents' share of the loss, so the sum is the whole population's gradient. A collective: every rank calls it."""
    for parameter in module.parameters():
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)  # keeps every rank's all_reduce calls in step
        dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM, group=group)


def gather_rows(local: Tensor, partition: Partition, *, group: Any = None) -> Tensor:
    """The whole population's rows [N, ...] on every rank, from each rank's own rows [n_r, ...] (for checks and
    small outputs: it holds N rows per process)."""
    rank = dist.get_rank(group)
    if local.shape[:1] != (partition.size(rank),):
        raise ValueError(f"rank {rank} owns {partition.size(rank)} agents but passed {list(local.shape)} rows")
    as_bytes = local.dtype == torch.bool  # gloo has no bool
    send = local.to(torch.uint8) if as_bytes else local
    longest = max(partition.size(r) for r in range(partition.n_ranks))
    padded = send.new_zeros((longest, *send.shape[1:]))
    padded[: send.shape[0]] = send
    parts = [torch.empty_like(padded) for _ in range(partition.n_ranks)]
    dist.all_gather(parts, padded, group=group)
    rows = torch.cat([p[: partition.size(r)] for r, p in enumerate(parts)])
    return rows.bool() if as_bytes else rows


def smallest(keys: Tensor, k: int, *, group: Any = None) -> Tensor:
    """The k smallest of the distinct int64 `keys` held across ranks (each rank passes its own), ascending, on every
    rank: each rank sends its k smallest, so the traffic is k keys per rank whatever N."""
    if keys.dtype != torch.int64:
        raise TypeError(f"keys must be int64, got {keys.dtype}")
    size = dist.get_world_size(group)
    local = torch.sort(keys).values[:k]
    padded = torch.full((k,), torch.iinfo(torch.int64).max, dtype=torch.int64)
    padded[: local.numel()] = local
    parts = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded, group=group)
    everything = torch.sort(torch.cat(parts)).values[:k]
    total = sum_counts(torch.tensor(keys.numel()), group=group)
    if int(total) < k:
        raise ValueError(f"asked for the {k} smallest keys but the ranks hold {int(total)} in all")
    return everything
