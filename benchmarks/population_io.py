"""Write and load times and disk size of a synthetic population saved with Population.save.

A synthetic 8.4M-agent population (households of ~2.55, a `household` layer, a `random` Erdős–Rényi layer of
~20 contacts per agent: ~190M directed contacts in all) and a 1% version. Targets (issue 4): the full population
loads in under 15 s and takes under 2.5 GB on disk. Also times `check_population` (symmetry needs a sort).

    python benchmarks/population_io.py [--agents 8400000] [--contacts 20] [--dir /tmp/populace-io] [--no-check]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import torch

from populace.bench.cases import measure_population_io
from populace.manifest import peak_memory_bytes
from populace.population.check import check_population


def report(n_agents: int, contacts: float, directory: Path, check: bool) -> None:
    """Print `measure_population_io`'s figures for `n_agents` (it leaves the population in `directory`), the
    size of each file, and the time of `check_population` if `check`."""
    figures = measure_population_io(n_agents, directory, contacts)
    print(f"\n{n_agents:,} agents, {figures['contacts_per_agent']} directed contacts per agent "
          f"(synthesized in {figures['build_s']:.1f} s)")
    print(f"  write {figures['save_s']:.1f} s (includes SHA-256 of every file); load: first {figures['load_s']:.2f} s, "
          f"second {figures['load_again_s']:.2f} s; agents, zones and households only "
          f"{figures['load_agents_only_s']:.2f} s")
    sizes = {path.relative_to(directory).as_posix(): path.stat().st_size for path in directory.rglob("*.parquet")}
    print(f"  on disk {sum(sizes.values()) / 1e9:.3f} GB: "
          + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
    layer_bytes = sum(v for k, v in sizes.items() if k.startswith("layers/"))
    print(f"  {sizes['agents.parquet'] / n_agents:.2f} bytes per agent, "
          f"{layer_bytes / figures['directed_contacts']:.2f} bytes per directed contact")
    if check:
        started = time.perf_counter()
        problems = check_population(directory)
        print(f"  check_population: {len(problems)} problems in {time.perf_counter() - started:.1f} s")
    print(f"  peak memory so far {peak_memory_bytes() / 2**30:.1f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=8_400_000)
    parser.add_argument("--contacts", type=float, default=20.0, help="mean random contacts per agent")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/populace-io"), help="scratch folder (deleted)")
    parser.add_argument("--no-check", action="store_true", help="skip timing check_population")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f} (other processes share the cores: compare CPU and wall times)")
    try:
        for n_agents in (args.agents // 100, args.agents):
            report(n_agents, args.contacts, args.dir / f"pop-{n_agents}", not args.no_check)
    finally:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
