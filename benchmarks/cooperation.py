"""Benchmark the donor game with cultural evolution in fast mode: 1,000,000 agents (83,334 societies of 12) for 10
generations of 12 rounds, parametric strategies evolving by selection and mutation.

    python benchmarks/cooperation.py --societies 83334 --threads 2
    python benchmarks/cooperation.py --societies 1000 --punishment --multiplier 3

Prints the time to build the world and to run, the process's peak resident memory, and the mean final resources
per agent of each generation (with the share of agents still in each initial strategy's lineage at the end).
"""

from __future__ import annotations

import argparse
import time

import torch

from populace.arguments import positive_int
from populace.manifest import peak_memory_bytes
from populace.models.cooperation import Cooperation, DonorGameRules, StrategyTable
from populace.models.cooperation.metrics import mean_final_resources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--societies", type=positive_int, default=83_334, help="societies S")
    parser.add_argument("--generations", type=positive_int, default=10, help="generations G")
    parser.add_argument("--multiplier", type=float, default=2.0, help="what a recipient gets per unit given")
    parser.add_argument("--punishment", action="store_true", help="donors may punish instead")
    parser.add_argument("--seed", type=int, default=1, help="seed of the run")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rules = DonorGameRules(generations=args.generations, multiplier=args.multiplier, punishment=args.punishment)
    n_agents = args.societies * rules.agents_per_society
    print(f"cooperation: {args.societies:,} societies x {rules.agents_per_society} agents = {n_agents:,} agents, "
          f"{rules.generations} generations x {rules.rounds} rounds, multiplier {rules.multiplier:g}, punishment "
          f"{'on' if rules.punishment else 'off'}, {torch.get_num_threads()} thread(s)")
    started = time.perf_counter()
    strategies = StrategyTable()
    model = Cooperation(args.societies, strategies, rules)
    world = model.initial_world(seed=args.seed)
    built = time.perf_counter()
    trajectory = model.run(rules.steps, world=world, progress=False)
    ran = time.perf_counter()
    print(f"build {built - started:.2f} s   run {ran - built:.2f} s ({(ran - built) / rules.steps * 1e3:.1f} ms a "
          f"round)   peak resident memory {peak_memory_bytes() / 2**30:.2f} GiB")
    for g, mean in enumerate(mean_final_resources(trajectory, rules).tolist()):
        print(f"generation {g}: mean final resources {mean:8.3f}")
    lineage = torch.bincount(trajectory.final_world.agents.strategy, minlength=len(strategies)) / n_agents
    print("lineages at the end: " + ", ".join(f"{name} {share:.3f}" for name, share in
                                               zip(strategies.names, lineage.tolist(), strict=True)))


if __name__ == "__main__":
    main()
