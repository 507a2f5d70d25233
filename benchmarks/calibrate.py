"""Cost of one calibration iteration (differentiable run + observation + loss + backward) on the synthetic NYC.

    python benchmarks/calibrate.py --scales 0.001 0.002 0.005 --train 2020-03-01:2020-12-31 --iterations 2

For each scale: builds the city, times `--iterations` Adam iterations of `populace.calibrate.fit` (one seed each,
time-checkpointed every 14 days) and one fast-mode run (what an evaluation of the gradient-free baseline costs), and
reports seconds per iteration, peak resident memory, and the linear extrapolation (seconds per agent-day) to the
10% city: how many iterations fit in 30 minutes. Prints a table; the machine's load is printed too, since the
2-core machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import torch

from populace.calibrate import DateWindow, FitSettings, fit
from populace.models.covid_nyc.calibration_run import nyc_calibration
from populace.models.covid_nyc.targets import load_targets
from populace.population.nyc import build_nyc

NYC_PEOPLE = 8_336_817


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.001, 0.002])
    parser.add_argument("--train", default="2020-03-01:2020-12-31")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    window = DateWindow.parse(args.train)
    targets = load_targets(window)
    print(f"window {window} ({window.days} days), {args.threads} threads, load average {os.getloadavg()}")
    print(f"{'scale':>7} {'agents':>9} {'s/iteration':>12} {'fast run s':>11} {'peak RSS GiB':>13} "
          f"{'us/agent-day':>13} {'10% scale: s/iteration':>23} {'iterations in 30 min':>21}")
    for scale in args.scales:
        population = build_nyc(scale=scale, seed=1)
        calibration = nyc_calibration(population, targets, scale=scale)
        started = time.perf_counter()
        fit(calibration, FitSettings(iterations=args.iterations, seed=1), progress=False)
        per_iteration = (time.perf_counter() - started) / args.iterations
        started = time.perf_counter()
        with torch.no_grad():
            calibration.simulate(1, differentiable=False)
        fast = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        per_agent_day = per_iteration / (population.agents.n * window.days)
        at_10 = per_agent_day * 0.1 * NYC_PEOPLE * window.days
        print(f"{scale:>7g} {population.agents.n:>9,} {per_iteration:>12.1f} {fast:>11.1f} {peak:>13.2f} "
              f"{per_agent_day * 1e6:>13.2f} {at_10:>23.0f} {1800 / at_10:>21.2f}")


if __name__ == "__main__":
    main()
