"""Benchmark language-model harvesters at scale: 1,000,000 agents in 200,000 groups, 12 months, asked per archetype.

    python benchmarks/commons_llm.py --threads 2                      # embedded model, a fresh cache: cold, then warm
    python benchmarks/commons_llm.py --backend scripted --groups 20000

Runs the sustainable-share heuristic (the baseline, once untimed first: a process's first run pays one-off costs),
then `ArchetypeLLMPolicy` on an answer cache (a new one in a temporary folder unless --cache names one): cold
(every new prompt is a model call), then --repeats times warm (every prompt a cache hit), interleaved with as many
heuristic runs. Each warm run opens the cache file afresh, as a new process would (its answers are read from the
file once, then from memory). Prints per run: build and run time, prompts, model calls, cache hits, time in the
model, survival rate and gain per agent; then the medians, the warm runs' overhead over the heuristic and the
process's peak resident memory.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from populace.arguments import positive_int
from populace.llm import AnswerCache, CachedModel, make_model
from populace.manifest import peak_memory_bytes
from populace.models.commons import Commons, CommonsRules, HarvestPolicy, SustainableShare
from populace.models.commons.llm_agents import ArchetypeLLMPolicy
from populace.models.commons.metrics import group_metrics
from populace.models.commons.prompts import Variant, persona_codes
from populace.models.commons.scenarios import SCENARIOS


def timed_run(label: str, policy: HarvestPolicy, groups: int, rules: CommonsRules, seed: int) -> float:
    """Build and run one game of `groups` groups; print its figures; return the run's seconds."""
    started = time.perf_counter()
    persona = persona_codes(groups, rules.seats)
    model = Commons(groups, policy, rules, persona=persona)
    world = model.initial_world(seed=seed)
    built = time.perf_counter()
    trajectory = model.run(rules.months, world=world, progress=False)
    ran = time.perf_counter()
    metrics = group_metrics(trajectory, rules)
    line = (f"{label:16s} build {built - started:6.2f} s   run {ran - built:7.2f} s   survival rate "
            f"{metrics['survived'].mean():.3f}   gain per agent {metrics['gain_per_agent'].mean():6.2f}")
    if isinstance(policy, ArchetypeLLMPolicy):
        t = policy.decisions.usage_totals()
        line += (f"   {t['prompts']:,} prompts, {t['calls']:,} calls, {t['cache_hits']:,} cache hits, "
                 f"{t['seconds']:.1f} s in the model")
    print(line, flush=True)
    return ran - built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=positive_int, default=200_000, help="groups G")
    parser.add_argument("--backend", choices=("embedded", "scripted"), default="embedded", help="language model")
    parser.add_argument("--scenario", choices=tuple(SCENARIOS), default="fishery")
    parser.add_argument("--universalization", action="store_true", help="GovSim's universalization variant")
    parser.add_argument("--cache", type=Path, default=None,
                        help="answer cache (default: a new temporary one; a cache with answers makes 'cold' warmer)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the runs")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="warm and heuristic runs, interleaved")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rules = CommonsRules()
    print(f"commons with language-model agents: {args.groups:,} groups x {rules.seats} = "
          f"{args.groups * rules.seats:,} agents, {rules.months} months, {args.scenario}, {args.backend} model, "
          f"{torch.get_num_threads()} thread(s)")
    timed_run("heuristic, first", SustainableShare(), args.groups, rules, args.seed)
    heuristic, warm = [], []
    with tempfile.TemporaryDirectory() as folder:
        cache = args.cache or Path(folder) / "answers.sqlite"
        options = {"answers": lambda q: (0.1, 0.2, 0.4, 0.2, 0.1)} if args.backend == "scripted" else {}
        model = make_model(args.backend, cache=cache, **options)
        variant = Variant(universalization=args.universalization)
        policy = ArchetypeLLMPolicy(model, SCENARIOS[args.scenario], rules, variant=variant)
        cold = timed_run("llm, cold cache", policy, args.groups, rules, args.seed)
        for _ in range(args.repeats):
            heuristic.append(timed_run("heuristic", SustainableShare(), args.groups, rules, args.seed))
            reopened = CachedModel(model.inner, AnswerCache(cache), usage=model.usage)  # a new process's cache
            policy = ArchetypeLLMPolicy(reopened, SCENARIOS[args.scenario], rules, variant=variant)
            warm.append(timed_run("llm, warm cache", policy, args.groups, rules, args.seed))
    h, w = statistics.median(heuristic), statistics.median(warm)
    print(f"medians of {args.repeats}: heuristic {h:.3f} s, llm warm {w:.3f} s (cold {cold:.2f} s); warm cache over "
          f"the heuristic: {w / h - 1:+.0%} run time")
    print(f"peak resident memory: {peak_memory_bytes() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
