"""What a control command writes: every method scored on held-out seeds, as tables, plots over time and a page.

`write_comparison` evaluates each method's policy on the held-out seeds (fast runs) and writes into the output
folder, recording each file in the run's manifest:

- `controller.pt` + `controller.json` for every method whose policy is a `Controller` (`controller_<slug>` after
  the first), through `save_controller`;
- `evaluation.parquet` (method, seed, each term of the objective, objective), `summary.parquet` (method, measure,
  quantiles over the seeds: `populace.analysis.bands`), `methods.parquet` (method, simulator_runs,
  tuning_seconds, chosen, mean_objective, se_objective), `trajectories.parquet` (method, seed, step, the columns
  the task keeps), and each method's tuning record as `<slug>.parquet` (a fit's history, a grid's table);
- one PNG per `Plot` (median over seeds and 90% band per method, targets dashed), and `report.html`.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from torch import nn

from populace.analysis.bands import bands
from populace.analysis.html import image, page, table
from populace.analysis.policy import slug
from populace.control.controller import Controller
from populace.control.methods import MethodResult
from populace.control.problem import ControlProblem, scored_runs
from populace.control.storage import save_controller
from populace.manifest import RunManifest

matplotlib.use("Agg")


@dataclasses.dataclass(frozen=True)
class Plot:
    """A figure of some trajectory columns over time, one panel each (target level or None), per method."""

    file: str
    columns: Mapping[str, float | None]
    ylabel: str
    caption: str


def plot_over_time(runs: pd.DataFrame, plot: Plot) -> Figure:
    """Median over seeds (line) and 90% band of each column of `plot`, step by step, one line per method."""
    figure = Figure(figsize=(5 * len(plot.columns), 4.2), layout="constrained")
    for k, (column, target) in enumerate(plot.columns.items()):
        axes = figure.add_subplot(1, len(plot.columns), k + 1)
        for method, part in bands(runs, ["method", "step"], [column]).groupby("method", sort=False):
            line, = axes.plot(part["step"], part["median"], label=method)
            axes.fill_between(part["step"], part["q05"], part["q95"], color=line.get_color(), alpha=0.15)
        if target is not None:
            axes.axhline(target, color="black", linestyle="--", linewidth=1)
        axes.set(xlabel="step", ylabel=plot.ylabel, title=column)
        axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return figure


def format_summary(summary: pd.DataFrame, measures: Sequence[str]) -> pd.DataFrame:
    """Median [q05, q95] over seeds: one row per method, one column per measure."""
    cells = summary.assign(cell=[f"{m:.3g} [{lo:.3g}, {hi:.3g}]" for m, lo, hi in
                                 zip(summary["median"], summary["q05"], summary["q95"], strict=True)])
    wide = cells.pivot(index="method", columns="measure", values="cell")
    wide = wide.reindex(index=list(dict.fromkeys(summary["method"])), columns=list(measures))
    return wide.rename_axis(columns=None).reset_index()


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The tables `write_comparison` wrote."""

    evaluation: pd.DataFrame
    summary: pd.DataFrame
    methods: pd.DataFrame
    trajectories: pd.DataFrame
    measures: tuple[str, ...]
    files: tuple[Path, ...]

    def printed(self, description: str) -> str:
        """The run's description, the summary, the methods' table and the files written, as text."""
        return "\n".join([description, format_summary(self.summary, self.measures).to_string(index=False),
                          self.methods.to_string(index=False, float_format=lambda x: f"{x:.4g}"),
                          f"outputs in {self.files[0].parent}: {', '.join(path.name for path in self.files)}"])


def write_comparison(out: Path, manifest: RunManifest, methods: Mapping[str, MethodResult],
                     problem_for: Callable[[nn.Module], ControlProblem], seeds: Sequence[int], *, title: str,
                     description: str, plots: Sequence[Plot], columns: Callable[[pd.DataFrame], pd.DataFrame]
                     | None = None) -> Comparison:
    """Score, tabulate, plot and report every method (module docstring); `columns` turns a trajectory table into
    the columns kept (default: all of them)."""
    saved, files = 0, []
    for name, method in methods.items():
        stem = slug(name, separator="_")  # 'neural network (ES)' -> 'neural_network_es'
        if isinstance(method.policy, Controller):
            for path in save_controller(method.policy, out / ("controller" if saved == 0 else f"controller_{stem}")):
                manifest.add_output(path)
                files.append(path)
            saved += 1
        if method.record is not None:
            manifest.add_table(method.record, out / f"{stem}.parquet")
            files.append(out / f"{stem}.parquet")
    evaluation, runs = [], []
    for name, method in methods.items():
        scores, frame = scored_runs(problem_for(method.policy), seeds)
        evaluation.append(scores.assign(method=name))
        runs.append((frame if columns is None else columns(frame)).assign(method=name))
    scores = pd.concat(evaluation, ignore_index=True)
    measures = ("objective", *[c for c in scores.columns if c not in ("method", "seed", "objective")])
    scores = scores[["method", "seed", *measures]]
    runs_table = pd.concat(runs, ignore_index=True)
    runs_table = runs_table[["method", *[c for c in runs_table.columns if c not in ("method", "period", "date")]]]
    summary = bands(scores, ["method"], measures)
    grouped = scores.groupby("method", sort=False)["objective"]
    table_of_methods = pd.DataFrame({
        "method": list(methods), "simulator_runs": [m.simulator_runs for m in methods.values()],
        "tuning_seconds": [m.seconds for m in methods.values()], "chosen": [m.chosen for m in methods.values()],
        "mean_objective": grouped.mean().reindex(list(methods)).to_numpy(),
        "se_objective": grouped.sem().reindex(list(methods)).to_numpy()})
    for file, frame in (("evaluation.parquet", scores), ("summary.parquet", summary),
                        ("methods.parquet", table_of_methods), ("trajectories.parquet", runs_table)):
        manifest.add_table(frame, out / file)
        files.append(out / file)
    for plot in plots:
        plot_over_time(runs_table, plot).savefig(out / plot.file, dpi=110)
        manifest.add_output(out / plot.file)
        files.append(out / plot.file)
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(description)}</p>",
             "<h2>Held-out seeds</h2><p>Median [5%, 95%] over the held-out seeds of the objective and its terms.</p>",
             table(format_summary(summary, measures)),
             "<h2>Tuning</h2><p>Simulator runs and seconds each method's tuning took, the policy a grid chose; mean "
             "objective and its standard error over the held-out seeds.</p>", table(table_of_methods, digits=3),
             "<h2>Plots</h2>", *[image(out / plot.file, plot.caption) for plot in plots]]
    (out / "report.html").write_text(page(title, parts))
    manifest.add_output(out / "report.html")
    manifest.results["methods"] = table_of_methods.to_dict(orient="records")
    return Comparison(scores, summary, table_of_methods, runs_table, measures,
                      (*files, out / "report.html", out / "manifest.json"))
