"""`populace calibrate covid-nyc`: fit the NYC COVID-19 + labour model to DOHMH and NYS DOL by gradient descent.

Builds the synthetic city at `--scale`, loads the targets on `--train` (and `--test`, the held-out window after it),
fits by Adam (`populace.calibrate.fit` on `populace.models.covid_nyc.calibration.Calibration`), and writes into
`--out`: `parameters.json` (fitted values, natural units), `fitted.parquet` (the fit, for `populace run covid-nyc
--parameters`; `populace.models.covid_nyc.fitted`), `loss_history.parquet` and `loss_curve.png`,
`checkpoint.pt` (for `--resume`), with `--ensemble M` the parameter
draws `draws.parquet` (`load_parameter_draws`), with `--test` the held-out errors `evaluation.parquet` (against the
naive forecast and, with `--baseline`, the gradient-free optimiser at the same number of simulator runs), and
`manifest.json`. With `--behavior llm` (and the `--llm-*` flags of `populace run covid-nyc`) the agents' decisions
come from a language model asked per archetype and situation, whose per-archetype logit offsets are learned (mode
free); the usage log `llm_steps.parquet` and `llm_usage.json` is written as by `populace run covid-nyc`. With
`--warm-start-scale S` it first fits a city at the smaller scale S (`--warm-start-iterations`, checkpoints in
`--out/warm-start`) and starts the main fit from there (`populace.models.covid_nyc.calibration.warm_start`); with
`--start-from fitted.parquet` it starts from an earlier fit of the same window (`populace.models.covid_nyc.fitted.
start_from`), to continue it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from populace import arguments
from populace.behavior.interface import DecisionModel
from populace.behavior.llm_decisions import LLMDecisions
from populace.behavior.llm_run import add_llm_arguments, decision_model_from_args, llm_usage_report
from populace.calibrate import (
    DateWindow,
    FitSettings,
    Targets,
    ensemble,
    errors,
    evolution_strategy,
    fit,
    held_out,
    save_parameter_draws,
    split,
)
from populace.calibrate.fit import CHECKPOINT_NAME
from populace.manifest import RunManifest, cli_arguments
from populace.models.covid_nyc.archetypes import covid_decisions
from populace.models.covid_nyc.calibration import DEATH_SERIES, MODES, Calibration, warm_start
from populace.models.covid_nyc.calibration_run import (
    INITIAL_INFECTED_CITY,
    STARTING_BETA,
    forecast,
    forecast_seeds,
    held_out_errors,
    naive_forecast,
    nyc_calibration,
    save_fit,
)
from populace.models.covid_nyc.fitted import Fit, start_from
from populace.models.covid_nyc.targets import load_targets, observed_smoothed
from populace.population.storage import Population

WARM_START_DIR = "warm-start"
"""Subfolder of --out for the coarse fit of --warm-start-scale (its checkpoints)."""


def window(text: str) -> DateWindow:
    try:
        return DateWindow.parse(text)
    except (TypeError, ValueError) as bad:
        raise argparse.ArgumentTypeError(str(bad)) from bad


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register `populace calibrate covid-nyc`."""
    calibrate = commands.add_parser("calibrate", help="fit a model's parameters to real data by gradient descent")
    models = calibrate.add_subparsers(dest="model", required=True)
    p = models.add_parser("covid-nyc", help="the NYC COVID-19 + labour model against DOHMH and NYS DOL",
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--train", type=window, default=DateWindow.parse("2020-03-01:2020-12-31"),
                   help="training window START:END (ISO dates)")
    p.add_argument("--test", type=window, default=None,
                   help="held-out window right after --train (START:END), for the evaluation")
    arguments.add_scale_flag(p)
    p.add_argument("--mode", choices=MODES, default="free",
                   help="weekly beta and isolation as free parameters, or outputs of a calibration network")
    p.add_argument("--iterations", type=arguments.positive_int, default=30, help="Adam iterations")
    p.add_argument("--warm-start-scale", type=arguments.fraction, default=None,
                   help="first fit a city at this smaller scale, then start the --scale fit there (coarse to fine: "
                        "cheap iterations first)")
    p.add_argument("--warm-start-iterations", type=arguments.positive_int, default=20,
                   help="Adam iterations at --warm-start-scale")
    p.add_argument("--start-from", type=Path, default=None,
                   help="start from a fit: the fitted.parquet of an earlier calibration of the same window (its "
                        "initial infections rescaled to --scale), to continue it")
    p.add_argument("--lr", type=arguments.positive_float, default=0.05, help="Adam learning rate")
    p.add_argument("--lr-decay", type=arguments.fraction, default=1.0,
                   help="the learning rate is multiplied by this each iteration, in (0, 1] (1: constant)")
    p.add_argument("--clip", type=arguments.positive_float, default=5.0, help="gradient norm clipping")
    p.add_argument("--seeds-per-step", type=arguments.positive_int, default=1, help="simulator seeds per iteration")
    p.add_argument("--checkpoint-every", type=arguments.positive_int, default=5, help="iterations per checkpoint")
    arguments.add_resume_flag(p, help="continue from --out/checkpoint.pt (with the same settings)")
    p.add_argument("--ensemble", type=arguments.non_negative_int, default=0,
                   help="members of the parameter ensemble (0: none)")
    p.add_argument("--ensemble-iterations", type=arguments.positive_int, default=5, help="iterations per member")
    p.add_argument("--baseline", action="store_true",
                   help="also fit by the gradient-free (1+1)-ES with as many simulator runs (needs --test)")
    p.add_argument("--forecast-seeds", "--eval-seeds", dest="eval_seeds", type=arguments.positive_int, default=3,
                   help="seeds averaged in the held-out forecast")
    p.add_argument("--deaths", choices=DEATH_SERIES, default="expected",
                   help="deaths the loss and the forecast use: expected given the simulated infections (probability "
                        "mass, not zero by chance at a small scale) or sampled (one draw of each fate); the "
                        "evaluation reports both")
    p.add_argument("--beta", type=arguments.positive_float, default=STARTING_BETA,
                   help="starting beta of every week (high enough to keep the epidemic alive in a small city)")
    p.add_argument("--initial-infected", type=arguments.positive_float, default=INITIAL_INFECTED_CITY,
                   help="starting guess of infections on the first day, city scale")
    arguments.add_run_flags(p, out=Path("populace-out/calibrate-covid-nyc"),
                            seed_help="run seed (iteration seeds derive)")
    arguments.add_population_seed_flag(p)
    arguments.add_data_dir_flag(p)
    arguments.add_progress_flag(p)
    add_llm_arguments(p)
    p.set_defaults(handler=calibrate_covid_nyc)


