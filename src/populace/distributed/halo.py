r"""`HaloPlan`: which agents' values each rank sends to which, so that every rank sees its contacts on other ranks.

A rank owns agents [start, stop) (`Partition`) and the contact rows of those agents. The contacts it reads but does
not own are its *ghosts* (ascending global ids). The plan is built once per layer: each rank tells every owner which
of its agents it needs (one `all_to_all_single` of counts, one of ids); after that, each exchange of per-agent values
is one `all_to_all_single` of exactly the requested values (`exchange`), or, sending only the nonzero ones with
their slots, three small ones (`exchange_nonzero`: the push path's exchange of the infectious). On 2 ranks owning
[0, 2) and [2, 4) of the path 0 - 1 - 2 - 3: rank 0's ghost is agent 2, rank 1's is agent 1; rank 0 sends its row 1
to rank 1 and receives agent 2.

`HaloExchange` is the exchange as an autograd function: its backward is the reverse exchange (the gradients of the
ghosts go back to their owners and are added to the owners' gradients), so a loss summed over ranks has the
one-process gradient.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from populace.distributed.partition import Partition


def ghosts(partition: Partition, rank: int, contact_ids: Tensor) -> tuple[Tensor, tuple[int, ...]]:
    """(ghost ids, ascending int64 [G]; how many of them each rank owns, [W]) of `rank`, whose agents' contacts
    are the global ids `contact_ids` (any order, repeats allowed)."""
    ids = contact_ids.to(torch.int64).reshape(-1)
    outside = (ids < partition.start(rank)) | (ids >= partition.stop(rank))
    ghost_ids = torch.unique(ids[outside], sorted=True)
    counts = torch.bincount(partition.owner(ghost_ids), minlength=partition.n_ranks)
    return ghost_ids, tuple(int(c) for c in counts)


@dataclasses.dataclass(frozen=True, eq=False)
class HaloPlan:
    """One rank's halo for one layer.

    Attributes:
        partition, rank: who owns what, and which rank this plan is for.
        ghost_ids: int64 [G], the contacts owned elsewhere, ascending (so grouped by owner, in rank order).
        recv_counts: [W], ghosts received from each rank (0 from itself).
        send_rows: int64 [S], local rows of the agents sent, grouped by destination rank, ascending within a group.
        send_counts: [W], agents sent to each rank.
        group: the process group (None: the default one).
    """

    partition: Partition
    rank: int
    ghost_ids: Tensor
    recv_counts: tuple[int, ...]
    send_rows: Tensor
    send_counts: tuple[int, ...]
    group: Any = None

    @classmethod
    def build(cls, partition: Partition, contact_ids: Tensor, *, group: Any = None) -> HaloPlan:
        """The plan of this process's rank (a collective: every rank of `group` calls it), from the global ids of
        its agents' contacts."""
        rank, size = dist.get_rank(group), dist.get_world_size(group)
        if size != partition.n_ranks:
            raise ValueError(f"the partition has {partition.n_ranks} ranks but the process group {size}; build it "
                             f"with Partition.even(n_agents, {size})")
        ghost_ids, recv_counts = ghosts(partition, rank, contact_ids)
        send_counts = torch.empty(size, dtype=torch.int64)
        dist.all_to_all_single(send_counts, torch.tensor(recv_counts, dtype=torch.int64), group=group)
        sends = tuple(int(c) for c in send_counts)
        requested = torch.empty(sum(sends), dtype=torch.int64)
        dist.all_to_all_single(requested, ghost_ids, list(sends), list(recv_counts), group=group)
        return cls(partition, rank, ghost_ids, recv_counts, requested - partition.start(rank), sends, group)

    @property
    def n_local(self) -> int:
        """Agents this rank owns."""
        return self.partition.size(self.rank)

    @property
    def n_ghosts(self) -> int:
        return self.ghost_ids.numel()

    def local_index(self, ids: Tensor) -> Tensor:
        """Positions of global `ids` (owned or ghosts) in [own agents | ghosts], int64; others are a KeyError."""
        ids = ids.to(torch.int64)
        start, stop = self.partition.start(self.rank), self.partition.stop(self.rank)
        own = (ids >= start) & (ids < stop)
        slot = torch.searchsorted(self.ghost_ids, ids).clamp_(max=max(self.n_ghosts - 1, 0))
        is_ghost = self.ghost_ids[slot] == ids if self.n_ghosts else torch.zeros_like(own)
        found = own | is_ghost
        if not bool(found.all()):
            missing = ids[~found][:5].tolist()
            raise KeyError(f"ids {missing} are neither owned by rank {self.rank} nor among its ghosts; build the "
                           "plan from every contact id the rank reads")
        return torch.where(own, ids - start, self.n_local + slot)

    def exchange(self, x: Tensor) -> Tensor:
        """The ghosts' values, [G] or [G, K], from this rank's values x [n_local] or [n_local, K] (a collective;
        differentiable through `HaloExchange`)."""
        if x.shape[:1] != (self.n_local,):
            raise ValueError(f"x must have one row per agent of rank {self.rank} ({self.n_local}), got shape "
                             f"{list(x.shape)}")
        return HaloExchange.apply(x, self)

    def exchange_nonzero(self, x: Tensor) -> Tensor:
        """The ghosts' values, as `exchange` gives them, sending only the nonzero ones (int32 slot and value): less
        traffic when few boundary agents are nonzero (the infectious ones), for three collectives instead of one.
        Not differentiable (fast mode's exchange)."""
        if x.shape[:1] != (self.n_local,):
            raise ValueError(f"x must have one row per agent of rank {self.rank} ({self.n_local}), got shape "
                             f"{list(x.shape)}")
        size = self.partition.n_ranks
        sent = x.detach()[self.send_rows]  # [S] or [S, K], grouped by destination
        keep = sent != 0 if sent.dim() == 1 else (sent != 0).any(1)
        destination = _group_of_each(self.send_counts)  # [S]
        slot = torch.arange(sent.shape[0]) - _offsets(self.send_counts)[destination]  # position within the group
        counts = torch.bincount(destination[keep], minlength=size)
        received = torch.empty(size, dtype=torch.int64)
        dist.all_to_all_single(received, counts, group=self.group)
        out_counts, in_counts = tuple(int(c) for c in received), tuple(int(c) for c in counts)
        slots = _all_to_all(slot[keep].to(torch.int32), sum(out_counts), out_counts, in_counts, self.group)
        values = _all_to_all(sent[keep], sum(out_counts), out_counts, in_counts, self.group)
        ghost_values = x.new_zeros((self.n_ghosts, *x.shape[1:]))
        ghost_values[_offsets(self.recv_counts)[_group_of_each(out_counts)] + slots.long()] = values
        return ghost_values

    def with_ghosts(self, x: Tensor) -> Tensor:
        """[own agents | ghosts] values, [n_local + G] (or with K columns), indexed by `local_index`: the sparse
        exchange when x needs no gradient, the dense differentiable one when it does (whether it does must agree
        across ranks, as it does when every rank runs the same model: the two send different messages)."""
        needs_grad = x.requires_grad and torch.is_grad_enabled()
        return torch.cat([x, self.exchange(x) if needs_grad else self.exchange_nonzero(x)])


