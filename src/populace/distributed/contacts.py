r"""`HaloContacts`: one rank's rows of a contact layer, aggregated exactly over own agents and ghosts.

y_i = sum_j w_ij x_j for the agents i of this rank, x_j read from its owner through the `HaloPlan`. The sum is exact,
so every partition gives the same y bit for bit: weights must be whole numbers (an unweighted layer has w = 1) and
the products are summed in float64, exact for integer-valued x (0/1 infection indicators, counts) up to 2**53.
For fractional weights, quantise them first, w = q * round(w / q) with beta scaled by q:
`layer.with_weight(torch.round(layer.weight / q))`.
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
    """A rank's contacts (the `Contacts` protocol on its n_local agents): rows [E] and columns [E] into [own | ghosts],
    integer weights [E] (None: all 1), and the plan that fetches the ghosts' values."""

    rows: Tensor
    col: Tensor
    weight: Tensor | None

    def __init__(self, plan: HaloPlan, rows: Tensor, col: Tensor, weight: Tensor | None = None):
        super().__init__()
        self.plan = plan
        self.register_buffer("rows", rows.to(torch.int64), persistent=False)
        self.register_buffer("col", col.to(torch.int64), persistent=False)
        self.register_buffer("weight", None if weight is None else weight.to(torch.float64), persistent=False)

    @classmethod
    def from_layer(cls, layer: ContactLayer, partition: Partition, *, group: Any = None) -> HaloContacts:
        """This rank's rows of `layer` (the whole population's CSR), with its halo plan (a collective)."""
        if not isinstance(layer, ContactLayer):
            raise TypeError(f"distributed runs need a ContactLayer (CSR contacts), got {type(layer).__name__}")
        if layer.n_agents != partition.n_agents:
            raise ValueError(f"the layer has {layer.n_agents} agents but the partition {partition.n_agents}")
        weight, rank = None, dist.get_rank(group)
        start, stop = partition.start(rank), partition.stop(rank)
        first, last = int(layer.crow[start]), int(layer.crow[stop])
        col = layer.col[first:last].to(torch.int64)
        rows = torch.repeat_interleave(torch.arange(stop - start), layer.crow[start: stop + 1].diff().long())
        if layer.weight is not None:
            weight = layer.weight[first:last].detach()
            fractional = weight != torch.round(weight)
            if bool(fractional.any()):
                raise ValueError(f"exact distributed aggregation needs whole-number weights; {int(fractional.sum())} "
                                 f"of rank {rank}'s weights are not (e.g. {weight[fractional][:3].tolist()}). "
                                 "Quantise them: layer.with_weight(torch.round(layer.weight / q)), beta times q")
        plan = HaloPlan.build(partition, col, group=group)
        return cls(plan, rows, plan.local_index(col), weight)

    @property
    def n_agents(self) -> int:
        """This rank's agents."""
        return self.plan.n_local

    def aggregate(self, x: Tensor, world: World | None = None, *, support: Tensor | None = None) -> Tensor:
        """y [n_local] (or [n_local, K]) like x; a collective (the halo exchange). `world` and `support` unused."""
        check_agent_values(x, self.n_agents, self.col.device)
        values = self.plan.with_ghosts(x)[self.col].to(torch.float64)  # [E] (or [E, K])
        if self.weight is not None:
            values = values * (self.weight if x.dim() == 1 else self.weight.unsqueeze(1))
        y = torch.zeros((self.n_agents, *x.shape[1:]), dtype=torch.float64, device=x.device)
        return y.index_add(0, self.rows, values).to(x.dtype)

    def extra_repr(self) -> str:
        return (f"rank={self.plan.rank}, n_agents={self.n_agents}, n_ghosts={self.plan.n_ghosts}, "
                f"n_edges={self.col.numel()}, weighted={self.weight is not None}")
