"""Heuristic against language-model behaviour at equal calibration effort: the tables and figures of
docs/behaviour-study.md.

    python docs/scripts/behaviour_study.py --scale 0.002 --iterations 10 --threads 1
    python docs/scripts/behaviour_study.py --window 2020-03-01:2020-04-30,2020-05-01:2020-05-31 --iterations 10 \
        --lr 0.1 --lr-decay 1 --name behaviour-study            # the spring-2020 study
    python docs/scripts/behaviour_study.py --llm-backend openai --llm-url URL --llm-model M ...   # any server

On one synthetic city and for each window (`--window TRAIN,TEST`, repeatable; default the two 2020-2021 windows,
`WINDOWS_2021`), fits the NYC COVID-19 + labour model twice with the same settings (Adam, the same iterations,
learning rate, seeds per step, run seed and so the same simulator seeds and runs, the same starting values): (a) with
the heuristic `WeeklyIsolationDecisions` (learned: its weekly isolation shifts per borough) and (b) with
`LLMDecisions` on a language model (learned: the per-archetype logit offsets of its two decisions); everything else
learned is the same. A calibration reaching 2020-12-14 has NYC's vaccination and variants. Then forecasts the
held-out window (`--forecast-seeds` seeds averaged, as `populace calibrate covid-nyc --test`) and scores both
against DOHMH and NYS DOL, as simulated and anchored at the last training values, with the naive (persistence)
forecast alongside (`populace.models.covid_nyc.calibration_run.held_out_errors`).

The language model comes from the `--llm-*` flags of `populace calibrate covid-nyc --behavior llm`
(`populace.behavior.llm_run`): `--llm-backend embedded` (default, SmolLM2-135M-Instruct offline), `openai` with
`--llm-url` and `--llm-model` (any OpenAI-compatible server), or `scripted` (every prompt answered 50/50: a check of
the pipeline, not a study); answers are cached in SQLite (`--llm-cache`), so a rerun makes no model call.

Writes docs/NAME.csv (one row per window and method: held-out ND simulated and anchored, training loss, LLM usage,
seconds), docs/NAME-evaluation.csv (every error per window, method, series and borough), docs/NAME.json (settings,
loss curves, fitted values, the language model's answers by situation) and docs/img/NAME[-K].png (one per window).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import pandas as pd
import torch

from populace.behavior import LLMDecisions
from populace.behavior.llm_run import add_llm_arguments, language_model_from_args, llm_prices
from populace.calibrate import DateWindow, FitSettings, errors, fit, held_out, split
from populace.llm import Answer, LanguageModel, Query
from populace.llm.paths import user_cache_dir
from populace.models.covid_nyc.archetypes import covid_decisions
from populace.models.covid_nyc.calibration_run import (
    forecast,
    forecast_seeds,
    held_out_errors,
    naive_forecast,
    nyc_calibration,
)
from populace.models.covid_nyc.targets import load_targets, months_of, observed_smoothed
from populace.population.nyc import build_nyc
from populace.population.storage import Population

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_nyc import DOCS, save  # the sibling script's helpers

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

WINDOWS_2021 = ("2020-03-01:2020-12-31,2021-01-01:2021-02-28", "2020-03-01:2021-04-30,2021-05-01:2021-06-30")
"""The default windows (TRAIN,TEST): the last ones the data allow after 2020, as in docs/calibration.md."""
SERIES = ("cases", "deaths", "unemployment")
COLUMNS = ("train", "test", "method", "train_loss_start", "train_loss_end", "train_loss_best",
           *(f"{series}_{kind}" for series in SERIES for kind in ("nd", "nd_anchored", "mae")),
           "llm_prompts_fit", "llm_calls_fit", "llm_prompts_all", "llm_calls_all", "llm_model_seconds", "fit_seconds",
           "forecast_seconds")
"""The summary table's columns, in order."""


LABELS = {"heuristic": "heuristic (weekly isolation shifts)", "llm": "LLM archetypes (per-archetype offsets)",
          "naive": "naive (persistence)"}
COLORS = {"heuristic": "tab:red", "llm": "tab:blue"}


