"""What a `populace run cooperation` writes: tables per generation and society, their summary with bands over
seeds, the PNG plots and the HTML page.

Tables (one row each):
- `generation_frame`: behaviour, seed, generation, society, final_resources (mean per agent at the generation's
  end), donated and punished (summed over the generation's rounds);
- `lineage_frame`: behaviour, seed, generation, strategy, share (of the generation's agents descending from it);
- `donation_frame`: behaviour, seed, generation, last_fraction r (a grid on [0, 1]), fraction (the mean over
  agents of what each would give a recipient whose last fraction was r);
- `summary_frame`: per behaviour and generation, quantiles over seeds of the mean final resources.
"""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib
import pandas as pd
import torch
from matplotlib.figure import Figure

from populace.analysis.bands import bands
from populace.analysis.html import image, page, table
from populace.core.trajectory import Trajectory
from populace.core.world import World
from populace.models.cooperation.metrics import final_resources
from populace.models.cooperation.rules import DonorGameRules
from populace.models.cooperation.strategies import donation_fraction

matplotlib.use("Agg")

PLOTS = {"resources.png": "Mean final resources per agent in each generation (median over seeds, 90% band)",
         "donation.png": "What agents give a recipient whose last gift was r, in the first and last generation"}
GRID = torch.linspace(0, 1, 11)
"""The recipients' last fractions r of `donation_frame`."""


def generation_frame(trajectory: Trajectory, rules: DonorGameRules, behaviour: str, seed: int) -> pd.DataFrame:
    """The societies of each generation of `trajectory` (a run of whole generations from the start)."""
    final = final_resources(trajectory, rules).detach().cpu()  # [G', S]
    flows = {name: trajectory[name].detach().cpu()[1:] for name in ("donated", "punished")}  # [G' rounds, S]
    generations, societies = final.shape
    frame = pd.DataFrame({
        "generation": [g for g in range(generations) for _ in range(societies)],
        "society": list(range(societies)) * generations,
        "final_resources": final.reshape(-1).numpy(),
        **{name: flow.reshape(generations, rules.rounds, societies).sum(dim=1).reshape(-1).numpy()
           for name, flow in flows.items()},
    })
    frame.insert(0, "seed", seed)
    frame.insert(0, "behaviour", behaviour)
    return frame


def lineage_frame(world: World, names: tuple[str, ...], behaviour: str, seed: int, generation: int) -> pd.DataFrame:
    """Each strategy's share of the agents of `world` (of generation `generation`)."""
    counts = torch.bincount(world.agents.strategy.cpu(), minlength=len(names))
    return pd.DataFrame({"behaviour": behaviour, "seed": seed, "generation": generation, "strategy": list(names),
                         "share": (counts / counts.sum()).numpy()})


def donation_frame(world: World, rules: DonorGameRules, behaviour: str, seed: int, generation: int) -> pd.DataFrame:
    """The mean over agents of f(r), what each agent's theta gives a recipient whose last fraction was r."""
    theta = world.agents.theta.detach().cpu().to(torch.float64)  # [N, 4]
    r = GRID.to(torch.float64)
    given = donation_fraction(theta.unsqueeze(1), r.expand(len(theta), -1), torch.ones(len(theta), len(r),
                                                                                         dtype=torch.bool),
                              lowest=rules.lowest_fraction)  # [N, grid]
    return pd.DataFrame({"behaviour": behaviour, "seed": seed, "generation": generation,
                         "last_fraction": r.numpy(), "fraction": given.mean(dim=0).numpy()})


def summary_frame(generations: pd.DataFrame) -> pd.DataFrame:
    """Quantiles over seeds of the mean final resources (over societies), per behaviour and generation."""
    per_seed = generations.groupby(["behaviour", "seed", "generation"], sort=False)["final_resources"].mean()
    return bands(per_seed.reset_index(), ["behaviour", "generation"], ["final_resources"])


def plot_resources(summary: pd.DataFrame, *, title: str) -> Figure:
    """The median and 90% band over seeds of the mean final resources, one line a behaviour."""
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for behaviour, part in summary.groupby("behaviour", sort=False):
        line, = axes.plot(part["generation"] + 1, part["median"], label=behaviour, marker="o", markersize=3)
        axes.fill_between(part["generation"] + 1, part["q05"], part["q95"], color=line.get_color(), alpha=0.2)
    axes.set(xlabel="generation", ylabel="mean final resources per agent", title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def plot_donations(donations: pd.DataFrame, *, title: str) -> Figure:
    """f(r) averaged over seeds, in the first and the last generation of each behaviour."""
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    means = donations.groupby(["behaviour", "generation", "last_fraction"], sort=False)["fraction"].mean()
    for (behaviour, generation), part in means.reset_index().groupby(["behaviour", "generation"], sort=False):
        axes.plot(part["last_fraction"], part["fraction"], marker="o", markersize=3,
                  label=f"{behaviour}, generation {generation + 1}")
    axes.set(xlabel="the recipient's last fraction given, r", ylabel="fraction given", title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def write_plots(summary: pd.DataFrame, donations: pd.DataFrame, folder: Path, *, title: str) -> list[Path]:
    """resources.png and donation.png (`PLOTS`; donation.png only with parametric strategies) in `folder`; returns
    their paths."""
    figures = {"resources.png": plot_resources(summary, title=title)}
    if not donations.empty:
        figures["donation.png"] = plot_donations(donations, title=title)
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=110)
    return [folder / name for name in figures]


def format_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Median [q05, q95] over seeds: one row per generation, one column per behaviour."""
    cells = summary.assign(cell=[f"{m:.4g} [{lo:.4g}, {hi:.4g}]" for m, lo, hi in
                                 zip(summary["median"], summary["q05"], summary["q95"], strict=True)])
    wide = cells.pivot(index="generation", columns="behaviour", values="cell")
    wide = wide.reindex(columns=list(dict.fromkeys(summary["behaviour"])))
    wide.index = wide.index + 1
    return wide.rename_axis(columns=None).reset_index()


def write_report(folder: Path, *, title: str, description: str, summary: pd.DataFrame,
                 lineages: pd.DataFrame) -> Path:
    """report.html in `folder`: the description, the summary table, the plots, the final lineages."""
    last = lineages[lineages.generation == lineages.generation.max()]
    shares = last.groupby(["behaviour", "strategy"], sort=False)["share"].mean().reset_index()
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(description)}</p>",
             "<h2>Mean final resources per agent</h2><p>Median [5%, 95%] over seeds of the mean over societies.</p>",
             table(format_summary(summary)), "<h2>Plots</h2>"]
    parts += [image(folder / name, caption) for name, caption in PLOTS.items() if (folder / name).is_file()]
    parts += ["<h2>Lineages after the last generation</h2><p>Share of agents descending from each strategy (mean "
              "over seeds).</p>", table(shares, digits=3)]
    path = folder / "report.html"
    path.write_text(page(title, parts))
    return path
