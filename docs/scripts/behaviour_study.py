"""Heuristic against language-model behaviour at equal calibration effort: the table and figure of
docs/behaviour-study.md.

    python docs/scripts/behaviour_study.py --scale 0.002 --iterations 10

On one synthetic city and one training window, fits the NYC COVID-19 + labour model twice with the same settings
(Adam, the same iterations, learning rate, run seed and so the same simulator seeds and runs, the same starting
values): (a) with the heuristic `WeeklyIsolationDecisions` (learned: its weekly isolation shifts per borough) and
(b) with `LLMDecisions` on a language model (default: the embedded SmolLM2-135M-Instruct, through an SQLite answer
cache; learned: the per-archetype logit offsets of its two decisions); everything else learned is the same. Then
forecasts the held-out window (3 seeds, averaged, as docs/scripts/calibration_nyc.py) and scores both against DOHMH
and NYS DOL, with the naive (persistence) forecast alongside. Writes docs/NAME.csv (one row per method),
docs/NAME.json (settings, fitted values, the language model's answers by situation) and docs/img/NAME.png.
`--backend scripted` answers every prompt 50/50: a quick check of the pipeline, not a study.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import pandas as pd
import torch

from populace.behavior import LLMDecisions
from populace.calibrate import DateWindow, FitSettings, errors, fit, held_out, split
from populace.llm import Answer, AnswerCache, LanguageModel, Query, make_model
from populace.llm.paths import user_cache_dir
from populace.models.covid_nyc.archetypes import covid_decisions
from populace.models.covid_nyc.calibration_run import forecast, naive_forecast, nyc_calibration
from populace.models.covid_nyc.targets import load_targets, months_of, observed_smoothed
from populace.population.nyc import build_nyc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_nyc import DOCS, EVAL_SEEDS, save  # the sibling script's helpers

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

LABELS = {"heuristic": "heuristic (weekly isolation shifts)", "llm": "LLM archetypes (per-archetype offsets)",
          "naive": "naive (persistence)"}
COLORS = {"heuristic": "tab:red", "llm": "tab:blue"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.002)
    parser.add_argument("--train", default="2020-03-01:2020-04-30")
    parser.add_argument("--test", default="2020-05-01:2020-05-31")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--beta", type=float, default=0.2, help="starting beta of every week")
    parser.add_argument("--seed", type=int, default=1, help="run seed (the iterations' simulator seeds derive)")
    parser.add_argument("--backend", choices=("embedded", "scripted"), default="embedded")
    parser.add_argument("--cache", type=Path, default=user_cache_dir() / "behaviour-study-answers.sqlite",
                        help="SQLite answer cache of the language model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--name", default="behaviour-study", help="prefix of the output files")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    (args.out / "img").mkdir(parents=True, exist_ok=True)

    train_window, test_window = DateWindow.parse(args.train), DateWindow.parse(args.test)
    full = load_targets(DateWindow(train_window.start, test_window.end))
    train, test = split(full, train_window)
    t = time.perf_counter()
    population = build_nyc(scale=args.scale, seed=1)
    regions = population.manifest["codes"]["region"]
    print(f"city: {population.agents.n:,} agents (scale {args.scale}), built in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    options = {"answers": lambda q: (0.5, 0.5)} if args.backend == "scripted" else {}
    language = Recorder(make_model(args.backend, cache=AnswerCache(args.cache), **options))
    load_seconds = time.perf_counter() - t
    print(f"language model: {language.backend}:{language.model}, loaded in {load_seconds:.0f} s; cache {args.cache}")

    settings = FitSettings(iterations=args.iterations, learning_rate=args.lr, seed=args.seed,
                           checkpoint_every=args.iterations)
    observed = held_out(observed_smoothed(full), full, test.window)
    rows, histories, forecasts, fitted = [], {}, {}, {}
    for name in ("heuristic", "llm"):
        behaviour = None if name == "heuristic" else LLMDecisions(language, covid_decisions(regions))
        calibration = nyc_calibration(population, train, scale=args.scale, mode="free",
                                      full_cases=full["cases"].values, tests_days=full.window.days,
                                      beta_per_day=args.beta, behaviour=behaviour)
        t = time.perf_counter()
        histories[name] = fit(calibration, settings, progress=True)
        fit_seconds = time.perf_counter() - t
        fit_usage = usage(behaviour)
        t = time.perf_counter()
        forecasts[name] = forecast(calibration, full, EVAL_SEEDS)
        forecast_seconds = time.perf_counter() - t
        table = errors(LABELS[name], held_out(forecasts[name], full, test.window), observed, test.columns)
        rows.append(summary_row(name, histories[name], table, fit_seconds, forecast_seconds, fit_usage,
                                usage(behaviour)))
        fitted[name] = calibration.natural_values()
        if behaviour is not None:
            fitted[name]["answers_by_situation"] = answers_by_situation(language, behaviour)
        print(pd.Series(rows[-1]).to_string())
    naive = naive_forecast(train, test)
    rows.append(summary_row("naive", None, errors(LABELS["naive"], naive, observed, test.columns), 0.0, 0.0,
                            {}, {}))
    frame = pd.DataFrame(rows)
    counts = [c for c in frame.columns if c.startswith(("llm_prompts", "llm_calls"))]
    frame[counts] = frame[counts].astype("Int64")
    frame.to_csv(args.out / f"{args.name}.csv", index=False, float_format="%.4g")
    print(frame.to_string(index=False))
    (args.out / f"{args.name}.json").write_text(json.dumps({
        "scale": args.scale, "agents": population.agents.n, "train": str(train_window), "test": str(test_window),
        "iterations": args.iterations, "learning_rate": args.lr, "beta_start": args.beta, "seed": args.seed,
        "eval_seeds": EVAL_SEEDS, "language_model": f"{language.backend}:{language.model}",
        "language_model_load_seconds": round(load_seconds, 1),
        "loss_history": {name: h["loss"].round(4).tolist() for name, h in histories.items()},
        "unemployment_mean_of_boroughs": {"months": [str(m) for m in months_of(full)],
                                          "NYS DOL": rounded(full["unemployment"].values.mean(1)),
                                          **{k: rounded(f["unemployment"].mean(1)) for k, f in forecasts.items()}},
        "fits": fitted}, indent=1, default=str))
    plot(args.out / "img" / f"{args.name}.png", full, test, histories, forecasts, naive)


def rounded(values: torch.Tensor, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]


def usage(behaviour: LLMDecisions | None) -> dict[str, float]:
    """The language model's usage so far (prompts, calls, cache hits, seconds in the model); {} for the heuristic."""
    if behaviour is None:
        return {}
    totals = behaviour.usage_totals()
    return {k: totals[k] for k in ("prompts", "calls", "cache_hits", "seconds")}


def summary_row(name: str, history: pd.DataFrame | None, table: pd.DataFrame, fit_seconds: float,
                forecast_seconds: float, fit_usage: dict[str, float], all_usage: dict[str, float]) -> dict:
    """One row of the table: training loss, held-out errors over all boroughs, LLM usage, seconds."""
    city = table[table["region"] == "all"].set_index("series")
    row = {"method": name}
    if history is not None:
        row |= {"train_loss_start": history["loss"].iloc[0], "train_loss_end": history["loss"].iloc[-1],
                "train_loss_best": history["loss"].min()}
    row |= {"cases_nd": city.at["cases", "nd"], "cases_mae": city.at["cases", "mae"],
            "deaths_nd": city.at["deaths", "nd"], "unemployment_mae": city.at["unemployment", "mae"],
            "unemployment_nd": city.at["unemployment", "nd"]}
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
