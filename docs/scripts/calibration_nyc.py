"""Calibrate the NYC COVID-19 + labour model on 2020 data and evaluate it on the held-out weeks after: the table and
figures of docs/calibration.md.

    python docs/scripts/calibration_nyc.py --scale 0.002 --iterations 16

Fits, on the same synthetic city and the same training window: the gradient calibration with free parameters and
with the calibration network (Adam, `populace.calibrate.fit`), and the gradient-free (1+1)-ES with as many simulator
runs as the free gradient fit; then forecasts the held-out window (3 seeds, averaged) and scores each against DOHMH
and NYS DOL with the naive (persistence) forecast alongside. Writes docs/NAME-evaluation.csv,
docs/NAME-fit.json, docs/NAME-draws.parquet and docs/img/NAME-*.png (NAME: --name), and prints timings. `img` in
`plot_all` is the path prefix of the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib
import pandas as pd
import torch

from populace.calibrate import (
    DateWindow,
    FitSettings,
    ensemble,
    errors,
    evolution_strategy,
    fit,
    held_out,
    save_parameter_draws,
    split,
)
from populace.models.covid_nyc.calibration_run import forecast, naive_forecast, nyc_calibration
from populace.models.covid_nyc.targets import load_targets, months_of, observed_smoothed
from populace.population.nyc import build_nyc

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DOCS = Path(__file__).resolve().parents[1]
EVAL_SEEDS = [10_000, 10_001, 10_002]
LABELS = {"adam_free": "gradient (free parameters)", "adam_network": "gradient (calibration network)",
          "es": "gradient-free (1+1)-ES", "naive": "naive (persistence)"}
COLORS = {"adam_free": "tab:red", "adam_network": "tab:blue", "es": "tab:orange"}


def save(figure: plt.Figure, path: Path) -> None:
    """Lay out, write as PNG and close a figure."""
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.002)
    parser.add_argument("--train", default="2020-03-01:2020-10-31")
    parser.add_argument("--test", default="2020-11-01:2020-12-31")
    parser.add_argument("--iterations", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--beta", type=float, default=0.2, help="starting beta of every week")
    parser.add_argument("--members", type=int, default=3, help="ensemble members")
    parser.add_argument("--member-iterations", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--name", default="calibration", help="prefix of the output files")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    (args.out / "img").mkdir(parents=True, exist_ok=True)

    train_window, test_window = DateWindow.parse(args.train), DateWindow.parse(args.test)
    full = load_targets(DateWindow(train_window.start, test_window.end))
    train, test = split(full, train_window)
    started = time.perf_counter()
    population = build_nyc(scale=args.scale, seed=1)
    print(f"city: {population.agents.n:,} agents (scale {args.scale}), built in {time.perf_counter() - started:.0f} s")

    def problem(mode: str):
        return nyc_calibration(population, train, scale=args.scale, mode=mode, full_cases=full["cases"].values,
                               tests_days=full.window.days, beta_per_day=args.beta)

    settings = FitSettings(iterations=args.iterations, learning_rate=args.lr, seed=1, checkpoint_every=4)
    fits, histories, seconds = {}, {}, {}
    for mode in ("free", "network"):
        calibration = problem(mode)
        t = time.perf_counter()
        histories[mode] = fit(calibration, settings, progress=True)
        seconds[mode] = time.perf_counter() - t
        fits[f"adam_{mode}"] = calibration
        loss = histories[mode]["loss"]
        print(f"{LABELS['adam_' + mode]}: loss {loss.iloc[0]:.3f} -> {loss.iloc[-1]:.3f}, {seconds[mode]:.0f} s "
              f"({seconds[mode] / args.iterations:.1f} s per iteration)")
    baseline = problem("free")
    t = time.perf_counter()
    es = pd.DataFrame(evolution_strategy(baseline, simulator_runs=args.iterations, seed=1))
    seconds["es"] = time.perf_counter() - t
    fits["es"] = baseline
    print(f"(1+1)-ES: loss {es['loss'].iloc[0]:.3f} -> best {es['best_loss'].iloc[-1]:.3f}, "
          f"{seconds['es']:.0f} s")

    t = time.perf_counter()
    draws = ensemble(fits["adam_free"], settings, members=args.members, iterations=args.member_iterations,
                     draw=fits["adam_free"].draw)
    seconds["ensemble"] = time.perf_counter() - t
    save_parameter_draws(args.out / f"{args.name}-draws.parquet", draws,
                         {"window": str(train_window), "mode": "free", "scale": args.scale})

    observed = held_out(observed_smoothed(full), full, test.window)
    forecasts = {name: forecast(c, full, EVAL_SEEDS) for name, c in fits.items()}
    tables = [errors(LABELS[name], held_out(f, full, test.window), observed, test.columns)
              for name, f in forecasts.items()]
    naive = naive_forecast(train, test)
    tables.append(errors(LABELS["naive"], naive, observed, test.columns))
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(args.out / f"{args.name}-evaluation.csv", index=False, float_format="%.4g")
    print(table[table["region"] == "all"].to_string(index=False))

    summary = {"scale": args.scale, "agents": population.agents.n, "train": str(train_window), "beta_start": args.beta,
               "test": str(test_window), "iterations": args.iterations, "learning_rate": args.lr,
               "seconds": {k: round(v, 1) for k, v in seconds.items()},
               "fits": {name: c.natural_values() for name, c in fits.items()}}
    (args.out / f"{args.name}-fit.json").write_text(json.dumps(summary, indent=1))
    plot_all(args.out / "img" / args.name, full, train, test, forecasts, naive, histories, es, draws)


def plot_all(img: Path, full, train, test, forecasts, naive, histories, es, draws) -> None:
    figure, ax = plt.subplots(figsize=(7, 4))
    for mode, style in (("free", "k-"), ("network", "b--")):
        ax.plot(histories[mode]["iteration"] + 1, histories[mode]["loss"], style, label=f"gradient ({mode})")
    ax.plot(es["evaluation"] + 1, es["best_loss"], color="tab:orange", ls=":", label="(1+1)-ES, best so far")
    ax.set_xlabel("simulator runs")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    save(figure, img.with_name(img.name + "-loss.png"))

    dates = pd.to_datetime(full.window.dates)
    observed = observed_smoothed(full)
    figure, axes = plt.subplots(len(full.columns), 1, figsize=(9, 12), sharex=True)
    for k, (ax, region) in enumerate(zip(axes, full.columns, strict=True)):
        ax.plot(dates, observed["cases"][:, k], color="black", label="DOHMH (7-day mean)")
        for name, color in COLORS.items():
            ax.plot(dates, forecasts[name]["cases"][:, k], color=color, label=LABELS[name])
        first = full.window.dates.index(test.window.start)
        ax.plot(dates[first:], naive["cases"][:, k], color="tab:green", ls="--", label="naive (persistence)")
        ax.axvspan(dates[first], dates[-1], color="0.9")
        ax.set_title(region, loc="left", fontsize=10)
        ax.set_yscale("log")
        ax.set_ylim(bottom=1)
    axes[0].legend(fontsize=7, loc="upper right")
    figure.suptitle("Reported cases per day: calibrated on the white window, forecast on the grey one")
    save(figure, img.with_name(img.name + "-cases.png"))

    months = pd.to_datetime(list(months_of(full)))
    figure, axes = plt.subplots(len(full.columns), 1, figsize=(9, 12), sharex=True)
    for k, (ax, region) in enumerate(zip(axes, full.columns, strict=True)):
        ax.plot(months, full["unemployment"].values[:, k], "o-", color="black", label="NYS DOL")
        for name, color in COLORS.items():
            ax.plot(months, forecasts[name]["unemployment"][:, k], "s--", color=color, label=LABELS[name])
        ax.axvspan(pd.Timestamp(test.window.start), months[-1] + pd.Timedelta(days=15), color="0.9")
        ax.set_title(region, loc="left", fontsize=10)
        ax.set_ylabel("%")
    axes[0].legend(fontsize=7)
    save(figure, img.with_name(img.name + "-unemployment.png"))

    beta = torch.stack([d["model.transmission.parametrizations.beta_by_week.original"].exp() for d in draws])  # [M, W]
    weeks = pd.to_datetime([train.window.start + pd.Timedelta(days=7 * w) for w in range(beta.shape[1])])
    figure, ax = plt.subplots(figsize=(8, 3.5))
    ax.fill_between(weeks, beta.min(0).values, beta.max(0).values, color="tab:red", alpha=0.3,
                    label=f"ensemble of {beta.shape[0]} (min-max)")
    ax.plot(weeks, beta.mean(0), color="tab:red", label="ensemble mean")
    ax.set_ylabel("beta (per unit contact weight)")
    ax.legend()
    ax.grid(alpha=0.3)
    figure.autofmt_xdate()
    save(figure, img.with_name(img.name + "-beta.png"))


if __name__ == "__main__":
    main()
