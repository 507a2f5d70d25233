"""Benchmark the tax-policy model: a full gradient-planner optimisation over a population of workers.

    python benchmarks/tax_policy.py --workers 1000000 --steps 100 --threads 2

Prints the time to draw the population, to measure the Saez rates, and to run the gradient planner (total and per
step: one best response of every worker plus one backward pass), the welfare reached, and peak resident memory.
"""

from __future__ import annotations

import argparse
import time

import torch

from populace.manifest import peak_memory_bytes
from populace.models.tax import GradientPlanner, SaezPlanner, TaxPolicy, TaxSchedule, welfare_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    model = TaxPolicy(args.workers)
    world = model.initial_world(seed=args.seed, differentiable=True)
    drawn = time.perf_counter()
    saez = SaezPlanner().propose(model, world)
    measured = time.perf_counter()
    planner = GradientPlanner(steps=args.steps)
    learned = planner.propose(model, world, start=saez)
    optimised = time.perf_counter()

    key = "equality_x_productivity_usd"
    with torch.no_grad():
        values = {name: float(welfare_metrics(model.respond(world, s).agents)[key])
                  for name, s in (("US federal", TaxSchedule.us_federal_2018()), ("Saez", saez),
                                  ("gradient", learned))}
    print(f"tax policy, {args.workers:,} workers, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"draw population (GB2 quantiles):  {drawn - started:7.2f} s")
    print(f"Saez planner (measure a, e, G):   {measured - drawn:7.2f} s")
    print(f"gradient planner, {args.steps} steps:     {optimised - measured:7.2f} s "
          f"({(optimised - measured) / (args.steps + 1) * 1000:.0f} ms per step)")
    print("equality x productivity per worker: " + ", ".join(f"{k} {v:,.0f} USD" for k, v in values.items())
          + f" (gradient vs Saez {values['gradient'] / values['Saez'] - 1:+.2%})")
    print(f"peak memory: {peak_memory_bytes() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
