"""`populace run commons`: G groups of the GovSim harvest game per behaviour and seed; Parquet, summary with bands
over seeds, PNG plots and an HTML page (`populace.models.commons.outputs`).

Behaviours: `heuristic` (one line per `--policy`), `learned` (a `HarvestNetwork` trained through the differentiable
simulator at the start of the run), `llm` (a language model asked per archetype, `ArchetypeLLMPolicy`, or per agent
with `--per-agent`, `IndividualLLMPolicy`, GovSim's own setting). `--universalization`, `--no-communication` and
`--discussion` are GovSim's variants of what language-model agents are told; `--newcomer` adds to every group a
greedy agent who joins in month 3.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from populace import arguments
from populace.behavior.llm_decisions import UsageRecords
from populace.behavior.llm_run import (
    add_llm_arguments,
    language_model_from_args,
    llm_prices,
    llm_usage_report,
    refuse_llm_flags,
)
from populace.core.errors import InputError
from populace.manifest import RunManifest, cli_arguments
from populace.models.commons.heuristics import Greedy, RandomHarvest, SustainableShare, TitForTat, WithNewcomer
from populace.models.commons.learned import train_policy
from populace.models.commons.llm_agents import ArchetypeLLMPolicy
from populace.models.commons.metrics import group_metrics
from populace.models.commons.model import Commons
from populace.models.commons.outputs import (
    PLOTS,
    format_summary,
    groups_frame,
    months_frame,
    runs_frame,
    summary_frame,
    write_plots,
    write_report,
)
from populace.models.commons.policy import HarvestPolicy
from populace.models.commons.prompts import Variant, persona_codes
from populace.models.commons.reproduction import IndividualLLMPolicy
from populace.models.commons.rules import CommonsRules
from populace.models.commons.scenarios import SCENARIOS

LLM_VARIANT_FLAGS = ("universalization", "no_communication", "discussion", "per_agent", "free_text")
DISCUSSION_FILE = "discussion.parquet"

NEWCOMER_MONTH = 3
"""GovSim's greedy newcomer joins in the third month."""

HEURISTICS: dict[str, Callable[[argparse.Namespace], HarvestPolicy]] = {
    "sustainable": lambda args: SustainableShare(),
    "greedy": lambda args: Greedy(args.greedy_amount),
    "random": lambda args: RandomHarvest(args.random_high),
    "tit-for-tat": lambda args: TitForTat(),
}


