"""Benchmark: the embedded model (SmolLM2-135M-Instruct): load time and prompts per second.

    python benchmarks/llm_embedded.py [--prompts 36] [--threads 2] [--device cpu|cuda] [--repeats 2]

The prompts are isolation questions in the shape of `populace.behavior`'s isolate template (a shared opening, then
an archetype's persona and the week's situation), one per (persona, situation) pair. It prints the load time
(dequantized weights from the user cache when present) and, best of --repeats, the prompts per second and the
token positions the model ran per prompt for: one prompt per call; batches without shared prefixes; batches with
them (the default: the batch's common prefix once, each persona's segment once per group of neighbouring prompts).
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time

import torch

from populace.llm import Query
from populace.llm import embedded as embedded_backend

PERSONAS = [
    "a 25-34 year old living in the Bronx who works in food service",
    "a 65-74 year old living in Brooklyn who is retired",
    "a 35-44 year old living in Manhattan who works in finance and can work from home",
    "a 16-24 year old living in Queens who is a student",
    "a 45-54 year old living in Staten Island who works in construction",
    "a 55-64 year old living in Queens who works in health care",
]
SITUATIONS = [
    ("You have no symptoms.", "120 cases", "cases are falling"),
    ("You have no symptoms.", "900 cases", "cases doubled since the week before"),
    ("You have a fever and a cough.", "120 cases", "cases are falling"),
    ("You have a fever and a cough.", "900 cases", "cases doubled since the week before"),
    ("You have no symptoms.", "4,000 cases", "cases are rising fast"),
    ("You have a fever and a cough.", "4,000 cases", "cases are rising fast"),
]


def prompts(n: int) -> list[Query]:
    pairs = list(itertools.product(PERSONAS, SITUATIONS))
    out = []
    for i in range(n):
        persona, (symptoms, cases, trend) = pairs[i % len(pairs)]
        week = f" (week {i // len(pairs) + 1})" if i >= len(pairs) else ""
        out.append(Query(
            f"It is 2020 in New York City, during the COVID-19 pandemic{week}. You are {persona}. {symptoms} In your "
            f"borough, {cases} were reported last week, and {trend}. Will you stay at home and isolate this week, away "
            "from work, school and social contacts? Answer yes or no.", ("yes", "no"), "isolate@1"))
    return out


def rate(model: embedded_backend.EmbeddedModel, queries: list[Query], repeats: int, batch_size: int,
         share_prefix: bool) -> str:
    """Prompts per second (best of ``repeats``) and token positions computed per prompt."""
    model.batch_size = batch_size
    saved = embedded_backend._MIN_SHARED_PREFIX
    embedded_backend._MIN_SHARED_PREFIX = saved if share_prefix else 10**9
    best = float("inf")
    try:
        for _ in range(repeats):
            model.tokens_computed = 0
            start = time.perf_counter()
            model.answer(queries)
            best = min(best, time.perf_counter() - start)
    finally:
        embedded_backend._MIN_SHARED_PREFIX = saved
    return f"{len(queries) / best:6.2f} prompts/s, {model.tokens_computed / len(queries):5.1f} tokens computed/prompt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=36)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-sizes", default="16,64", help="comma-separated batch sizes to time")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model = embedded_backend.EmbeddedModel(device=args.device)
    print(f"load: {time.perf_counter() - start:.1f} s ({'cached weights' if model.loaded_from_cache else 'from GGUF'})"
          f" on {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {args.device}")
    queries = prompts(args.prompts)
    tokens = [len(model.render(q.prompt)) for q in queries]
    print(f"{len(queries)} prompts, {sum(tokens) / len(tokens):.0f} tokens each on average (chat template included)")
    model.answer(queries[:2])  # warm-up
    print(f"one prompt per call:            {rate(model, queries[: max(4, len(queries) // 6)], 1, 1, True)}")
    for b in (int(x) for x in args.batch_sizes.split(",")):
        print(f"batch {b:3d}, no shared prefix:    {rate(model, queries, args.repeats, b, False)}")
        print(f"batch {b:3d}, shared prefixes:     {rate(model, queries, args.repeats, b, True)}")


if __name__ == "__main__":
    main()
