r"""`HaloContacts`: one rank's rows of a contact layer, aggregated exactly over own agents and ghosts.

y_i = sum_j w_ij x_j for the agents i of this rank, x_j read from its owner through the `HaloPlan`. The sum is exact,
so every partition gives the same y bit for bit: weights must be whole numbers (an unweighted layer has w = 1) and
the products are summed in float64, exact for integer-valued x (0/1 infection indicators, counts) up to 2**53.
For fractional weights, quantise them first, w = q * round(w / q) with beta scaled by q:
`layer.with_weight(torch.round(layer.weight / q), is_symmetric=layer.is_symmetric)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from populace.distributed.halo import HaloPlan
from populace.distributed.partition import Partition
from populace.network.aggregate import check_agent_values
from populace.network.graph import ContactLayer

if TYPE_CHECKING:
    from populace.core.world import World


class HaloContacts(nn.Module):
    """A rank's contacts (the `Contacts` protocol on its n_local agents): its rows of the layer as a square
    `ContactLayer` over [own agents | ghosts] (whole-number float64 weights; a ghost's row lists its contacts among
    the own agents when the layer is symmetric, and is empty otherwise), and the plan that fetches ghosts' values."""

    def __init__(self, plan: HaloPlan, local: ContactLayer):
        super().__init__()
        if local.n_agents != plan.n_local + plan.n_ghosts:
            raise ValueError(f"the local layer must span own agents and ghosts ({plan.n_local} + {plan.n_ghosts}), "
                             f"got {local.n_agents}")
        self.plan, self.local = plan, local

    @classmethod
    def from_layer(cls, layer: ContactLayer, partition: Partition, *, group: Any = None) -> HaloContacts:
        """This rank's rows of `layer` (the whole population's CSR), with its halo plan (a collective)."""
        if not isinstance(layer, ContactLayer):
            raise TypeError(f"distributed runs need a ContactLayer (CSR contacts), got {type(layer).__name__}")
        if layer.n_agents != partition.n_agents:
            raise ValueError(f"the layer has {layer.n_agents} agents but the partition {partition.n_agents}")
        rank = dist.get_rank(group)
        start, stop = partition.start(rank), partition.stop(rank)
        first, last = int(layer.crow[start]), int(layer.crow[stop])
        crow = layer.crow[start: stop + 1].long() - first
        weight = None if layer.weight is None else layer.weight[first:last]
        return cls.from_rows(partition, crow, layer.col[first:last], weight, is_symmetric=layer.is_symmetric,
                             group=group)

    @classmethod
    def from_rows(cls, partition: Partition, crow: Tensor, col: Tensor, weight: Tensor | None = None, *,
                  is_symmetric: bool, group: Any = None) -> HaloContacts:
        """This rank's rows of a layer, in CSR over its own agents: crow [n_local + 1] from 0, col [E] the global
        ids of the contacts, weight [E] or None (1); `is_symmetric`: the whole layer lists each contact both ways.
        Builds the halo plan (a collective). What `load_part` reads from Parquet, without the rest of the layer."""
        rank = dist.get_rank(group)
        n_own = partition.size(rank)
        if crow.shape != (n_own + 1,) or int(crow[0]) != 0 or int(crow[-1]) != col.numel():
            end = int(crow[-1]) if crow.numel() else None
            raise ValueError(f"crow must have rank {rank}'s {n_own} + 1 entries, from 0 to the {col.numel()} "
                             f"contacts, got shape {list(crow.shape)} ending at {end}")
        weight = None if weight is None else weight.detach().to(torch.float64)
        if weight is not None:
            fractional = weight != torch.round(weight)
            if bool(fractional.any()):
                raise ValueError(f"exact distributed aggregation needs whole-number weights; {int(fractional.sum())} "
                                 f"of rank {rank}'s weights are not (e.g. {weight[fractional][:3].tolist()}). "
                                 "Quantise them: layer.with_weight(torch.round(layer.weight / q), "
                                 "is_symmetric=layer.is_symmetric), beta times q")
        plan = HaloPlan.build(partition, col, group=group)
        n = plan.n_local + plan.n_ghosts
        rows = torch.repeat_interleave(torch.arange(plan.n_local), crow.diff().long())
        col = plan.local_index(col)  # [E], ghosts after own agents
        if is_symmetric:  # ghost rows list their own-agent contacts too: the local layer stays symmetric,
            to_ghost = col >= plan.n_local  # so fast mode pushes from the infectious (`push_product`)
            rows, col = torch.cat([rows, col[to_ghost]]), torch.cat([col, rows[to_ghost]])
            weight = None if weight is None else torch.cat([weight, weight[to_ghost]])
        order = torch.argsort(rows * n + col)  # CSR order: by row, then column
        degree = torch.bincount(rows, minlength=n)
        crow = torch.cat([degree.new_zeros(1), degree.cumsum(0)])
        local = ContactLayer(n, crow, col[order], None if weight is None else weight[order],
                             is_symmetric=is_symmetric, validate=False)
        return cls(plan, local)

    @property
    def n_agents(self) -> int:
        """This rank's agents."""
        return self.plan.n_local

    def aggregate(self, x: Tensor, world: World | None = None, *, support: Tensor | None = None) -> Tensor:
        """y [n_local] (or [n_local, K]) like x; a collective (the halo exchange). `world` and `support` unused."""
        check_agent_values(x, self.n_agents, self.local.device)
        y = self.local.aggregate(self.plan.with_ghosts(x).to(torch.float64))  # exact for whole numbers
        return y[: self.n_agents].to(x.dtype)

    def extra_repr(self) -> str:
        return f"rank={self.plan.rank}, n_agents={self.n_agents}, n_ghosts={self.plan.n_ghosts}"
