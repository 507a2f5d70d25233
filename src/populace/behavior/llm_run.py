"""Language-model behaviour on the command line: the `--behavior llm` flags, the decision model they build, and the
per-step usage log a run writes (`llm_steps.parquet`, `llm_usage.json`) and summarises in the terminal.

A model's CLI adds the flags with `add_llm_arguments(parser)`, builds its decision model with
`decision_model_from_args(args, decisions)` (its own `DecisionSpec`s; None for `--behavior heuristic`: the model's
default) and runs
inside `with llm_usage_report(decisions, out, manifest):`, which writes the log when the run ends, and turns a spent
budget or a backend that stays down (`populace.llm.LLMError`) into a clean stop: the log is written, the answers
obtained so far are in the cache, and the message says that rerunning the same command resumes from there.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from torch import Tensor

from populace import arguments
from populace.behavior.archetypes import Levels
from populace.behavior.grouping.learned import GROUPINGS, LearnedGrouping, learn_grouping
from populace.behavior.llm_decisions import DecisionSpec, LLMDecisions, UsageRecords
from populace.core.errors import InputError
from populace.llm.protocol import LanguageModel, Query, TextQuery
from populace.manifest import RunManifest

STEPS_FILE = "llm_steps.parquet"
USAGE_FILE = "llm_usage.json"
GROUPING_FILE = "grouping.json"
BACKENDS = ("embedded", "openai", "scripted")
SCRIPTED_TEXT = "My strategy will be to give half of what I have."
"""What the scripted backend writes for every text prompt."""


def add_llm_arguments(parser: argparse.ArgumentParser, *, behavior: bool = True, grouping: bool = False) -> None:
    """Add --behavior (unless `behavior` is False: a model with behaviours of its own), --llm-backend, --llm-url,
    --llm-model, --llm-cache, --dry-run, --llm-max-calls / --llm-max-tokens and --llm-price; with `grouping`,
    --grouping, --grouping-probes and --grouping-clusters (`populace.behavior.grouping.learned`)."""
    group = parser.add_argument_group("behaviour")
    if behavior:
        group.add_argument("--behavior", choices=("heuristic", "llm"), default="heuristic",
                           help="how agents make their decisions: the model's heuristic, or a language model asked "
                                "once per archetype and situation")
    group.add_argument("--llm-backend", choices=BACKENDS, default="embedded",
                       help="embedded: SmolLM2-135M offline; openai: any OpenAI-compatible server (--llm-url); "
                            "scripted: every answer uniform over its options and every text a placeholder, for "
                            "trying the pipeline")
    group.add_argument("--llm-url", default=None, help="base URL of an OpenAI-compatible server (openai backend)")
    group.add_argument("--llm-model", default=None, help="model name on the server (openai backend)")
    group.add_argument("--llm-cache", type=Path, default=None,
                       help="answer cache (SQLite; default: populace.llm's, in the user cache directory)")
    group.add_argument("--dry-run", action="store_true",
                       help="count the prompts, calls and tokens the LLM behaviour would cost, without calling "
                            "a model (placeholder answers: later weeks are an estimate)")
    group.add_argument("--llm-max-calls", type=arguments.positive_int, default=None,
                       help="stop the run cleanly after this many model calls (answers stay cached; rerun to resume)")
    group.add_argument("--llm-max-tokens", type=arguments.positive_int, default=None,
                       help="stop the run cleanly after this many prompt + completion tokens")
    group.add_argument("--llm-price", type=_prices, default=(0.0, 0.0), metavar="PROMPT,COMPLETION",
                       help="US dollars per million prompt and completion tokens, to price the run (or a dry run)")
    if grouping:
        group.add_argument("--grouping", choices=GROUPINGS, default="attributes",
                           help="the LLM archetypes: the model's attributes; attributes chosen automatically by "
                                "information gain on probe answers; or behaviour clusters of the probe answers, "
                                "recognised from attributes (docs/behaviour-clusters.md)")
        group.add_argument("--grouping-probes", type=arguments.positive_int, default=200,
                           help="agents probed (asked a few situations each, once) to learn --grouping auto|clusters")
        group.add_argument("--grouping-clusters", type=arguments.positive_int, default=16,
                           help="behaviour clusters for --grouping clusters")


def decision_model_from_args(args: argparse.Namespace, decisions: Mapping[str, DecisionSpec] | None = None, *,
                             model: LanguageModel | None = None) -> LLMDecisions | None:
    """`LLMDecisions` asking `decisions` of `model` or else the language model the flags name (cached, budgeted, or
    a dry run); None for heuristic (then `decisions` may be left out: the call only checks that no --llm-* flag was
    given)."""
    if args.behavior == "heuristic":
        refuse_llm_flags(args)
        return None
    if decisions is None:
        raise ValueError("--behavior llm needs the model's decisions: pass decision_model_from_args(args, decisions) "
                         "a mapping of decision name -> DecisionSpec")
    return LLMDecisions(model or language_model_from_args(args), decisions, price_per_token=llm_prices(args))


def grouped_decision_model_from_args(args: argparse.Namespace, decisions: Mapping[str, DecisionSpec], *,
                                     learn_from: str, agents: Mapping[str, Tensor], candidates: Sequence[Levels],
                                     personas: Callable[[Tensor], list[str]]
                                     ) -> tuple[LLMDecisions | None, LearnedGrouping | None]:
    """`decision_model_from_args` with --grouping: the archetypes learned from the probes of decision `learn_from`
    (`learn_grouping`, seeded by --seed) replace every decision's; (None, None) for heuristic."""
    if args.behavior == "heuristic":
        refuse_llm_flags(args)
        return None, None
    if learn_from not in decisions:
        raise ValueError(f"learn_from must be one of the decisions ({', '.join(decisions)}), got {learn_from!r}")
    model = language_model_from_args(args)
    learned = learn_grouping(args.grouping, model, decisions[learn_from], agents, candidates, personas,
                             probe_agents=args.grouping_probes, clusters=args.grouping_clusters, seed=args.seed)
    specs = {name: dataclasses.replace(spec, archetype=learned.spec.archetype) for name, spec in decisions.items()}
    return decision_model_from_args(args, specs, model=model), learned


