"""Benchmark: build, save and load the synthetic New York City; prints times, peak memory and disk size.
The measurement is `populace.bench.cases.measure_nyc_population` (also `populace bench`'s nyc-population case).

    python benchmarks/nyc_population.py --scale 1.0 --out /tmp/nyc-full
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from populace.bench.cases import measure_nyc_population
from populace.bench.run import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 8.34M New Yorkers (0, 1]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="where to write the population (replaced)")
    args = parser.parse_args()

    figures = measure_nyc_population(args.scale, args.out, seed=args.seed)
    print(f"machine: {machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"agents {figures['agents']:,}, {figures['contacts_per_agent']} directed contacts per agent")
    print(f"build: {figures['build_s']:.1f} s (peak memory {figures['build_peak_gib']:.2f} GiB)")
    print(f"save:  {figures['save_s']:.1f} s, {figures['disk_mib']:.0f} MiB on disk")
    print(f"load:  {figures['load_s']:.1f} s")


if __name__ == "__main__":
    main()
