"""`populace run cooperation`: S societies of the donor game over G generations, per behaviour and seed; Parquet,
a summary with bands over seeds, PNG plots and an HTML page (`populace.models.cooperation.outputs`).

Behaviours: `parametric` (the default strategy mix, evolving by selection and mutation), `learned` (the same
strategies with their donation fractions first trained by gradient through one generation for the society's total
resources, `populace.models.cooperation.learned`, then evolving under the same rules), `llm` (strategy texts
written by a language model and donations asked of it per strategy and trace bucket, or per agent with
`--per-agent`: `populace.models.cooperation.llm_strategies`).
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
from populace.models.cooperation.learned import train_donations
from populace.models.cooperation.llm_strategies import LLMDonors
from populace.models.cooperation.model import Cooperation
from populace.models.cooperation.outputs import (
    PLOTS,
    donation_frame,
    format_summary,
    generation_frame,
    lineage_frame,
    summary_frame,
    write_plots,
    write_report,
)
from populace.models.cooperation.rules import DonorGameRules
from populace.models.cooperation.strategies import StrategyTable

TABLES = ("generations.parquet", "lineages.parquet", "donations.parquet", "summary.parquet")
STRATEGIES_FILE = "strategies.parquet"
COLUMNS = {"generations.parquet": ("behaviour", "seed", "generation", "society", "final_resources", "donated",
                                   "punished"),
           "lineages.parquet": ("behaviour", "seed", "generation", "strategy", "share"),
           "donations.parquet": ("behaviour", "seed", "generation", "last_fraction", "fraction")}
"""The columns of each table (a table no behaviour writes, e.g. donations of language-model strategies, is empty)."""


def add_parser(models: argparse._SubParsersAction) -> None:
    """Register `cooperation` under `populace run`."""
    parser = models.add_parser("cooperation", help="donor game with cultural evolution: societies give and inherit",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--societies", type=arguments.positive_int, default=100, help="societies S (one game each)")
    parser.add_argument("--agents-per-society", type=arguments.positive_int, default=12,
                        help="agents n per society (even)")
    parser.add_argument("--generations", type=arguments.positive_int, default=10, help="generations G")
    parser.add_argument("--multiplier", type=float, default=2.0, help="what a recipient gets per unit given")
    parser.add_argument("--punishment", action="store_true", help="donors may punish instead of giving")
    parser.add_argument("--mutation-std", type=float, default=0.05,
                        help="standard deviation of the mutation of inherited strategy parameters")
    parser.add_argument("--behavior", nargs="+", choices=("parametric", "learned", "llm"), default=["parametric"],
                        help="where the strategies come from (several: one line each)")
    parser.add_argument("--train-iterations", type=arguments.positive_int, default=60,
                        help="gradient steps of --behavior learned")
    parser.add_argument("--seeds", type=arguments.positive_int, default=3, help="runs per behaviour (seeds --seed..)")
    llm = parser.add_argument_group("language-model strategies (--behavior llm)")
    llm.add_argument("--per-agent", action="store_true",
                     help="ask every donor and newcomer for itself (the published 12-agent setting)")
    llm.add_argument("--max-strategies", type=arguments.positive_int, default=64,
                     help="distinct strategy texts kept; past it a new text joins the nearest one")
    add_llm_arguments(parser, behavior=False)
    arguments.add_run_flags(parser, out=Path("populace-out/cooperation"),
                            seed_help="first seed (runs use --seed .. --seed + --seeds - 1)")
    arguments.add_progress_flag(parser)
    parser.set_defaults(handler=run_cooperation)


def behaviours(args: argparse.Namespace, rules: DonorGameRules) -> dict[str, tuple[StrategyTable, LLMDonors | None]]:
    """The strategy table and donor policy of each behaviour, by label."""
    if "llm" not in args.behavior:
        refuse_llm_flags(args)
        if args.per_agent:
            raise InputError("--per-agent only applies to --behavior llm")
    chosen: dict[str, tuple[StrategyTable, LLMDonors | None]] = {}
    for behaviour in dict.fromkeys(args.behavior):
        if behaviour == "parametric":
            chosen["parametric"] = StrategyTable(), None
        elif behaviour == "learned":
            trained, _ = train_donations(rules=rules, iterations=args.train_iterations, seed=args.seed)
            trained.theta.requires_grad_(False)
            chosen["learned"] = trained, None
        else:
            donors = LLMDonors(language_model_from_args(args), rules, per_agent=args.per_agent,
                               max_strategies=args.max_strategies, price_per_token=llm_prices(args))
            chosen["llm (per agent)" if args.per_agent else "llm"] = StrategyTable(), donors
    return chosen


def run_cooperation(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        rules = DonorGameRules(agents_per_society=args.agents_per_society, generations=args.generations,
                               multiplier=args.multiplier, punishment=args.punishment,
                               mutation_std=args.mutation_std)
    except ValueError as err:
        raise InputError(str(err)) from None
    seeds = list(range(args.seed, args.seed + args.seeds))
    with RunManifest(args.out, arguments=cli_arguments(args), seeds={"first": args.seed},
                     command=args.command_line) as manifest:
        started = time.perf_counter()
        frames: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES[:3]}
        chosen = behaviours(args, rules)
        llm = next((donors for _, donors in chosen.values() if donors is not None), None)
        with llm_usage_report(llm, args.out, manifest):  # LLM usage log; a spent budget stops cleanly
            for name, (strategies, donors) in chosen.items():
                model = Cooperation(args.societies, strategies, rules, donors=donors)
                for seed in seeds:
                    first = model.initial_world(seed=seed)
                    trajectory = model.run(rules.steps, world=first, progress=False if args.no_progress else None)
                    last = trajectory.final_world
                    frames["generations.parquet"].append(generation_frame(trajectory, rules, name, seed))
                    names = strategies.names if donors is None else tuple(donors.book.texts)
                    for world, generation in ((first, 0), (last, rules.generations - 1)):
                        frames["lineages.parquet"].append(lineage_frame(world, names, name, seed, generation))
                        if donors is None:  # what theta gives; language-model strategies have no theta
                            frames["donations.parquet"].append(donation_frame(world, rules, name, seed, generation))
        if llm is not None:
            manifest.add_table(pd.DataFrame({"strategy": range(len(llm.book)), "text": llm.book.texts}),
                               args.out / STRATEGIES_FILE)
        tables = {file: pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS[file]))
                  for file, parts in frames.items()}
        tables["summary.parquet"] = summary_frame(tables["generations.parquet"])
        for file, frame in tables.items():
            manifest.add_table(frame, args.out / file)
        title = f"Donor game: {args.societies:,} societies"
        for path in write_plots(tables["summary.parquet"], tables["donations.parquet"], args.out, title=title):
            manifest.add_output(path)
        description = (f"{args.societies:,} societies of {rules.agents_per_society} agents, {rules.generations} "
                       f"generations of {rules.rounds} rounds, {rules.initial_resources:g} resources each at the "
                       f"start of a generation, multiplier {rules.multiplier:g}, punishment "
                       f"{'on' if rules.punishment else 'off'}, the top {rules.survivor_fraction:.0%} survive, "
                       f"mutation {rules.mutation_std:g}; seeds {seeds[0]}..{seeds[-1]}.")
        manifest.add_output(write_report(args.out, title=title, description=description,
                                         summary=tables["summary.parquet"], lineages=tables["lineages.parquet"]))
        manifest.results.update(seconds=round(time.perf_counter() - started, 2),
                                summary=tables["summary.parquet"].to_dict(orient="records"))
    print(description)
    print("mean final resources per agent, by generation (median [5%, 95%] over seeds):")
    print(format_summary(tables["summary.parquet"]).to_string(index=False))
    for name in (*TABLES, STRATEGIES_FILE, *PLOTS, "report.html", "manifest.json"):
        if (args.out / name).exists():
            print(f"{name:18s} {args.out / name}")
    return 0
