"""`PartitionedSIR`: one rank's share of an `SIR` run on `torch.distributed`, the same epidemic bit for bit.

Each rank steps its own agents (a contiguous id range, `populace.distributed.Partition`) with the one-process
model's substeps and parameters: draws are keyed on global ids, infection pressure is an exact integer sum over own
and ghost contacts (`HaloContacts`), and the counts it records are int64 sums over ranks. So daily counts and final
stages are identical on any number of processes, and equal to `SIR.run`'s (see docs/distributed.md for the one
caveat: a tie between float32 uniforms at the cut of the initial infections).

Launch on 2 processes of this machine (`populace run sir --distributed` under torchrun; rank 0 writes the outputs):

    populace run sir --agents 100000 --days 100 --nproc 2
    torchrun --nproc-per-node 2 -m populace run sir --agents 100000 --days 100 --distributed
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from populace.core import AgentTable, Model, World, rng
from populace.core.parameters import unconstrained
from populace.distributed import HaloContacts, Partition, smallest, sum_counts
from populace.models.sir.model import SIR, STAGES, Recovery, Stage, Transmission


class PartitionedSIR(Model):
    """The agents of this process's rank of `model` (an `SIR` on a `ContactLayer`); building it is a collective.

    Shares `model`'s parameters (a gradient on any rank reaches them; `populace.distributed.sum_gradients` adds the
    ranks' shares). `observe` returns population totals on every rank; in differentiable mode their gradient is
    this rank's share, so `loss(trajectory).backward()` on every rank then `sum_gradients(model)` gives the
    one-process gradient of the loss.
    """

    def __init__(self, model: SIR, partition: Partition, *, group: Any = None):
        super().__init__()
        if partition.n_agents != model.n_agents:
            raise ValueError(f"the partition covers {partition.n_agents} agents but the model has {model.n_agents}")
        contacts = HaloContacts.from_layer(model.transmission.contacts, partition, group=group)
        self._join(contacts, partition, model.initial_infected, group)
        self.transmission = Transmission(contacts, float(model.transmission.beta_per_day.detach()))
        self.transmission.parametrizations.beta_per_day.original = unconstrained(model.transmission, "beta_per_day")
        self.recovery = model.recovery

    @classmethod
    def from_part(cls, contacts: HaloContacts, *, beta_per_day: float = 0.03, infectious_days: float = 5.0,
                  initial_infected: int = 10, group: Any = None) -> PartitionedSIR:
        """This rank's SIR on contacts built without the whole layer (`populace.distributed.load_part`), with its
        own parameters (`SIR`'s defaults): the same run as `SIR(layer, N, ...)` cut by `PartitionedSIR`."""
        part = cls.__new__(cls)
        Model.__init__(part)
        partition = contacts.plan.partition
        if not 0 < initial_infected <= partition.n_agents:
            raise ValueError(f"initial_infected must be in [1, n_agents={partition.n_agents}], got {initial_infected}")
        part._join(contacts, partition, initial_infected, group)
        part.transmission = Transmission(contacts, beta_per_day)
        part.recovery = Recovery(infectious_days)
        return part

    def _join(self, contacts: HaloContacts, partition: Partition, initial_infected: int, group: Any) -> None:
        self.partition, self.group = partition, group
        self.rank = dist.get_rank(group)
        if contacts.plan.rank != self.rank or contacts.n_agents != partition.size(self.rank):
            raise ValueError(f"the contacts are rank {contacts.plan.rank}'s ({contacts.n_agents} agents), not rank "
                             f"{self.rank}'s ({partition.size(self.rank)})")
        self.n_agents, self.initial_infected = partition.n_agents, initial_infected

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        ids = self.partition.ids(self.rank, dtype=torch.int32)
        bits = rng.random_bits(seed, 0, "initial_infected", ids) >> 9  # the float32 uniform's 23 bits: same order
        chosen = smallest((bits << 32) | ids.long(), self.initial_infected, group=self.group) & 0xFFFFFFFF
        codes = torch.full((ids.numel(),), Stage.S, dtype=torch.uint8)
        mine = chosen[(chosen >= self.partition.start(self.rank)) & (chosen < self.partition.stop(self.rank))]
        codes[mine - self.partition.start(self.rank)] = Stage.I
        newly_infected = torch.zeros(ids.numel(), dtype=torch.float32 if differentiable else torch.bool)
        table = AgentTable({"id": ids, "stage": STAGES.encode(codes, differentiable=differentiable),
                            "newly_infected": newly_infected})
        return World.of(table, seed=seed, differentiable=differentiable)

    forward = SIR.forward  # the same day: transmission (over own and ghost agents), then recovery

    def observe(self, world: World) -> dict[str, Tensor]:
        counts = STAGES.counts(world.agents.stage)
        local = torch.cat([counts, world.agents.newly_infected.sum(dtype=counts.dtype).unsqueeze(0)])  # [4]
        total = sum_counts(local.detach().round().long(), group=self.group)
        if world.differentiable:  # value: the total; gradient: this rank's share
            total = local + (total.to(local.dtype) - local).detach()
        return dict(zip(("susceptible", "infectious", "recovered", "new_infections"), total, strict=True))