def _group_of_each(counts: tuple[int, ...]) -> Tensor:
    """For counts (2, 0, 1): [0, 0, 2], the group of each item when items come group by group."""
    return torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts, dtype=torch.int64))


def _offsets(counts: tuple[int, ...]) -> Tensor:
    """Where each group starts, [W]: for (2, 0, 1), [0, 2, 2]."""
    c = torch.tensor(counts, dtype=torch.int64)
    return torch.cumsum(c, 0) - c


def _all_to_all(values: Tensor, out_rows: int, out_counts: tuple[int, ...], in_counts: tuple[int, ...],
                group: Any) -> Tensor:
    """Rows `values` split by `in_counts` sent rank by rank; `out_rows` rows received, split by `out_counts`."""
    as_bytes = values.dtype == torch.bool  # gloo has no bool
    send = (values.to(torch.uint8) if as_bytes else values).contiguous()
    out = torch.empty((out_rows, *values.shape[1:]), dtype=send.dtype, device=values.device)
    dist.all_to_all_single(out, send, list(out_counts), list(in_counts), group=group)
    return out.bool() if as_bytes else out


class HaloExchange(torch.autograd.Function):
    """ghosts = x[send_rows] routed to the ranks that read them; backward: the reverse route, summed into grad x."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, plan: HaloPlan) -> Tensor:
        ctx.plan, ctx.shape = plan, x.shape  # type: ignore[attr-defined]
        return _all_to_all(x[plan.send_rows], plan.n_ghosts, plan.recv_counts, plan.send_counts, plan.group)

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_ghosts: Tensor) -> tuple[Tensor, None]:
        plan: HaloPlan = ctx.plan  # type: ignore[attr-defined]
        sent = _all_to_all(grad_ghosts, plan.send_rows.numel(), plan.send_counts, plan.recv_counts, plan.group)
        grad = torch.zeros(ctx.shape, dtype=grad_ghosts.dtype, device=grad_ghosts.device)  # type: ignore[attr-defined]
        return grad.index_add_(0, plan.send_rows, sent), None