@dataclasses.dataclass(frozen=True)
class Window:
    """A training window and the held-out window right after it."""

    train: DateWindow
    test: DateWindow

    def __str__(self) -> str:
        return f"{self.train},{self.test}"


def study_window(text: str) -> Window:
    """`TRAIN,TEST`, each `START:END` (ISO dates); the test window starts the day after training ends."""
    try:
        train, test = (DateWindow.parse(part) for part in text.split(","))
    except (TypeError, ValueError) as bad:
        raise argparse.ArgumentTypeError(f"expected TRAIN,TEST as START:END,START:END, got {text!r} ({bad})") from bad
    if test.start != train.end + dt.timedelta(days=1):
        raise argparse.ArgumentTypeError(f"the test window must start the day after training ends ({train.end}), "
                                         f"got {test.start}")
    return Window(train, test)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=study_window, action="append", default=None,
                        help=f"TRAIN,TEST windows, repeatable (default: {' and '.join(WINDOWS_2021)})")
    parser.add_argument("--scale", type=float, default=0.002)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.08, help="Adam learning rate")
    parser.add_argument("--lr-decay", type=float, default=0.85,
                        help="the learning rate is multiplied by this each iteration (1: constant)")
    parser.add_argument("--seeds-per-step", type=int, default=1, help="simulator seeds per iteration")
    parser.add_argument("--beta", type=float, default=0.2, help="starting beta of every week")
    parser.add_argument("--seed", type=int, default=1, help="run seed (the iterations' simulator seeds derive)")
    parser.add_argument("--forecast-seeds", type=int, default=3, help="seeds averaged in the held-out forecast")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--name", default="behaviour-study-2021", help="prefix of the output files")
    add_llm_arguments(parser, behavior=False)
    parser.set_defaults(llm_cache=user_cache_dir() / "behaviour-study-answers.sqlite")
    args = parser.parse_args(argv)
    args.window = args.window or [study_window(w) for w in WINDOWS_2021]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    (args.out / "img").mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    population = build_nyc(scale=args.scale, seed=1)
    print(f"city: {population.agents.n:,} agents (scale {args.scale}), built in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    language = Recorder(language_model_from_args(args))
    load_seconds = time.perf_counter() - t
    print(f"language model: {language.backend}:{language.model}, loaded in {load_seconds:.0f} s; "
          f"cache {args.llm_cache}")
    summaries, tables, windows = [], [], {}
    for k, window in enumerate(args.window):
        image = args.out / "img" / (f"{args.name}.png" if len(args.window) == 1 else f"{args.name}-{k + 1}.png")
        rows, table, about = study(window, population, language, args, image)
        summaries += rows
        tables.append(table.assign(window=str(window)))
        windows[str(window)] = about
    frame = pd.DataFrame(summaries)
    frame = frame[[c for c in COLUMNS if c in frame.columns]]
    counts = [c for c in frame.columns if c.startswith(("llm_prompts", "llm_calls"))]
    frame[counts] = frame[counts].astype("Int64")
    frame.to_csv(args.out / f"{args.name}.csv", index=False, float_format="%.4g")
    evaluation = pd.concat(tables, ignore_index=True)
    evaluation[["window", *evaluation.columns.drop("window")]].to_csv(
        args.out / f"{args.name}-evaluation.csv", index=False, float_format="%.4g")
    print(frame.to_string(index=False))
    (args.out / f"{args.name}.json").write_text(json.dumps({
        "scale": args.scale, "agents": population.agents.n, "iterations": args.iterations,
        "learning_rate": args.lr, "learning_rate_decay": args.lr_decay, "seeds_per_step": args.seeds_per_step,
        "beta_start": args.beta, "seed": args.seed, "forecast_seeds": forecast_seeds(args.forecast_seeds),
        "language_model": f"{language.backend}:{language.model}", "language_model_load_seconds": round(load_seconds, 1),
        "command": " ".join(sys.argv), "windows": windows}, indent=1, default=str))


def study(window: Window, population: Population, language: Recorder, args: argparse.Namespace,
          image: Path) -> tuple[list[dict], pd.DataFrame, dict]:
    """Both fits of one window at equal effort, their held-out errors and persistence's: (summary rows, every
    error, the window's JSON part); draws the window's figure into `image`."""
    full = load_targets(DateWindow(window.train.start, window.test.end))
    train, test = split(full, window.train)
    regions = population.manifest["codes"]["region"]
    settings = FitSettings(iterations=args.iterations, learning_rate=args.lr, learning_rate_decay=args.lr_decay,
                           seeds_per_step=args.seeds_per_step, seed=args.seed, checkpoint_every=args.iterations)
    seeds = forecast_seeds(args.forecast_seeds)
    observed = held_out(observed_smoothed(full), full, test.window)
    naive = naive_forecast(train, test)
    tables = [errors("naive", naive, observed, test.columns)]
    rows, histories, forecasts, fitted = [], {}, {}, {}
    print(f"window: train {window.train}, test {window.test}")
    for name in ("heuristic", "llm"):
        behaviour = None
        if name == "llm":
            behaviour = LLMDecisions(language, covid_decisions(regions), price_per_token=llm_prices(args))
            language.seen.clear()
        calibration = nyc_calibration(population, train, scale=args.scale, mode="free",
                                      full_cases=full["cases"].values, tests_days=full.window.days,
                                      beta_per_day=args.beta, behaviour=behaviour)
        t = time.perf_counter()
        histories[name] = fit(calibration, settings, progress=True)
        fit_seconds = time.perf_counter() - t
        fit_usage = usage(behaviour)
        t = time.perf_counter()
        forecasts[name] = forecast(calibration, full, seeds)
        forecast_seconds = time.perf_counter() - t
        tables.append(held_out_errors(name, forecasts[name], full, train, test))
        rows.append(summary_row(window, name, histories[name], tables[-1], fit_seconds, forecast_seconds,
                                fit_usage, usage(behaviour)))
        fitted[name] = calibration.natural_values()
        if behaviour is not None:
            fitted[name]["answers_by_situation"] = answers_by_situation(language, behaviour)
        print(pd.Series(rows[-1]).to_string())
    rows.append(summary_row(window, "naive", None, tables[0], 0.0, 0.0, {}, {}))
    plot(image, full, test, histories, forecasts, naive)
    about = {"loss_history": {name: h["loss"].round(4).tolist() for name, h in histories.items()},
             "unemployment_mean_of_boroughs": {"months": [str(m) for m in months_of(full)],
                                               "NYS DOL": rounded(full["unemployment"].values.mean(1)),
                                               **{k: rounded(f["unemployment"].mean(1)) for k, f in forecasts.items()}},
             "fits": fitted}
    return rows, pd.concat(tables, ignore_index=True), about


def rounded(values: torch.Tensor, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]


def usage(behaviour: LLMDecisions | None) -> dict[str, float]:
    """The language model's usage so far (prompts, calls, cache hits, seconds in the model); {} for the heuristic."""
    if behaviour is None:
        return {}
    totals = behaviour.usage_totals()
    return {k: totals[k] for k in ("prompts", "calls", "cache_hits", "seconds")}


def summary_row(window: Window, name: str, history: pd.DataFrame | None, table: pd.DataFrame, fit_seconds: float,
                forecast_seconds: float, fit_usage: dict[str, float], all_usage: dict[str, float]) -> dict:
    """One row of the table: training loss, held-out ND over all boroughs (simulated and anchored) and MAE, LLM
    usage, seconds."""
    city = table[table["region"] == "all"].set_index(["method", "series"])
    row = {"train": str(window.train), "test": str(window.test), "method": name}
    if history is not None:
        row |= {"train_loss_start": history["loss"].iloc[0], "train_loss_end": history["loss"].iloc[-1],
                "train_loss_best": history["loss"].min()}
    for series in SERIES:
        row[f"{series}_nd"] = city.at[(name, series), "nd"]
        if (f"{name}_anchored", series) in city.index:
            row[f"{series}_nd_anchored"] = city.at[(f"{name}_anchored", series), "nd"]
        row[f"{series}_mae"] = city.at[(name, series), "mae"]
    if all_usage:
        row |= {"llm_prompts_fit": fit_usage["prompts"], "llm_calls_fit": fit_usage["calls"],
                "llm_prompts_all": all_usage["prompts"], "llm_calls_all": all_usage["calls"],
                "llm_model_seconds": round(all_usage["seconds"], 1)}
    row |= {"fit_seconds": round(fit_seconds, 1), "forecast_seconds": round(forecast_seconds, 1)}
    return row


class Recorder:
    """A language model that passes queries on to `inner` and keeps each prompt's query and answer."""

    def __init__(self, inner: LanguageModel):
        self.inner, self.backend, self.model = inner, inner.backend, inner.model
        self.seen: dict[str, tuple[Query, Answer]] = {}

    def settings(self) -> Mapping[str, object]:
        return self.inner.settings()

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        answers = self.inner.answer(queries)
        self.seen.update({q.prompt: (q, a) for q, a in zip(queries, answers, strict=True)})
        return answers


def answers_by_situation(recorder: Recorder, behaviour: LLMDecisions) -> dict[str, dict[str, float]]:
    """The language model's mean P(yes) over the archetypes asked, per decision and situation cell (read back from
    the prompts: each situation level's words appear in them), and the fitted offsets' mean per decision."""
    by_version = {spec.template.version: (name, spec) for name, spec in behaviour.specs.items()}
    cells: dict[str, dict[str, list[float]]] = {}
    for query, answer in recorder.seen.values():
        decision, spec = by_version[query.template_version]
        words = [max((label for label in levels.labels if label in query.prompt), key=len)
                 for levels in spec.situation]
        cells.setdefault(decision, {}).setdefault(" | ".join(words), []).append(
            answer.probabilities[spec.template.yes_index])
    out = {d: {s: round(sum(v) / len(v), 3) for s, v in sorted(c.items())} for d, c in cells.items()}
    for decision, offset in behaviour.logit_offset.items():
        mean = round(float(offset.detach().mean()), 3)
        out.setdefault(decision, {})["fitted logit offset, mean over archetypes"] = mean
    return out


def plot(path: Path, full, test, histories, forecasts, naive) -> None:
    """Training loss per iteration; citywide reported cases (7-day mean) and the boroughs' mean unemployment rate,
    fitted then forecast, against the data."""
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [1, 1.4, 1]})
    for name, history in histories.items():
        left.plot(history["iteration"] + 1, history["loss"], "o-", color=COLORS[name], label=LABELS[name])
    left.set_xlabel("Adam iteration (one simulator run each)")
    left.set_ylabel("training loss")
    left.set_yscale("log")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    dates = pd.to_datetime(full.window.dates)
    first = full.window.dates.index(test.window.start)
    middle.plot(dates, observed_smoothed(full)["cases"].sum(1), color="black", label="DOHMH (7-day mean)")
    for name, series in forecasts.items():
        middle.plot(dates, series["cases"].sum(1), color=COLORS[name], label=LABELS[name])
    middle.plot(dates[first:], naive["cases"].sum(1), color="tab:green", ls="--", label=LABELS["naive"])
    middle.axvspan(dates[first], dates[-1], color="0.9")
    middle.set_yscale("log")
    middle.set_ylim(bottom=10)
    middle.set_ylabel("reported cases per day, NYC")
    middle.legend(fontsize=8)
    middle.set_title("fitted on the white window, forecast on the grey one", fontsize=9)
    middle.xaxis.set_major_locator(mdates.MonthLocator())
    middle.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
    months = pd.to_datetime(list(months_of(full)))
    right.plot(months, full["unemployment"].values.mean(1), "o-", color="black", label="NYS DOL")
    for name, series in forecasts.items():
        right.plot(months, series["unemployment"].mean(1), "s--", color=COLORS[name], label=LABELS[name])
    right.axvspan(pd.Timestamp(test.window.start), months[-1] + pd.Timedelta(days=10), color="0.9")
    right.set_ylabel("unemployment rate, mean of the boroughs (%)")
    right.set_xticks(months, [m.strftime("%b") for m in months])
    right.grid(alpha=0.3)
    save(figure, path)


if __name__ == "__main__":
    main()