def write_grouping(learned: LearnedGrouping, agents: Mapping[str, Tensor], out: Path,
                   manifest: RunManifest | None = None) -> dict:
    """Write `grouping.json` (`LearnedGrouping.report`: the method, the groups and their sizes, the probes' calls)."""
    report = learned.report(agents)
    (out / GROUPING_FILE).write_text(json.dumps(report, indent=2) + "\n")
    if manifest is not None:
        manifest.add_output(out / GROUPING_FILE)
        manifest.results["grouping"] = {key: report[key] for key in ("method", "attributes", "probe_agents",
                                                                     "probe_prompts", "probe_calls",
                                                                     "groups_present")}
    return report


def refuse_llm_flags(args: argparse.Namespace) -> None:
    """An `InputError` naming the --llm-* flags given to a run that asks no language model."""
    llm_only = [flag for flag, value in (("--llm-url", args.llm_url), ("--llm-model", args.llm_model),
                                         ("--dry-run", args.dry_run), ("--llm-max-calls", args.llm_max_calls),
                                         ("--llm-max-tokens", args.llm_max_tokens),
                                         ("--llm-price", any(args.llm_price)),
                                         ("--grouping", getattr(args, "grouping", "attributes") != "attributes"))
                if value]
    if llm_only:
        raise InputError(f"{', '.join(llm_only)} only apply to --behavior llm (the default is heuristic)")


def llm_prices(args: argparse.Namespace) -> tuple[float, float]:
    """--llm-price as (prompt, completion) US dollars per token."""
    prompt_price, completion_price = (price / 1e6 for price in args.llm_price)
    return prompt_price, completion_price


def language_model_from_args(args: argparse.Namespace) -> LanguageModel:
    """The backend the flags name, as `populace.llm.make_model` stacks it: the answer cache around a metered,
    budgeted backend (or around a `DryRunModel` with --dry-run, which asks nothing).

    The scripted backend answers every prompt uniformly over its options (P(yes) = 0.5) and writes `SCRIPTED_TEXT`
    for every text: for trying the pipeline.
    """
    from populace.llm import make_model  # imported here: the backends pull in heavy optional packages
    from populace.llm.usage import Budget

    server_only = [flag for flag, value in (("--llm-url", args.llm_url), ("--llm-model", args.llm_model)) if value]
    if server_only and args.llm_backend != "openai":
        raise InputError(f"{', '.join(server_only)} only apply to --llm-backend openai (got {args.llm_backend})")
    options: dict[str, object] = {}
    if args.llm_url:
        options["url"] = args.llm_url
    if args.llm_model:
        options["model"] = args.llm_model
    if args.llm_backend == "scripted":
        options["answers"] = _uniform
        options["texts"] = _placeholder
    budget = Budget(max_calls=args.llm_max_calls, max_tokens=args.llm_max_tokens)
    return make_model(args.llm_backend, cache=args.llm_cache or True, budget=budget, dry_run=args.dry_run, **options)


