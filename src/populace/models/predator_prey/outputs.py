"""What `populace control predator-prey` writes besides the controllers: tables per method, the plots of state and
control over time, and the HTML page.

Tables (one row each): `evaluation` (method, seed, tracking, control, objective: each method on each held-out
seed), `summary` (method, measure, quantiles over the held-out seeds, `populace.analysis.bands`), `methods`
(method, simulator_runs and tuning_seconds of its tuning, the policy a grid chose, mean and standard error of J),
`trajectories` (method, seed, step, prey, predators, predator_removal); the grids' own tables are
`constant_grid` and `bang_bang_grid` (policy, mean tracking, control and objective on the grid seeds, best
first).
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
from populace.models.predator_prey.model import REMOVAL

matplotlib.use("Agg")

MEASURES = ("objective", "tracking", "control")
PLOTS = {"state.png": "Prey and predators (fractions of sites) per method: median over held-out seeds, 90% band; "
                      "dashed: the targets",
         "control.png": "Predator removal hazard per step per method: median over held-out seeds, 90% band"}


def summary_frame(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Quantiles over seeds of each measure, per method."""
    return bands(evaluation, ["method"], MEASURES)


def methods_frame(evaluation: pd.DataFrame, tuning: Mapping[str, tuple[int, float, str]]) -> pd.DataFrame:
    """Per method: simulator runs and seconds of tuning, the grid's choice (if any), mean J and its standard error
    over the held-out seeds."""
    grouped = evaluation.groupby("method", sort=False)["objective"]
    frame = pd.DataFrame({"mean_objective": grouped.mean(), "se_objective": grouped.sem()}).reset_index()
    frame.insert(1, "simulator_runs", [tuning[m][0] for m in frame["method"]])
    frame.insert(2, "tuning_seconds", [tuning[m][1] for m in frame["method"]])
    frame.insert(3, "chosen", [tuning[m][2] for m in frame["method"]])
    return frame


def _plot(trajectories: pd.DataFrame, columns: Mapping[str, float | None], ylabel: str, title: str) -> Figure:
    figure = Figure(figsize=(5 * len(columns), 4.2), layout="constrained")
    for k, (column, target) in enumerate(columns.items()):
        axes = figure.add_subplot(1, len(columns), k + 1)
        for method, part in bands(trajectories, ["method", "step"], [column]).groupby("method", sort=False):
            line, = axes.plot(part["step"], part["median"], label=method)
            axes.fill_between(part["step"], part["q05"], part["q95"], color=line.get_color(), alpha=0.15)
        if target is not None:
            axes.axhline(target, color="black", linestyle="--", linewidth=1)
        axes.set(xlabel="step", ylabel=ylabel, title=f"{title}: {column}")
        axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return figure


def write_plots(trajectories: pd.DataFrame, folder: Path, targets: Mapping[str, float]) -> list[Path]:
    """state.png and control.png (`PLOTS`) in `folder`; returns their paths."""
    figures = {"state.png": _plot(trajectories, {"prey": targets["prey"], "predators": targets["predators"]},
                                  "fraction of sites", "state"),
               "control.png": _plot(trajectories, {REMOVAL: None}, "hazard per step", "control")}
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=110)
    return [folder / name for name in figures]


def format_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Median [q05, q95] over seeds: one row per method, one column per measure."""
    cells = summary.assign(cell=[f"{m:.3g} [{lo:.3g}, {hi:.3g}]" for m, lo, hi in
                                 zip(summary["median"], summary["q05"], summary["q95"], strict=True)])
    wide = cells.pivot(index="method", columns="measure", values="cell")
    wide = wide.reindex(index=list(dict.fromkeys(summary["method"])), columns=list(MEASURES))
    return wide.rename_axis(columns=None).reset_index()


def write_report(folder: Path, *, description: str, summary: pd.DataFrame, methods: pd.DataFrame) -> Path:
    """report.html in `folder`: the task, the comparison on held-out seeds, the tuning costs, the plots."""
    parts = ["<h1>Predator-prey control</h1>", f"<p>{html.escape(description)}</p>",
             "<h2>Held-out seeds</h2><p>Median [5%, 95%] over the held-out seeds of the objective J = tracking + "
             "lambda x control and of its terms.</p>", table(format_summary(summary)),
             "<h2>Tuning</h2><p>Agent-based simulator runs and seconds each method's tuning took; mean J and its "
             "standard error over the held-out seeds.</p>", table(methods, digits=3), "<h2>Plots</h2>"]
    parts += [image(folder / name, caption) for name, caption in PLOTS.items() if (folder / name).is_file()]
    path = folder / "report.html"
    path.write_text(page("Predator-prey control", parts))
    return path
