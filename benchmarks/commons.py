"""Benchmark the GovSim commons in fast mode: 1,000,000 agents in 200,000 groups for 12 months, heuristic agents.

    python benchmarks/commons.py --groups 200000 --threads 2
    python benchmarks/commons.py --policy random greedy

Runs each heuristic (`--policy`, default all four) for the months of a game and prints, per policy, the time to
build the world and to run (the exact random rationing included: greedy and random groups are over-demanded),
the survival rate and the mean gain per agent, then the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import time

import torch

from populace.arguments import positive_int
from populace.manifest import peak_memory_bytes
from populace.models.commons import Commons, CommonsRules, Greedy, RandomHarvest, SustainableShare, TitForTat
from populace.models.commons.metrics import group_metrics

POLICIES = {"sustainable": SustainableShare, "tit-for-tat": TitForTat, "random": RandomHarvest, "greedy": Greedy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=positive_int, default=200_000, help="groups G")
    parser.add_argument("--agents-per-group", type=positive_int, default=5, help="agents N per group")
    parser.add_argument("--policy", nargs="+", choices=tuple(POLICIES), default=list(POLICIES), help="heuristics")
    parser.add_argument("--seed", type=int, default=1, help="seed of the run")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rules = CommonsRules(agents_per_group=args.agents_per_group)
    print(f"commons: {args.groups:,} groups x {rules.seats} agents = {args.groups * rules.seats:,} agents, "
          f"{rules.months} months, {torch.get_num_threads()} thread(s)")
    for name in args.policy:
        started = time.perf_counter()
        model = Commons(args.groups, POLICIES[name](), rules)
        world = model.initial_world(seed=args.seed)
        built = time.perf_counter()
        trajectory = model.run(rules.months, world=world, progress=False)
        ran = time.perf_counter()
        metrics = group_metrics(trajectory, rules)
        print(f"{name:12s} build {built - started:6.2f} s   run {ran - built:6.2f} s "
              f"({(ran - built) / rules.months:.3f} s a month)   survival rate {metrics['survived'].mean():.3f}   "
              f"gain per agent {metrics['gain_per_agent'].mean():7.2f}")
    print(f"peak resident memory: {peak_memory_bytes() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