def _prices(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        prices = tuple(float(p) for p in parts)
    except ValueError:
        prices = ()
    if len(prices) != 2 or not all(p >= 0 for p in prices):
        raise argparse.ArgumentTypeError(f"expected two prices >= 0, per million prompt and completion tokens, such "
                                         f"as 0.15,0.6; got {text!r}")
    return prices  # type: ignore[return-value]


def _placeholder(query: TextQuery) -> str:
    return SCRIPTED_TEXT


def _uniform(query: Query) -> tuple[float, ...]:
    return tuple(1 / len(query.options) for _ in query.options)


@contextlib.contextmanager
def llm_usage_report(decisions: object, out: Path, manifest: RunManifest | None = None) -> Iterator[None]:
    """Write the usage log of `decisions` (`UsageRecords`: an `LLMDecisions` or a model's own language-model
    behaviour; anything else: nothing) when the block ends, and stop cleanly with `SystemExit` on a
    `populace.llm.LLMError` (spent budget, backend down)."""
    if not isinstance(decisions, UsageRecords):
        yield
        return
    from populace.llm import LLMError

    try:
        yield
    except LLMError as error:
        write_usage(decisions, out, manifest)
        print(usage_summary(decisions))
        step, decision = decisions.asking or (0, "?")
        raise SystemExit(f"populace: the run stopped at step {step}, asking {decision!r}: {error}\n"
                         f"The usage of the steps before is in {out / STEPS_FILE}; every answer obtained is in the "
                         "cache, so rerunning the same command resumes from there") from error
    write_usage(decisions, out, manifest)
    print(usage_summary(decisions))


def write_usage(decisions: UsageRecords, out: Path, manifest: RunManifest | None = None) -> dict[str, float]:
    """Write `llm_steps.parquet` (one row per decision step and backend) and `llm_usage.json` (totals, backend)."""
    frame = decisions.usage_frame()
    frame.to_parquet(out / STEPS_FILE, index=False)
    totals = decisions.usage_totals()
    backends = sorted({f"{row.backend}:{row.model}" for row in frame.itertuples()})
    (out / USAGE_FILE).write_text(json.dumps({"totals": totals, "backends": backends,
                                              "dry_run": is_dry_run(decisions.model),
                                              "decisions": list(decisions.decisions)}, indent=2) + "\n")
    if manifest is not None:
        manifest.add_output(out / STEPS_FILE)
        manifest.add_output(out / USAGE_FILE)
        manifest.results["llm"] = totals
    return totals


def usage_summary(decisions: UsageRecords) -> str:
    """A few lines for the terminal: totals, then prompts / calls / cache hits / seconds per decision step."""
    frame = decisions.usage_frame()
    if frame.empty:
        return "LLM behaviour: no decision step was reached"
    t = decisions.usage_totals()
    dry = " (DRY RUN: nothing was asked; calls and estimated tokens are what the run would cost)"
    lines = [f"LLM behaviour{dry if is_dry_run(decisions.model) else ''}: {t['decision_steps']} decision step(s), "
             f"{t['prompts']:,} prompts, {t['calls']:,} model calls, {t['cache_hits']:,} cache hits, "
             f"{t['prompt_tokens']:,} + {t['completion_tokens']:,} tokens"
             + (f" (${t['cost']:,.4f})" if t["cost"] else "") + f", {t['seconds']:.1f} s in the model"]
    per_step = frame.groupby(["step", "decision"], sort=False)[["agents", "prompts", "calls", "cache_hits",
                                                                 "seconds"]].sum()
    for (step, decision), row in zip(per_step.index, per_step.itertuples(index=False), strict=True):
        lines.append(f"  step {step:4d} {decision:10s} {row.agents:>10,} agents {row.prompts:5d} prompts "
                     f"{row.calls:5d} calls {row.cache_hits:5d} cached {row.seconds:7.2f} s")
    return "\n".join(lines)


def is_dry_run(model: object) -> bool:
    """True when `model` or a model it wraps (`.inner`) is a dry run."""
    for _ in range(8):
        if getattr(model, "dry_run", False):
            return True
        model = getattr(model, "inner", None)
        if model is None:
            return False
    return False
