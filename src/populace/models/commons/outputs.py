"""What a `populace run commons` writes: tables of a run per group and month, the metrics per group and their
summary with bands over seeds, the PNG plots and the HTML page.

Tables (one row each):
- `months_frame`: behaviour, seed, group, month (0..T), resource (h at the start of the month; after regeneration),
  after_harvest (h(t)), harvest, positive_catches, over_catches, alive;
- `groups_frame`: behaviour, seed, group and the `GROUP_METRICS`;
- `runs_frame`: per behaviour and seed, the metrics' means over groups (survival_rate is the mean of survived);
- `summary_frame`: per behaviour and measure, quantiles over seeds (`populace.analysis.bands`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from populace.analysis.bands import bands
from populace.analysis.html import image, page, table
from populace.core.trajectory import Trajectory
from populace.models.commons.metrics import GROUP_METRICS

matplotlib.use("Agg")

RUN_MEASURES = ("survival_rate", "survival_months", "gain_per_agent", "efficiency", "equality", "over_usage")
"""The measures of `runs_frame` (survival_rate: the share of groups that lasted every month)."""

PLOTS = {"resource.png": "Mean pool at the start of each month (median over seeds, 90% band)",
         "survival.png": "Share of groups not collapsed after each month (median over seeds, 90% band)"}

MONTH_COLUMNS = ("resource", "after_harvest", "harvest", "positive_catches", "over_catches", "alive")


def months_frame(trajectory: Trajectory, behaviour: str, seed: int) -> pd.DataFrame:
    """The run's groups month by month (module docstring), G x (T + 1) rows."""
    steps, groups = trajectory["resource"].shape
    frame = pd.DataFrame({name: trajectory[name].detach().cpu().reshape(-1).numpy() for name in MONTH_COLUMNS})
    frame.insert(0, "month", [s for s in trajectory.steps for _ in range(groups)])
    frame.insert(0, "group", list(range(groups)) * steps)
    frame.insert(0, "seed", seed)
    frame.insert(0, "behaviour", behaviour)
    return frame


def groups_frame(metrics: Mapping[str, object], behaviour: str, seed: int) -> pd.DataFrame:
    """The metrics of every group of one run."""
    values = {name: metrics[name].detach().cpu().numpy() for name in GROUP_METRICS}  # type: ignore[attr-defined]
    frame = pd.DataFrame(values)
    frame.insert(0, "group", range(len(frame)))
    frame.insert(0, "seed", seed)
    frame.insert(0, "behaviour", behaviour)
    return frame


def runs_frame(groups: pd.DataFrame) -> pd.DataFrame:
    """Per behaviour and seed: the means over groups of the metrics, survived's mean as survival_rate."""
    means = groups.groupby(["behaviour", "seed"], sort=False)[list(GROUP_METRICS)].mean().reset_index()
    return means.rename(columns={"survived": "survival_rate"})[["behaviour", "seed", *RUN_MEASURES]]


def summary_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Quantiles over seeds of each run measure, per behaviour."""
    return bands(runs, ["behaviour"], RUN_MEASURES)


def _monthly_bands(months: pd.DataFrame, column: str) -> pd.DataFrame:
    per_seed = months.groupby(["behaviour", "seed", "month"], sort=False)[column].mean().reset_index()
    return bands(per_seed, ["behaviour", "month"], [column])


def plot_months(months: pd.DataFrame, column: str, *, ylabel: str, title: str) -> Figure:
    """Median over seeds (line) and 90% band of the groups' mean `column`, month by month, one line a behaviour."""
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for behaviour, part in _monthly_bands(months, column).groupby("behaviour", sort=False):
        line, = axes.plot(part["month"], part["median"], label=behaviour, marker="o", markersize=3)
        axes.fill_between(part["month"], part["q05"], part["q95"], color=line.get_color(), alpha=0.2)
    axes.set(xlabel="month", ylabel=ylabel, title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def write_plots(months: pd.DataFrame, folder: Path, *, unit: str, scenario: str) -> list[Path]:
    """resource.png and survival.png (`PLOTS`) in `folder`; returns their paths."""
    figures = {"resource.png": plot_months(months, "resource", ylabel=unit, title=f"{scenario}: the shared pool"),
               "survival.png": plot_months(months, "alive", ylabel="share of groups alive",
                                           title=f"{scenario}: survival")}
    paths = []
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=110)
        paths.append(folder / name)
    return paths


def format_summary(summary: pd.DataFrame) -> str:
    """Median [q05, q95] over seeds: one row per behaviour, one column per measure."""
    cells = summary.assign(cell=[f"{m:.3g} [{lo:.3g}, {hi:.3g}]" for m, lo, hi in
                                 zip(summary["median"], summary["q05"], summary["q95"], strict=True)])
    wide = cells.pivot(index="behaviour", columns="measure", values="cell")
    wide = wide.reindex(index=list(dict.fromkeys(summary["behaviour"])), columns=list(RUN_MEASURES))
    return wide.rename_axis(columns=None).reset_index()


def write_report(folder: Path, *, title: str, description: str, summary: pd.DataFrame, runs: pd.DataFrame) -> Path:
    """report.html in `folder`: the description, the summary table, the plots, the per-seed table."""
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(description)}</p>",
             "<h2>Summary</h2><p>Median [5%, 95%] over seeds of the means over groups (each group is one game).</p>",
             table(format_summary(summary)), "<h2>Plots</h2>"]
    parts += [image(folder / name, caption) for name, caption in PLOTS.items() if (folder / name).is_file()]
    parts += ["<h2>Every seed</h2>", table(runs, digits=3)]
    path = folder / "report.html"
    path.write_text(page(title, parts))
    return path
