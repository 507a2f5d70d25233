"""Benchmark: SIR on a static random network; prints build time, time per day and peak memory.

    python benchmarks/sir.py --agents 1000000 --days 100 [--differentiable] [--threads 2]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from populace.manifest import peak_memory_bytes
from populace.models.sir import SIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--contacts", type=float, default=20.0, help="mean contacts per agent")
    parser.add_argument("--differentiable", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--checkpoint-days", type=int, default=None,
                        help="differentiable mode: recompute blocks of this many days in backward (less memory)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    model = SIR.random_network(args.agents, contacts_per_agent=args.contacts, beta_per_day=0.03)
    built = time.perf_counter()
    traj = model.run(args.days, seed=1, differentiable=args.differentiable, checkpoint_steps=args.checkpoint_days,
                     progress=False)
    done = time.perf_counter()
    if args.differentiable:
        traj["recovered"][-1].backward()
    back = time.perf_counter()

    layer = model.transmission.contacts
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    print(f"agents {args.agents:,}, directed contacts {layer.n_edges:,} "
          f"({layer.n_edges / args.agents:.1f} per agent), days {args.days}, "
          f"mode {'differentiable' if args.differentiable else 'fast'}"
          + (f", time checkpoints every {args.checkpoint_days} days" if args.checkpoint_days else ""))
    print(f"build network: {built - start:.2f} s")
    print(f"simulate:      {done - built:.2f} s ({(done - built) / args.days * 1000:.1f} ms per day)")
    if args.differentiable:
        print(f"backward:      {back - done:.2f} s")
    print(f"total:         {back - start:.2f} s")
    print(f"peak memory:   {peak_memory_bytes() / 2**30:.2f} GiB")
    print(f"ever infected: {1 - float(traj['susceptible'][-1].detach()) / args.agents:.1%}")


if __name__ == "__main__":
    main()
