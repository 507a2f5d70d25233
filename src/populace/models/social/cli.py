"""`populace run social`: N users on an OASIS-style platform for T steps, one run per recommender; Parquet tables,
a summary, PNG plots and an HTML page (`populace.models.social.outputs`).

Users and the follow graph are synthetic (`synthetic_users`, `synthetic_follows`) unless `--edges` gives the
caller's edge list (CSV or Parquet with integer columns follower, followee over users 0..N-1). `--behavior
heuristic` is `HeuristicActions`; `--behavior llm` asks a language model per archetype (`ArchetypeLLMActions`),
with the cache, budget, dry-run and usage-log flags of every language-model behaviour.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from populace import arguments
from populace.behavior.llm_run import (
    add_llm_arguments,
    language_model_from_args,
    llm_prices,
    llm_usage_report,
    refuse_llm_flags,
)
from populace.core.errors import InputError
from populace.manifest import RunManifest, cli_arguments
from populace.models.social.actions import HeuristicActions
from populace.models.social.graph import FollowGraph, read_edge_list, synthetic_follows
from populace.models.social.llm_agents import ArchetypeLLMActions
from populace.models.social.metrics import friendship_paradox
from populace.models.social.model import SocialMedia
from populace.models.social.outputs import PLOTS, cascades_frame, stances_frame, steps_frame, write_plots, write_report
from populace.models.social.recommender import Recommender
from populace.models.social.users import synthetic_users

TABLES = ("steps.parquet", "stances.parquet", "cascades.parquet", "summary.parquet")


def add_parser(models: argparse._SubParsersAction) -> None:
    """Register `social` under `populace run`."""
    parser = models.add_parser("social", help="OASIS-style social media: follows, feeds, posts, cascades",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--users", type=arguments.positive_int, default=1000, help="users N")
    parser.add_argument("--steps", type=arguments.positive_int, default=24, help="steps T (an hour each)")
    parser.add_argument("--recommender", nargs="+", choices=[r.value for r in Recommender], default=["similarity"],
                        help="the feed's recommender (several: one run each)")
    parser.add_argument("--mean-followees", type=arguments.positive_float, default=10.0,
                        help="users each synthetic user follows, on average (without --edges)")
    parser.add_argument("--edges", type=Path, default=None,
                        help="your follow graph: CSV or Parquet with integer columns follower, followee (users "
                             "0..N-1, N = --users)")
    parser.add_argument("--seed-posts", type=arguments.positive_int, default=None,
                        help="posts at step 0, the seeds of the cascades (default N / 20)")
    arguments.add_population_seed_flag(parser)  # the synthetic users and follow graph
    add_llm_arguments(parser)
    arguments.add_run_flags(parser, out=Path("populace-out/social"))
    arguments.add_progress_flag(parser)
    parser.set_defaults(handler=run_social)


def policy_from_args(args: argparse.Namespace) -> HeuristicActions | ArchetypeLLMActions:
    if args.behavior == "heuristic":
        refuse_llm_flags(args)
        return HeuristicActions()
    return ArchetypeLLMActions(language_model_from_args(args), price_per_token=llm_prices(args))


def follow_graph(args: argparse.Namespace) -> FollowGraph:
    if args.edges is None:
        return synthetic_follows(args.users, args.mean_followees, seed=args.population_seed)
    try:
        return read_edge_list(args.edges, args.users)
    except ValueError as err:
        raise InputError(str(err)) from None


def summary_row(model: SocialMedia, steps: pd.DataFrame, initial: FollowGraph, final: FollowGraph,
                seconds: float) -> dict[str, object]:
    """The run's phenomena in one row."""
    first, last = steps.iloc[0], steps.iloc[-1]
    return {"recommender": model.recommender.value, "cascade_size": last.cascade_size,
            "cascade_depth": last.cascade_depth, "cascade_breadth": last.cascade_breadth,
            "herd_plus_minus_gap": last.herd_plus - last.herd_minus,
            "stance_std_start": first.stance_std, "stance_std_end": last.stance_std,
            "bimodality_start": first.stance_bimodality, "bimodality_end": last.stance_bimodality,
            "friendship_paradox_start": friendship_paradox(initial),
            "friendship_paradox_end": friendship_paradox(final),
            "posts": int(last.posts), "follows": int(last.follows), "seconds": round(seconds, 2)}


def run_social(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    inputs = [args.edges] if args.edges is not None else []
    with RunManifest(args.out, arguments=cli_arguments(args), seeds={"run": args.seed,
                     "population": args.population_seed}, inputs=inputs, command=args.command_line) as manifest:
        policy = policy_from_args(args)
        users = synthetic_users(args.users, seed=args.population_seed)
        graph = follow_graph(args)
        steps, stances, cascades, summary = [], [], [], []
        with llm_usage_report(policy, args.out, manifest):
            for recommender in dict.fromkeys(args.recommender):
                model = SocialMedia(users, graph, policy, recommender=recommender, n_seed_posts=args.seed_posts)
                started = time.perf_counter()
                trajectory = model.run(args.steps, seed=args.seed, progress=False if args.no_progress else None)
                world = trajectory.final_world
                steps.append(steps_frame(trajectory, recommender))
                stances.append(stances_frame(trajectory, recommender))
                cascades.append(cascades_frame(world, model.n_seed_posts, recommender))
                final = FollowGraph(users.n, world.table("follows").key)
                summary.append(summary_row(model, steps[-1], graph, final, time.perf_counter() - started))
        tables = dict(zip(TABLES, (pd.concat(steps), pd.concat(stances), pd.concat(cascades),
                                   pd.DataFrame(summary)), strict=True))
        for name, frame in tables.items():
            manifest.add_table(frame, args.out / name)
        for path in write_plots(tables["steps.parquet"], tables["stances.parquet"], args.out):
            manifest.add_output(path)
        source = f"from {args.edges}" if args.edges else "synthetic"
        description = (f"{users.n:,} users, {graph.n_edges:,} follows ({source}), "
                       f"{args.steps} steps, {args.behavior} behaviour, {model.n_seed_posts:,} seed posts; "
                       f"embeddings: {users.encoder}.")
        manifest.add_output(write_report(args.out, title="Social media (OASIS-style)", description=description,
                                         summary=tables["summary.parquet"]))
        manifest.results.update(encoder=users.encoder, summary=summary)
    print(description)
    print(tables["summary.parquet"].to_string(index=False))
    for name in (*TABLES, *PLOTS, "report.html", "manifest.json"):
        print(f"{name:18s} {args.out / name}")
    return 0
