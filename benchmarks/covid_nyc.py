"""Benchmark: CovidNYC on the synthetic New York City; prints seconds per simulated day, peak memory, final stages.

    python benchmarks/covid_nyc.py --population /tmp/nyc-full --days 60          # fast mode, a saved population
    python benchmarks/covid_nyc.py --population /tmp/nyc-full --days 120 --beta 0.3   # a whole epidemic wave
    python benchmarks/covid_nyc.py --scale 0.1 --days 60                         # fast mode, built here
    python benchmarks/covid_nyc.py --differentiable --agents-scale 0.12 --days 120 --checkpoint-days 10  # ~1M agents

Fast mode times every day (under `torch.no_grad()`, recording the observables as `run` does) and reports the
mean over the run and over the peak week (the 7 days with the most new infections). Differentiable mode runs
`model.run(differentiable=True)` and back-propagates a loss on the daily infections and deaths into the weekly
beta values.
Peak memory is the process's peak resident memory, loading or building the population included.
The fast-mode loop is `populace.bench.cases.covid_fast_days` (also `populace bench`'s COVID cases).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from populace.bench.cases import covid_fast_days, peak_week
from populace.bench.run import machine as bench_machine
from populace.manifest import peak_memory_bytes
from populace.models.covid_nyc import CovidNYC
from populace.models.covid_nyc.model import STAGE_OBSERVABLES
from populace.models.covid_nyc.params import CovidParams
from populace.population.nyc import build_nyc
from populace.population.storage import Population


def machine() -> str:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"machine: {bench_machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
            f"load average {load}")


def get_population(args: argparse.Namespace, scale: float) -> tuple[Population, str]:
    start = time.perf_counter()
    if args.population:
        population = Population.load(args.population)
        how = f"loaded {args.population}"
    else:
        population = build_nyc(scale=scale, seed=args.seed)
        how = f"built at scale {scale}"
    return population, f"{how} in {time.perf_counter() - start:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", help="a saved population folder (default: build one with --scale)")
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of the 8.34M New Yorkers, when building")
    parser.add_argument("--days", type=int, default=None, help="days to simulate (default 60, or 120 if "
                        "--differentiable)")
    parser.add_argument("--differentiable", action="store_true", help="loss + backward instead of fast mode")
    parser.add_argument("--checkpoint-days", type=int, default=None,
                        help="with --differentiable: recompute blocks of this many days in backward (less memory)")
    parser.add_argument("--agents-scale", type=float, default=0.12,
                        help="scale of the population built for --differentiable (0.12: about 1M agents)")
    parser.add_argument("--initial-infected", type=int, default=None,
                        help="agents exposed on day 0 (default: 1 per 10,000 agents, at least 10)")
    parser.add_argument("--beta", type=float, default=None,
                        help="transmission rate of every week (default: CovidParams'; 0.3 gives a whole wave)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    days = args.days or (120 if args.differentiable else 60)

    print(machine(), flush=True)
    population, how = get_population(args, args.agents_scale if args.differentiable else args.scale)
    n, n_edges = population.n_agents, population.layers.n_edges
    print(f"agents {n:,}, directed contacts {n_edges:,} ({n_edges / n:.1f} per agent); {how}", flush=True)
    initial = args.initial_infected or max(10, n // 10_000)
    params = CovidParams() if args.beta is None else CovidParams(beta_by_week=(args.beta,))
    model = CovidNYC.from_population(population, params, initial_infected=initial)
    mode = "differentiable" if args.differentiable else "fast"
    print(f"beta {params.beta_by_week}, initial infected {initial}, days {days}, mode {mode}",
          flush=True)

    if args.differentiable:
        start = time.perf_counter()
        trajectory = model.run(days, seed=args.seed, differentiable=True, checkpoint_steps=args.checkpoint_days,
                               progress=False)
        simulated = time.perf_counter()
        loss = trajectory["new_infections"].sum(-1).square().mean() + trajectory["new_deaths"].sum(-1).square().mean()
        loss.backward()
        done = time.perf_counter()
        grad = model.transmission.parametrizations.beta_by_week.original.grad
        print(f"simulate: {simulated - start:.1f} s ({(simulated - start) / days:.3f} s per day)")
        print(f"backward: {done - simulated:.1f} s; total {done - start:.1f} s; "
              f"|d loss / d log_beta| = {float(grad.norm()):.4g}")
        observed = {name: trajectory[name][-1].detach() for name in STAGE_OBSERVABLES.values()}
    else:
        seconds, infections, observed = covid_fast_days(model, days, args.seed)
        first, week = peak_week(seconds, infections)
        print(f"simulate: {sum(seconds):.1f} s, {sum(seconds) / days:.3f} s per day (mean); "
              f"{week:.3f} s per day over the peak week (days {first + 1}-{first + 7}); "
              f"slowest day {max(seconds):.3f} s")
    print(f"peak memory: {peak_memory_bytes() / 2**30:.2f} GiB")
    print("stages at the end: " + ", ".join(f"{name} {float(observed[name]):,.0f}"
                                              for name in STAGE_OBSERVABLES.values()))
    print(machine().split("; ")[1])


if __name__ == "__main__":
    main()
