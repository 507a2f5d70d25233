"""Benchmark: SIR on a static random network or daily redrawn contacts; prints build time, time per day and peak
memory. The measurement is `populace.bench.cases.measure_sir` (also `populace bench`'s SIR cases).

    python benchmarks/sir.py --agents 1000000 --days 100 [--network mixing] [--differentiable] [--threads 2]
"""

from __future__ import annotations

import argparse

import torch

from populace.bench.cases import CONTACTS_PER_AGENT, measure_sir
from populace.bench.run import machine
from populace.manifest import peak_memory_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--contacts", type=float, default=CONTACTS_PER_AGENT, help="mean contacts per agent")
    parser.add_argument("--network", choices=["static", "mixing"], default="static",
                        help="static Erdős–Rényi network, or contacts redrawn daily (RandomMixing)")
    parser.add_argument("--differentiable", action="store_true", help="also back-propagate the last day's recovered")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--checkpoint-days", type=int, default=None,
                        help="differentiable mode: recompute blocks of this many days in backward (less memory)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    figures = measure_sir(args.agents, args.days, network=args.network, differentiable=args.differentiable,
                          contacts=args.contacts, checkpoint_days=args.checkpoint_days)
    print(f"machine: {machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"agents {args.agents:,}, {args.network} contacts ({figures['contacts_per_agent']} per agent), "
          f"days {args.days}, mode {'differentiable' if args.differentiable else 'fast'}"
          + (f", time checkpoints every {args.checkpoint_days} days" if args.checkpoint_days else ""))
    simulated = figures["seconds_per_day"] * args.days
    print(f"build network: {figures['build_s']:.2f} s")
    print(f"simulate:      {simulated:.2f} s ({figures['seconds_per_day'] * 1000:.1f} ms per day)")
    if args.differentiable:
        print(f"backward:      {figures['backward_s']:.2f} s")
    print(f"total:         {figures['total_s']:.2f} s")
    print(f"peak memory:   {peak_memory_bytes() / 2**30:.2f} GiB")
    print(f"ever infected: {figures['attack_rate']:.1%}")


if __name__ == "__main__":
    main()
