"""Benchmark gradient estimators against central finite differences: bias, spread and cost per gradient.

    python benchmarks/gradients.py                          # every case, 40 seeds, 16 paths
    python benchmarks/gradients.py --cases sir-growth --seeds 200 --paths 32 --json out.jsonl

Cases (the settings of issue 18):
- sir-growth: SIR on an Erdos-Renyi network of 20,000 agents, 10 contacts, infectious 5 days, 40 seeded, beta 0.03,
  40 days (growth); loss: the share ever infected; direction: log beta;
- sir-epidemic: the same at beta 0.04 over 60 days (a whole epidemic);
- covid: the NYC COVID-19 + labour model on a 5,000-agent synthetic city (household, school, work, community
  layers), beta 0.2 for 6 weeks, 30 seeded; loss: infections per agent; direction: the log of all weekly betas.
Each estimator runs every seed (common random numbers); the finite difference uses the same seed at theta +- h.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass

import torch

from populace.arguments import positive_int
from populace.core.model import Model
from populace.core.trajectory import Trajectory
from populace.gradients.compare import ESTIMATORS, compare_estimators


@dataclass(frozen=True)
class Case:
    """A model at the point theta, its loss, the run length and the direction of the derivative."""

    make_model: Callable[[], Model]
    loss: Callable[[Trajectory], torch.Tensor]
    steps: int
    wrt: dict[str, torch.Tensor]
    h: float


def sir_case(beta: float, days: int) -> Case:
    from populace.models.sir import SIR
    from populace.network.random import erdos_renyi

    n = 20_000
    layer = erdos_renyi(n, 10, seed=0)

    def share_infected(traj: Trajectory) -> torch.Tensor:
        return 1 - traj["susceptible"][-1].double() / n

    return Case(lambda: SIR(layer, n, beta_per_day=beta, infectious_days=5.0, initial_infected=40), share_infected,
                days, {"transmission.parametrizations.beta_per_day.original": torch.tensor(1.0)}, h=0.05)


def covid_case() -> Case:
    from populace.models.covid_nyc import CovidNYC, CovidParams
    from populace.population.synthetic import layered_synthetic_population

    n, weeks = 5_000, 6
    city = layered_synthetic_population(n, seed=1)

    def infections_per_agent(traj: Trajectory) -> torch.Tensor:
        return traj["new_infections"].sum() / n

    return Case(lambda: CovidNYC.from_population(city, CovidParams(beta_by_week=(0.2,) * weeks), initial_infected=30),
                infections_per_agent, 7 * weeks,
                {"transmission.parametrizations.beta_by_week.original": torch.ones(weeks)}, h=0.05)


CASES: dict[str, Callable[[], Case]] = {
    "sir-growth": lambda: sir_case(0.03, 40),
    "sir-epidemic": lambda: sir_case(0.04, 60),
    "covid": covid_case,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=tuple(CASES), default=list(CASES))
    parser.add_argument("--seeds", type=positive_int, default=40, help="seeds per estimator")
    parser.add_argument("--paths", type=positive_int, default=16, help="alternative paths of the stochastic derivative")
    parser.add_argument("--step-exponent", type=float, default=0.5,
                        help="the stochastic derivative's pruning: 1 by flip weight, 0 each step alike")
    parser.add_argument("--estimators", nargs="+", choices=ESTIMATORS, default=list(ESTIMATORS),
                        help="estimators besides the finite difference (always run)")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--json", default=None, help="also append one JSON line per case and estimator here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"gradient estimators vs central finite differences: {args.seeds} seeds, {args.paths} paths "
          f"(step exponent {args.step_exponent}), "
          f"{torch.get_num_threads()} thread(s), {platform.machine()}, torch {torch.__version__}")
    print(f"{'case':<13} {'estimator':<22} {'mean':>9} {'ratio':>6} {'95% interval':>15} {'sd/gradient':>11} "
          f"{'s/gradient':>10}")
    for name in args.cases:
        case = CASES[name]()
        figures = compare_estimators(case.make_model, case.loss, case.steps, seeds=range(args.seeds), wrt=case.wrt,
                                     h=case.h, paths=args.paths, step_exponent=args.step_exponent,
                                     estimators=args.estimators)
        for estimator, f in figures.items():
            low, high = f.ratio_interval
            interval = "" if math.isnan(low) or estimator == "finite difference" else f"[{low:.3f}, {high:.3f}]"
            print(f"{name:<13} {estimator:<22} {f.mean:>9.4f} {f.ratio:>6.3f} {interval:>15} {f.sd:>11.4f} "
                  f"{f.seconds_per_gradient:>10.3f}")
            if args.json:
                with open(args.json, "a") as out:
                    out.write(json.dumps({"case": name, "estimator": estimator, "seeds": args.seeds,
                                          "paths": args.paths, "step_exponent": args.step_exponent,
                                          "mean": f.mean, "ratio": f.ratio,
                                          "ratio_interval": [low, high], "sd": f.sd, "standard_error":
                                          f.standard_error, "seconds_per_gradient": f.seconds_per_gradient,
                                          "threads": torch.get_num_threads(), "torch": torch.__version__}) + "\n")


if __name__ == "__main__":
    main()
