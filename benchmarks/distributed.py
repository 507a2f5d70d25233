"""Benchmark: SIR across processes (`PartitionedSIR` on gloo over 127.0.0.1), strong and weak scaling.

For each population size N it builds a synthetic population (`synthetic_population`: 5 regions, an Erdős–Rényi
`random` layer of --contacts per agent, the worst case for locality: a contact is on another rank with
probability (W - 1) / W), saves it (row groups by region), then for each process count W spawns W ranks that each
read only their rows (`load_part`, `Partition.even`) and run --days days in fast mode (the sparse exchange: only
infectious boundary agents) or, with --differentiable, the dense one (every ghost, every step; no backward).
Per step it records, summed over ranks: bytes sent by the collectives (halo exchanges and count reductions),
the seconds ranks spend inside collectives (communication, including waiting for the slower rank) and outside
them (compute); per layout: edge cut (directed contacts whose ends lie on two ranks), ghost share (ghosts / own
agents), peak memory per rank above its memory after imports, and the bytes its contacts hold (local CSR and
halo plan). Every run's daily counts must equal the 1-process
run's (checked).

    python benchmarks/distributed.py --agents 200000 1000000 --processes 1 2 --weak 1000000 --days 30 \\
        --work runs/bench-distributed [--json runs/bench-distributed/figures.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from populace.bench.run import machine

COLLECTIVES = ("all_to_all_single", "all_reduce", "all_gather")


class Meter:
    """Wraps torch.distributed's collectives: bytes this rank sends to other ranks, seconds spent inside them."""

    def __init__(self) -> None:
        self.bytes, self.seconds, self.calls = 0, 0.0, 0
        self.originals: dict[str, Callable[..., Any]] = {}

    def install(self) -> None:
        for name in COLLECTIVES:
            self.originals[name] = original = getattr(dist, name)
            setattr(dist, name, self._timed(name, original))

    def reset(self) -> None:
        self.bytes, self.seconds, self.calls = 0, 0.0, 0

    def _timed(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.bytes += _bytes_sent(name, *args, **kwargs)
            self.calls += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return call


def _bytes_sent(name: str, *args: Any, **kwargs: Any) -> int:
    """Bytes this rank sends to the others: all_to_all_single's input rows to other ranks, all_reduce's tensor
    (once: a ring or tree moves about that much per rank), all_gather's tensor to each other rank."""
    size, rank = dist.get_world_size(), dist.get_rank()
    if size == 1:
        return 0
    if name == "all_to_all_single":
        send = args[1]
        splits = args[3] if len(args) > 3 else kwargs.get("input_split_sizes")
        row = send[0].numel() * send.element_size() if send.numel() else 0
        if not splits:
            return send.numel() * send.element_size() * (size - 1) // size
        return row * (sum(splits) - splits[rank])
    tensor = args[1] if name == "all_gather" else args[0]
    copies = size - 1 if name == "all_gather" else 1
    return tensor.numel() * tensor.element_size() * copies


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def run_rank(rank: int, world_size: int, port: int, folder: str, layer_name: str, days: int, seed: int,
             beta: float, initial_infected: int, threads: int, differentiable: bool, out: str) -> None:
    from populace.distributed import Partition, load_part, sum_counts
    from populace.distributed.launch import ProcessEnv, init_process_group
    from populace.models.sir.distributed import PartitionedSIR
    from populace.population.storage import AGENTS_FILE

    torch.set_num_threads(threads)
    init_process_group(ProcessEnv("bench", rank, world_size, rank, "127.0.0.1", port),
                       timeout=dt.timedelta(minutes=30))
    baseline = resident_bytes()
    meter = Meter()
    meter.install()
    import pyarrow.parquet as pq
    n_agents = pq.ParquetFile(Path(folder) / AGENTS_FILE).metadata.num_rows
    partition = Partition.even(n_agents, world_size)
    started = time.perf_counter()
    part = load_part(folder, layer_name, partition, columns=["region"])
    loaded = time.perf_counter()
    local = PartitionedSIR.from_part(part.contacts, beta_per_day=beta, initial_infected=initial_infected)
    plan = part.contacts.plan
    layer = part.contacts.local
    rows = torch.repeat_interleave(torch.arange(layer.n_agents), layer.crow.diff().long())
    own_rows = rows < plan.n_local
    own_edges = int(own_rows.sum())
    cut_edges = int((layer.col[own_rows] >= plan.n_local).sum())
    held = sum(t.numel() * t.element_size() for t in (layer.crow, layer.col, plan.ghost_ids, plan.send_rows)) + (
        0 if layer.weight is None else layer.weight.numel() * layer.weight.element_size())
    meter.reset()
    dist.barrier()
    run_started = time.perf_counter()
    traj = local.run(days, seed=seed, differentiable=differentiable, progress=False)
    run_seconds = time.perf_counter() - run_started
    figures = {
        "rank": rank, "n_local": plan.n_local, "ghosts": plan.n_ghosts, "boundary_sent": int(plan.send_rows.numel()),
        "own_edges": own_edges, "cut_edges": cut_edges, "load_s": loaded - started,
        "rows_read": part.contacts_read.rows, "run_s": run_seconds, "comm_s": meter.seconds,
        "bytes_sent": meter.bytes, "calls": meter.calls,
        "memory_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline,
        "held_bytes": held, "local_edges": layer.n_edges,
        "counts": {name: traj[name].detach().tolist() for name in ("susceptible", "infectious", "recovered")},
    }
    sum_counts(torch.zeros(1, dtype=torch.int64))  # everyone finished before the group goes
    Path(f"{out}.{rank}.json").write_text(json.dumps(figures))
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def population_folder(work: Path, n_agents: int, contacts: float) -> Path:
    """The saved synthetic population of n_agents (built once and kept in `work`)."""
    from populace.population.synthetic import synthetic_population

    folder = work / f"pop-{n_agents}"
    if not (folder / "manifest.json").is_file():
        synthetic_population(n_agents, contacts_per_agent=contacts, seed=0).save(folder, overwrite=True)
    return folder


def measure(folder: Path, layer: str, world_size: int, args: argparse.Namespace) -> dict[str, Any]:
    out = args.work / f"ranks-{folder.name}-{layer}-{world_size}"
    initial = max(10, round(int(folder.name.split("-")[1]) / 1000))
    beta = args.beta if layer == "random" else args.household_beta
    mp.start_processes(run_rank, args=(world_size, free_port(), str(folder), layer, args.days, args.seed, beta,
                                       initial, args.threads, args.differentiable, str(out)), nprocs=world_size,
                       start_method="spawn")
    ranks = [json.loads(Path(f"{out}.{r}.json").read_text()) for r in range(world_size)]
    days = args.days
    total = {key: sum(r[key] for r in ranks) for key in ("n_local", "ghosts", "own_edges", "cut_edges",
                                                         "bytes_sent", "boundary_sent")}
    step = max(r["run_s"] for r in ranks) / days
    comm = sum(r["comm_s"] for r in ranks) / world_size / days
    return {
        "layer": layer, "agents": total["n_local"], "processes": world_size, "days": days,
        "step_ms": 1000 * step, "comm_ms": 1000 * comm, "compute_ms": 1000 * (step - comm),
        "bytes_sent_per_step": total["bytes_sent"] / days,
        "bytes_per_ghost_per_step": total["bytes_sent"] / days / max(total["ghosts"], 1),
        "edge_cut": total["cut_edges"] / total["own_edges"],
        "ghost_share": total["ghosts"] / total["n_local"],
        "ghosts": total["ghosts"], "boundary_agents": total["boundary_sent"],
        "memory_per_rank_mib": max(r["memory_bytes"] for r in ranks) / 2**20,
        "contacts_held_per_rank_mib": max(r["held_bytes"] for r in ranks) / 2**20,
        "local_edges": sum(r["local_edges"] for r in ranks),
        "load_s": max(r["load_s"] for r in ranks),
        "counts": ranks[0]["counts"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, nargs="+", default=[200_000, 1_000_000], help="strong scaling sizes")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--weak", type=int, default=1_000_000, help="agents per process for weak scaling (0: none)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--contacts", type=float, default=20.0)
    parser.add_argument("--beta", type=float, default=0.03)
    parser.add_argument("--household-beta", type=float, default=0.3, help="beta on the household layer")
    parser.add_argument("--layers", nargs="+", default=["random", "household"],
                        help="layers of the synthetic population to run on, one at a time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--differentiable", action="store_true",
                        help="differentiable mode: the dense exchange (every ghost, every step), no backward")
    parser.add_argument("--work", type=Path, default=Path("runs/bench-distributed"))
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cases = [("strong", n, w) for n in args.agents for w in args.processes]
    if args.weak:
        cases += [("weak", args.weak * w, w) for w in args.processes]
    print(f"machine: {machine()}, {args.threads} thread(s) per rank, torch {torch.__version__}", flush=True)
    results, measured, reference = [], {}, {}
    for layer in args.layers:
        for kind, n, w in cases:
            key = (layer, n, w)
            if key not in measured:
                measured[key] = measure(population_folder(args.work, n, args.contacts), layer, w, args)
            figures = {"scaling": kind, **measured[key]}
            counts = figures.pop("counts")
            if reference.setdefault((layer, n), counts) != counts:
                sys.exit(f"{n} agents on {w} processes: daily counts differ from the first run's")
            results.append(figures)
            print(f"{kind:6} {layer:9} N={n:>9,} W={w}: step {figures['step_ms']:7.1f} ms (comm "
                  f"{figures['comm_ms']:6.1f}, compute {figures['compute_ms']:7.1f}), sent "
                  f"{figures['bytes_sent_per_step'] / 2**10:8.1f} KiB/step "
                  f"({figures['bytes_per_ghost_per_step']:.2f} B/ghost), edge cut {figures['edge_cut']:.4f}, "
                  f"ghosts {figures['ghost_share']:.4f} of agents, memory {figures['memory_per_rank_mib']:6.0f} "
                  f"MiB/rank (contacts {figures['contacts_held_per_rank_mib']:.0f}), load {figures['load_s']:.1f} s",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "threads": args.threads, "days": args.days,
                                         "contacts": args.contacts, "differentiable": args.differentiable,
                                         "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
