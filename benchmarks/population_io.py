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

from populace.manifest import peak_memory_bytes
from populace.population.check import check_population
from populace.population.storage import Population
from populace.population.synthetic import synthetic_population


def measure(n_agents: int, contacts: float, directory: Path, check: bool) -> None:
    started = time.perf_counter()
    population = synthetic_population(n_agents, contacts_per_agent=contacts, seed=1)
    built = time.perf_counter() - started
    edges = {name: population.layers[name].n_edges for name in population.layers}
    started = time.perf_counter()
    population.save(directory, overwrite=True)
    written = time.perf_counter() - started
    del population
    sizes = {path.relative_to(directory).as_posix(): path.stat().st_size for path in directory.rglob("*.parquet")}
    loads, cpu = [], []
    for _ in range(2):
        started, cpu_started = time.perf_counter(), time.process_time()
        loaded = Population.load(directory)
        loads.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        del loaded
    started = time.perf_counter()
    Population.load(directory, layers=[])
    agents_only = time.perf_counter() - started
    print(f"\n{n_agents:,} agents, layers {', '.join(f'{k} {v:,}' for k, v in edges.items())} directed contacts "
          f"(synthesized in {built:.1f} s)")
    print(f"  write {written:.1f} s (includes SHA-256 of every file); load: first {loads[0]:.2f} s "
          f"(CPU {cpu[0]:.2f} s), second {loads[1]:.2f} s (CPU {cpu[1]:.2f} s); agents, zones and households only "
          f"{agents_only:.2f} s")
    total = sum(sizes.values())
    print(f"  on disk {total / 1e9:.3f} GB: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
    n_edges = sum(edges.values())
    print(f"  {sizes['agents.parquet'] / n_agents:.2f} bytes per agent, "
          f"{sum(v for k, v in sizes.items() if k.startswith('layers/')) / n_edges:.2f} bytes per directed contact")
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
            measure(n_agents, args.contacts, args.dir / f"pop-{n_agents}", not args.no_check)
    finally:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
