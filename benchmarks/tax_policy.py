"""Benchmark the tax-policy model: Saez's fixed point and a gradient-planner optimisation over a population.

    python benchmarks/tax_policy.py --workers 1000000 --steps 100 --threads 2

Prints the time to draw the population, to iterate the Saez rates to their fixed point (each round measures a, e
and G on every worker's response), and to run the gradient planner (total and per step: one best response of
every worker plus one backward pass), the welfare reached, and peak resident memory.
"""

from __future__ import annotations

import argparse
import time

import torch

from populace.manifest import peak_memory_bytes
from populace.models.tax import GradientPlanner, SaezPlanner, TaxPolicy, TaxSchedule, welfare_metrics


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=positive_int, default=1_000_000,
                        help="workers in the population (at least 1,000: every US bracket needs workers)")
    parser.add_argument("--steps", type=positive_int, default=100, help="gradient planner steps (Adam)")
    parser.add_argument("--saez-iterations", type=positive_int, default=50,
                        help="cap on the damped Saez fixed-point rounds (1: one-round Saez under the US schedule)")
    parser.add_argument("--seed", type=non_negative_int, default=1, help="seed of the population")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.workers < 1000:
        parser.error(f"--workers must be at least 1000 (the Saez planner measures every bracket), got {args.workers}")
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    model = TaxPolicy(args.workers)
    world = model.initial_world(seed=args.seed, differentiable=True)
    drawn = time.perf_counter()
    saez_planner = SaezPlanner(iterations=args.saez_iterations)
    saez = saez_planner.propose(model, world)
    measured = time.perf_counter()
    planner = GradientPlanner(steps=args.steps)
    learned = planner.propose(model, world, start=saez)
    optimised = time.perf_counter()

    key = "equality_x_productivity_usd"
    with torch.no_grad():
        values = {name: float(welfare_metrics(model.respond(world, s).agents)[key])
                  for name, s in (("US federal", TaxSchedule.us_federal_2018()), ("Saez", saez),
                                  ("gradient", learned))}
    convergence = "converged" if saez_planner.converged else "not converged"
    print(f"tax policy, {args.workers:,} workers, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"draw population (GB2 quantiles):  {drawn - started:7.2f} s")
    print(f"Saez fixed point, {saez_planner.rounds} rounds:    {measured - drawn:7.2f} s "
          f"({(measured - drawn) / saez_planner.rounds:.2f} s per round, {convergence})")
    print(f"gradient planner, {args.steps} steps:     {optimised - measured:7.2f} s "
          f"({(optimised - measured) / (args.steps + 1) * 1000:.0f} ms per step)")
    print("equality x productivity per worker: " + ", ".join(f"{k} {v:,.0f} USD" for k, v in values.items())
          + f" (gradient vs Saez {values['gradient'] / values['Saez'] - 1:+.2%})")
    print(f"peak memory: {peak_memory_bytes() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