def _check_windows(args: argparse.Namespace) -> None:
    if args.test is not None and args.test.start != args.train.end + dt.timedelta(days=1):
        raise SystemExit(f"--test must start the day after --train ends ({args.train.end}), got {args.test.start}")
    if args.baseline and args.test is None:
        raise SystemExit("--baseline compares held-out errors: give --test too")
    if args.warm_start_scale is not None and args.warm_start_scale >= args.scale:
        raise SystemExit(f"--warm-start-scale ({args.warm_start_scale:g}) must be smaller than --scale "
                         f"({args.scale:g}): the warm start is a cheaper, coarser fit")
    if args.start_from is not None and (args.warm_start_scale is not None or args.mode != "free"):
        raise SystemExit("--start-from starts a free-parameter fit from a fit: give it without --warm-start-scale "
                         "and --mode network")
    if args.behavior == "heuristic":
        decision_model_from_args(args)  # a ValueError names --llm-* flags given without --behavior llm
    elif args.mode == "network":
        raise SystemExit("--mode network drives the heuristic's weekly isolation; with --behavior llm use --mode free "
                         "(the language model's per-archetype logit offsets are then learned)")


def decision_models(args: argparse.Namespace, region_labels: list[str]) -> Callable[[], DecisionModel | None]:
    """A function giving each calibration its own decision model: None for --behavior heuristic (the default
    `WeeklyIsolationDecisions`), else `LLMDecisions` with its own logit offsets over one shared language model (the
    first one is `decision_model_from_args`'s, whose usage the run logs)."""
    llm = decision_model_from_args(args, covid_decisions(region_labels))
    if llm is None:
        return lambda: None
    unused = [llm]

    def fresh() -> LLMDecisions:
        return unused.pop() if unused else LLMDecisions(llm.model, llm.specs, price_per_token=llm.price_per_token)
    return fresh


def coarse_fit(args: argparse.Namespace, problem: Callable[..., Calibration], settings: FitSettings,
               out: Path) -> Calibration:
    """The fit at --warm-start-scale (--warm-start-iterations; checkpoints and --resume in out/warm-start)."""
    from populace.population.nyc import build_nyc  # imported here: it pulls in the data loaders

    city = build_nyc(scale=args.warm_start_scale, seed=args.population_seed, data_dir=args.data_dir)
    coarse = problem(args.mode, city, args.warm_start_scale)
    print(f"warm start: {city.agents.n:,} agents (scale {args.warm_start_scale:g}), {args.warm_start_iterations} "
          "iterations")
    fit(coarse, dataclasses.replace(settings, iterations=args.warm_start_iterations), out=out / WARM_START_DIR,
        resume=args.resume, progress=False if args.no_progress else None)
    return coarse


