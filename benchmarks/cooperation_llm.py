"""Benchmark language-model strategies in the donor game at scale: 1,000,008 agents, asked per strategy and trace.

    python benchmarks/cooperation_llm.py --threads 2                         # embedded model, a fresh cache
    python benchmarks/cooperation_llm.py --backend scripted --generations 10

Runs `Cooperation` with `LLMDonors` (archetype mode) over --societies societies of 12 for --generations
generations, twice on one answer cache (a new one in a temporary folder): cold, then warm. Prints per run: time,
strategy texts written (model calls and distinct texts), donation prompts and model calls, cache hits, time in
the model, mean final resources per generation; then the process's peak resident memory. The prompts grow with
the distinct strategies x trace buckets, not with the agents: compare --societies 1000 with the default.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from populace.arguments import positive_int
from populace.behavior.llm_run import SCRIPTED_TEXT
from populace.llm import make_model
from populace.manifest import peak_memory_bytes
from populace.models.cooperation import Cooperation, DonorGameRules
from populace.models.cooperation.llm_strategies import LLMDonors
from populace.models.cooperation.metrics import mean_final_resources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--societies", type=positive_int, default=83_334, help="societies S")
    parser.add_argument("--generations", type=positive_int, default=3, help="generations G")
    parser.add_argument("--backend", choices=("embedded", "scripted"), default="embedded", help="language model")
    parser.add_argument("--max-strategies", type=positive_int, default=16, help="distinct strategy texts kept")
    parser.add_argument("--seed", type=int, default=1, help="seed of the runs")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rules = DonorGameRules(generations=args.generations)
    print(f"donor game with language-model strategies: {args.societies:,} societies x {rules.agents_per_society} = "
          f"{args.societies * rules.agents_per_society:,} agents, {rules.generations} generations, {args.backend} "
          f"model, at most {args.max_strategies} strategies, {torch.get_num_threads()} thread(s)")
    with tempfile.TemporaryDirectory() as folder:
        options = ({"answers": lambda q: (0.2,) * 5, "texts": lambda q: SCRIPTED_TEXT}
                   if args.backend == "scripted" else {})
        model = make_model(args.backend, cache=Path(folder) / "answers.sqlite", **options)
        for label in ("cold cache", "warm cache"):
            donors = LLMDonors(model, rules, max_strategies=args.max_strategies)
            game = Cooperation(args.societies, rules=rules, donors=donors)
            started = time.perf_counter()
            trajectory = game.run(rules.steps, seed=args.seed, progress=False)
            seconds = time.perf_counter() - started
            usage = donors.usage_frame()
            write, donate = usage[usage.decision == "write"], usage[usage.decision == "donate"]
            means = ", ".join(f"{m:.1f}" for m in mean_final_resources(trajectory, rules).tolist())
            print(f"{label}: {seconds:.1f} s; texts: {int(write.prompts.sum())} prompts, {int(write.calls.sum())} "
                  f"calls, {len(donors.book)} distinct ({donors.book.merged} merged, {donors.fallbacks} empty); "
                  f"donations: {int(donate.prompts.sum()):,} prompts, {int(donate.calls.sum()):,} calls, "
                  f"{int(usage.cache_hits.sum()):,} cache hits; {usage.seconds.sum():.1f} s in the model; mean "
                  f"final resources per generation {means}", flush=True)
    print(f"peak resident memory: {peak_memory_bytes() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
