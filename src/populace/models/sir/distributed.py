"""`PartitionedSIR`: one rank's share of an `SIR` run on `torch.distributed`, the same epidemic bit for bit.

Each rank steps its own agents (a contiguous id range, `populace.distributed.Partition`) with the one-process
model's substeps and parameters: draws are keyed on global ids, infection pressure is an exact integer sum over own
and ghost contacts (`HaloContacts`), and the counts it records are int64 sums over ranks. So daily counts and final
stages are identical on any number of processes, and equal to `SIR.run`'s (see docs/distributed.md for the one
caveat: a tie between float32 uniforms at the cut of the initial infections).

Launch on 2 processes of this machine (rank 0 prints the counts and writes `--out`):

    torchrun --nproc-per-node 2 -m populace.models.sir.distributed --agents 100000 --days 100
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from populace import arguments
from populace.core import AgentTable, Model, World, rng
from populace.core.parameters import unconstrained
from populace.distributed import HaloContacts, Partition, init_process_group, smallest, sum_counts
from populace.models.sir.model import SIR, STAGES, Stage, Transmission


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
        self.partition, self.group = partition, group
        self.rank = dist.get_rank(group)
        self.n_agents, self.initial_infected = model.n_agents, model.initial_infected
        contacts = HaloContacts.from_layer(model.transmission.contacts, partition, group=group)
        self.transmission = Transmission(contacts, float(model.transmission.beta_per_day.detach()))
        self.transmission.parametrizations.beta_per_day.original = unconstrained(model.transmission, "beta_per_day")
        self.recovery = model.recovery

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


def main(argv: list[str] | None = None) -> int:
    """Entry point for `torchrun ... -m populace.models.sir.distributed`: SIR on an Erdős–Rényi network."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--agents", type=arguments.positive_int, default=100_000)
    parser.add_argument("--contacts", type=arguments.positive_float, default=20.0, help="mean contacts per agent")
    parser.add_argument("--network-seed", type=arguments.non_negative_int, default=0)
    parser.add_argument("--beta", type=arguments.positive_float, default=0.03,
                        help="infection hazard per day per infectious contact")
    parser.add_argument("--infectious-days", type=float, default=5.0, help="mean days infectious (>= 1)")
    parser.add_argument("--initial-infected", type=arguments.positive_int, default=10)
    parser.add_argument("--days", type=arguments.non_negative_int, default=100)
    parser.add_argument("--seed", type=arguments.non_negative_int, default=0)
    parser.add_argument("--threads", type=arguments.positive_int, default=1, help="torch threads per process")
    parser.add_argument("--out", type=Path, default=None, help="Parquet file for the daily counts (rank 0 writes)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        env = init_process_group()
    except ValueError as err:  # not started by a launcher, or its variables are wrong
        parser.error(str(err))
    try:
        model = SIR.random_network(args.agents, contacts_per_agent=args.contacts, network_seed=args.network_seed,
                                   beta_per_day=args.beta, infectious_days=args.infectious_days,
                                   initial_infected=args.initial_infected)
        local = PartitionedSIR(model, Partition.even(args.agents, env.world_size))
        traj = local.run(args.days, seed=args.seed, progress=False)
        if env.rank == 0:
            final = {name: int(traj[name][-1]) for name in ("susceptible", "infectious", "recovered")}
            print(f"SIR on {env.world_size} process(es), {args.agents:,} agents, {args.days} days: {final}")
            if args.out is not None:
                print(f"trajectory: {traj.to_parquet(args.out)}")
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