def calibrate_covid_nyc(args: argparse.Namespace) -> int:
    from populace.population.nyc import build_nyc  # imported here: it pulls in the data loaders

    _check_windows(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    full_window = DateWindow(args.train.start, (args.test or args.train).end)
    full = load_targets(full_window, data_dir=args.data_dir)
    train, test = split(full, args.train) if args.test else (full, None)
    settings = FitSettings(iterations=args.iterations, learning_rate=args.lr, learning_rate_decay=args.lr_decay,
                           clip_norm=args.clip, seeds_per_step=args.seeds_per_step, seed=args.seed,
                           checkpoint_every=args.checkpoint_every)
    out: Path = args.out
    with RunManifest(out, arguments=cli_arguments(args), seeds={"run": args.seed, "population": args.population_seed},
                     inputs=[], command=args.command_line) as manifest:
        started = time.perf_counter()
        population = build_nyc(scale=args.scale, seed=args.population_seed, data_dir=args.data_dir)
        behaviour = decision_models(args, population.manifest["codes"]["region"])

        def problem(mode: str, city: Population = population, scale: float = args.scale) -> Calibration:
            return nyc_calibration(city, train, scale=scale, mode=mode, full_cases=full["cases"].values,
                                   tests_days=full_window.days, data_dir=args.data_dir,
                                   initial_infected_city=args.initial_infected, beta_per_day=args.beta,
                                   behaviour=behaviour(), deaths=args.deaths)

        calibration = problem(args.mode)
        built = time.perf_counter()
        fresh = not (args.resume and (out / CHECKPOINT_NAME).exists())
        if args.warm_start_scale is not None and fresh:
            warm_start(calibration, coarse_fit(args, problem, settings, out))
            manifest.results.update(warm_start_seconds=round(time.perf_counter() - built, 2))
        if args.start_from is not None and fresh:
            start_from(calibration, Fit.load(args.start_from))
        fit_started = time.perf_counter()  # after the warm start, which has its own figure
        with llm_usage_report(calibration.model.behaviour.decision_model, out, manifest):  # LLM log; clean stop
            history = fit(calibration, settings, out=out, resume=args.resume,
                          progress=False if args.no_progress else None)
            fitted = time.perf_counter()
            title = (f"{population.agents.n:,} agents (scale {args.scale:g}), {args.train}, mode {args.mode}, "
                     f"behaviour {args.behavior}")
            fit_metadata = {"population_seed": args.population_seed, "deaths": args.deaths, "seed": args.seed,
                            "command": args.command_line}
            for path in save_fit(out, calibration, history, title=title, metadata=fit_metadata):
                manifest.add_output(path)
            if args.ensemble:
                draws = ensemble(calibration, settings, members=args.ensemble, iterations=args.ensemble_iterations,
                                 draw=calibration.draw)
                path = save_parameter_draws(out / "draws.parquet", draws, {"window": str(args.train),
                                                                          "mode": args.mode, "scale": args.scale,
                                                                          "behaviour": args.behavior})
                manifest.add_output(path)
            if test is not None:
                table = evaluate(calibration, full, train, test, args, problem, settings)
                manifest.add_table(table, out / "evaluation.parquet")
                print(table[table["region"] == "all"].to_string(index=False))
        manifest.results.update(agents=population.agents.n, iterations=len(history),
                                final_loss=float(history["loss"].iloc[-1]) if len(history) else None,
                                build_seconds=round(built - started, 2), fit_seconds=round(fitted - fit_started, 2))
    print(f"calibrated CovidNYC ({population.agents.n:,} agents, scale {args.scale:g}) on {args.train}, mode "
          f"{args.mode}, behaviour {args.behavior}: loss {history['loss'].iloc[0]:.4f} -> "
          f"{history['loss'].iloc[-1]:.4f} in {len(history)} iterations, {fitted - fit_started:.0f} s; "
          f"outputs in {out}")
    return 0


def evaluate(calibration: Calibration, full: Targets, train: Targets, test: Targets, args: argparse.Namespace,
             problem: Callable[[str], Calibration], settings: FitSettings) -> pd.DataFrame:
    """Held-out errors of the gradient fit, the naive forecast and (with --baseline) the gradient-free fit, each fit
    also anchored at the last observed values of the training window (`populace.calibrate.anchored`, method
    `<fit>_anchored`: cases and deaths scaled, unemployment shifted).

    The fits' forecasts (seed means over --forecast-seeds) are scored on `deaths` (the kind --deaths names) and on
    both kinds, `deaths_expected` and `deaths_sampled`, each against the observed deaths."""
    seeds = forecast_seeds(args.eval_seeds)
    observed = held_out(observed_smoothed(full), full, test.window)
    tables = [held_out_errors("gradient", forecast(calibration, full, seeds), full, train, test),
              errors("naive", naive_forecast(train, test), observed, test.columns)]
    if args.baseline:
        free = problem("free")
        evolution_strategy(free, simulator_runs=settings.iterations * settings.seeds_per_step,
                           seeds_per_evaluation=settings.seeds_per_step, seed=settings.seed)
        tables.append(held_out_errors("gradient_free", forecast(free, full, seeds), full, train, test))
    return pd.concat(tables, ignore_index=True)
