"""Benchmark: build, save and load the synthetic New York City; prints times, peak memory and disk size.

    python benchmarks/nyc_population.py --scale 1.0 --out /tmp/nyc-full
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from populace.manifest import peak_memory_bytes
from populace.population.nyc import build_nyc
from populace.population.storage import Population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 8.34M New Yorkers (0, 1]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="where to write the population (replaced)")
    args = parser.parse_args()

    start = time.perf_counter()
    population = build_nyc(scale=args.scale, seed=args.seed)
    built = time.perf_counter()
    build_peak = peak_memory_bytes()
    population.save(args.out, overwrite=True)
    saved = time.perf_counter()
    n_agents, n_edges = population.n_agents, population.layers.n_edges
    del population
    loaded_at = time.perf_counter()
    Population.load(args.out)
    loaded = time.perf_counter()
    disk = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())

    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"agents {n_agents:,}, directed contacts {n_edges:,} ({n_edges / n_agents:.1f} per agent)")
    print(f"build: {built - start:.1f} s (peak memory {build_peak / 2**30:.2f} GiB)")
    print(f"save:  {saved - built:.1f} s, {disk / 2**20:.0f} MiB on disk")
    print(f"load:  {loaded - loaded_at:.1f} s")


if __name__ == "__main__":
    main()