def add_parser(models: argparse._SubParsersAction) -> None:
    """Register `commons` under `populace run`."""
    parser = models.add_parser("commons", help="GovSim commons: groups share a pool",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--scenario", choices=tuple(SCENARIOS), default="fishery", help="what the pool is")
    parser.add_argument("--groups", type=arguments.positive_int, default=100, help="groups G (one game each)")
    parser.add_argument("--agents-per-group", type=arguments.positive_int, default=5, help="agents N per group")
    parser.add_argument("--months", type=arguments.positive_int, default=12, help="months T of a game")
    parser.add_argument("--behavior", nargs="+", choices=("heuristic", "learned", "llm"), default=["heuristic"],
                        help="who decides the harvests (several: one line each)")
    parser.add_argument("--policy", nargs="+", choices=tuple(HEURISTICS), default=["sustainable"],
                        help="the heuristics of --behavior heuristic (several: one line each)")
    parser.add_argument("--greedy-amount", type=arguments.non_negative_int, default=None,
                        help="units a greedy agent asks for (default: the whole pool)")
    parser.add_argument("--random-high", type=arguments.non_negative_int, default=20,
                        help="a random agent asks uniformly for 0..this many units")
    parser.add_argument("--newcomer", action="store_true",
                        help=f"a greedy agent joins every group in month {NEWCOMER_MONTH}")
    parser.add_argument("--rationing", choices=("random", "proportional"), default="random",
                        help="how an over-demanded pool is shared (random: one unit at a time, GovSim's rule)")
    parser.add_argument("--seeds", type=arguments.positive_int, default=3, help="runs per behaviour (seeds --seed..)")
    parser.add_argument("--train-iterations", type=arguments.positive_int, default=150,
                        help="gradient steps of --behavior learned")
    variants = parser.add_argument_group("language-model agents (--behavior llm)")
    variants.add_argument("--per-agent", action="store_true",
                          help="ask every agent by name, as GovSim does (few groups), instead of once per archetype")
    variants.add_argument("--universalization", action="store_true",
                          help="tell agents: if everyone takes more than the sustainable share, the pool shrinks")
    variants.add_argument("--no-communication", action="store_true",
                          help="agents do not learn what the others took")
    variants.add_argument("--discussion", action="store_true",
                          help="with --per-agent: each month opens with one proposal per agent, shown to its group")
    variants.add_argument("--free-text", action="store_true",
                          help="with --per-agent: agents answer in words (a number; their own sentence to the group) "
                               "instead of one of five amounts")
    add_llm_arguments(parser, behavior=False)
    arguments.add_run_flags(parser, out=Path("populace-out/commons"),
                            seed_help="first seed (runs use --seed .. --seed + --seeds - 1)")
    arguments.add_progress_flag(parser)
    parser.set_defaults(handler=run_commons)


def llm_policy(args: argparse.Namespace, rules: CommonsRules) -> ArchetypeLLMPolicy | IndividualLLMPolicy:
    """--behavior llm: language-model harvesters for `args.scenario` and the variant flags."""
    try:
        variant = Variant(universalization=args.universalization, communication=not args.no_communication,
                          discussion=args.discussion)
    except ValueError as err:
        raise InputError(f"--discussion and --no-communication exclude each other ({err})") from None
    for flag, given in (("--discussion", args.discussion), ("--free-text", args.free_text)):
        if given and not args.per_agent:
            raise InputError(f"{flag} needs --per-agent: archetypes answer one of the amounts, without a discussion")
    model, prices = language_model_from_args(args), llm_prices(args)
    if args.per_agent:
        return IndividualLLMPolicy(model, SCENARIOS[args.scenario], rules, variant=variant, free_text=args.free_text,
                                   price_per_token=prices)
    return ArchetypeLLMPolicy(model, SCENARIOS[args.scenario], rules, variant=variant, price_per_token=prices)


def check_llm_flags(args: argparse.Namespace) -> None:
    """Refuse language-model flags (--llm-*, the variants) on a run without --behavior llm."""
    if "llm" in args.behavior:
        return
    refuse_llm_flags(args)
    given = [f"--{flag.replace('_', '-')}" for flag in LLM_VARIANT_FLAGS if getattr(args, flag)]
    if given:
        raise InputError(f"{', '.join(given)} only apply to --behavior llm")


def behaviours(args: argparse.Namespace, rules: CommonsRules) -> tuple[dict[str, HarvestPolicy], UsageRecords | None]:
    """The policies to run, by label: each --policy of heuristic, learned, llm (with the newcomer if asked), and
    the language-model usage records of llm (None without)."""
    check_llm_flags(args)
    chosen: dict[str, HarvestPolicy] = {}
    usage: UsageRecords | None = None
    for behaviour in dict.fromkeys(args.behavior):
        if behaviour == "heuristic":
            chosen.update({name: HEURISTICS[name](args) for name in dict.fromkeys(args.policy)})
        elif behaviour == "learned":
            policy, _ = train_policy(rules, iterations=args.train_iterations, seed=args.seed)
            chosen["learned"] = policy
        else:
            policy = llm_policy(args, rules)
            usage = policy.decisions if isinstance(policy, ArchetypeLLMPolicy) else policy
            mode = ", per agent" + (", free text" if args.free_text else "") if args.per_agent else ""
            chosen[f"llm ({policy.variant.tag()}{mode})"] = policy
    if args.newcomer:
        newcomer = Greedy(args.greedy_amount)
        chosen = {f"{name} + greedy newcomer": WithNewcomer(policy, newcomer) for name, policy in chosen.items()}
    return chosen, usage


def run_commons(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        rules = CommonsRules(agents_per_group=args.agents_per_group, months=args.months,
                             newcomer_month=NEWCOMER_MONTH if args.newcomer else None)
    except ValueError as err:
        raise InputError(str(err)) from None
    seeds = list(range(args.seed, args.seed + args.seeds))
    with RunManifest(args.out, arguments=cli_arguments(args), seeds={"first": args.seed},
                     command=args.command_line) as manifest:
        started = time.perf_counter()
        months, groups = [], []
        chosen, usage = behaviours(args, rules)
        persona = persona_codes(args.groups, rules.seats)  # the archetypes' personas
        with llm_usage_report(usage, args.out, manifest):  # LLM usage log; a spent budget stops cleanly
            for name, policy in chosen.items():
                model = Commons(args.groups, policy, rules, rationing=args.rationing, persona=persona)
                for seed in seeds:
                    trajectory = model.run(rules.months, seed=seed, progress=False if args.no_progress else None)
                    months.append(months_frame(trajectory, name, seed))
                    groups.append(groups_frame(group_metrics(trajectory, rules), name, seed))
        if isinstance(usage, IndividualLLMPolicy) and usage.free_text:
            manifest.results["answers_without_a_number"] = usage.fallbacks
            print(f"free-text answers without a number (asked for nothing): {usage.fallbacks}")
        if isinstance(usage, IndividualLLMPolicy) and usage.transcript:
            manifest.add_table(pd.DataFrame(usage.transcript), args.out / DISCUSSION_FILE)
        months_table, groups_table = pd.concat(months, ignore_index=True), pd.concat(groups, ignore_index=True)
        runs = runs_frame(groups_table)
        summary = summary_frame(runs)
        tables = {"months.parquet": months_table, "groups.parquet": groups_table, "runs.parquet": runs,
                  "summary.parquet": summary}
        for file, frame in tables.items():
            manifest.add_table(frame, args.out / file)
        for path in write_plots(months_table, args.out, unit=SCENARIOS[args.scenario].unit, scenario=args.scenario):
            manifest.add_output(path)
        description = (f"{args.scenario}: {args.groups:,} groups of {args.agents_per_group} agents"
                       f"{' (and a greedy newcomer from month 3)' if args.newcomer else ''}, {rules.months} months, "
                       f"pool {rules.initial_resource} of {rules.capacity} {SCENARIOS[args.scenario].unit}, regrowing "
                       f"x{rules.regeneration_factor:g}, collapse below {rules.collapse_below:g}; {args.rationing} "
                       f"rationing; seeds {seeds[0]}..{seeds[-1]}.")
        manifest.add_output(write_report(args.out, title=f"GovSim commons: {args.scenario}", description=description,
                                         summary=summary, runs=runs))
        manifest.results.update(seconds=round(time.perf_counter() - started, 2),
                                summary=summary.to_dict(orient="records"))
    print(description)
    print(format_summary(summary).to_string(index=False))
    for name in (*tables, *PLOTS, "report.html", "manifest.json"):
        print(f"{name:18s} {args.out / name}")
    return 0
