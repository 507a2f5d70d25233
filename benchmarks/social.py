"""Benchmark the OASIS-style social-media model in fast mode: 1,000,000 users for 100 steps.

    python benchmarks/social.py --users 1000000 --steps 100 --threads 2
    python benchmarks/social.py --users 1000000 --steps 100 --behavior llm --llm-cache /tmp/social-answers.sqlite

Builds the synthetic users and follow graph, runs one recommender, and prints the time to build and to run, the
phenomena at the end (seed cascades, herd effect, stance spread and bimodality, friendship paradox before and
after), the process's peak resident memory and, with `--behavior llm` (the embedded model, asked per archetype),
the prompts, model calls and cache hits; `--json FILE` appends the figures as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from populace.arguments import positive_int
from populace.manifest import peak_memory_bytes
from populace.models.social import HeuristicActions, Recommender, SocialMedia, synthetic_follows, synthetic_users
from populace.models.social.graph import FollowGraph
from populace.models.social.metrics import friendship_paradox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=positive_int, default=1_000_000, help="users N")
    parser.add_argument("--steps", type=positive_int, default=100, help="steps T")
    parser.add_argument("--mean-followees", type=float, default=10.0, help="follows per user (synthetic graph)")
    parser.add_argument("--recommender", choices=[r.value for r in Recommender], default="similarity")
    parser.add_argument("--behavior", choices=("heuristic", "llm"), default="heuristic")
    parser.add_argument("--llm-cache", type=Path, default=None, help="answer cache of --behavior llm (SQLite)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the run and the population")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="append the figures to this file as a JSON line")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    users = synthetic_users(args.users, seed=args.seed)
    graph = synthetic_follows(args.users, args.mean_followees, seed=args.seed)
    if args.behavior == "llm":
        from populace.llm import make_model
        from populace.models.social.llm_agents import ArchetypeLLMActions

        policy = ArchetypeLLMActions(make_model("embedded", cache=args.llm_cache or True))
    else:
        policy = HeuristicActions()
    model = SocialMedia(users, graph, policy, recommender=args.recommender)
    world = model.initial_world(seed=args.seed)
    built = time.perf_counter()
    trajectory = model.run(args.steps, world=world, progress=False)
    ran = time.perf_counter()
    final = trajectory.final_world
    figures = {
        "users": args.users, "steps": args.steps, "recommender": args.recommender, "behavior": args.behavior,
        "threads": torch.get_num_threads(), "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__, "build_seconds": round(built - started, 2), "run_seconds": round(ran - built, 2),
        "seconds_per_step": round((ran - built) / args.steps, 3), "peak_rss_gib": round(peak_memory_bytes() / 2**30, 2),
        "encoder": users.encoder, "follows_start": graph.n_edges, "follows_end": final.table("follows").n,
        "posts_end": final.table("posts").n, "active_user_steps": int(trajectory["actions"][1:].sum()),
        "actions": dict(zip(model.observable_labels["actions"], trajectory["actions"][1:].sum(0).long().tolist(),
                            strict=True)),
        "cascade_size": round(float(trajectory["cascade_size"][-1]), 3),
        "cascade_depth": int(trajectory["cascade_depth"][-1]),
        "cascade_breadth": round(float(trajectory["cascade_breadth"][-1]), 3),
        "herd_score_plus_zero_minus": [round(x, 3) for x in trajectory["herd_score"][-1].tolist()],
        "stance_std_start_end": [round(float(trajectory["stance_std"][i]), 4) for i in (0, -1)],
        "bimodality_start_end": [round(float(trajectory["stance_bimodality"][i]), 4) for i in (0, -1)],
        "friendship_paradox_start_end": [round(friendship_paradox(graph), 4),
                                         round(friendship_paradox(FollowGraph(args.users, final.table("follows").key)),
                                               4)],
    }
    if args.behavior == "llm":
        figures["llm"] = policy.usage_totals()
    for name, value in figures.items():
        print(f"{name:28s} {value}")
    if args.json:
        with args.json.open("a") as file:
            file.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
