"""What a `populace run social` writes: tables per step, per stance bin and per seed cascade, the PNG plots and the
HTML page.

Tables (one row each):
- `steps_frame`: recommender, step, the count of each action, posts, follows, new_follows, cascade_size (mean over
  the seed posts), cascade_depth (max), cascade_breadth (mean max breadth), herd_plus, herd_zero, herd_minus (mean
  score change of the seeds started at +1, 0, -1), stance_mean, stance_std, stance_bimodality;
- `stances_frame`: recommender, step, stance_low (the bin's lower edge), users;
- `cascades_frame`: recommender, post (a seed), author, initial_score, likes, dislikes, size, depth, max_breadth.
- the summary (`populace.models.social.cli.summary_row`): per recommender the last step's cascade measures, the
  herd gap (herd_plus - herd_minus), stance spread and bimodality at the start and end, the friendship paradox of
  the initial and final graph, posts, follows and seconds.
"""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from populace.analysis.html import image, page, table
from populace.core.trajectory import Trajectory
from populace.core.world import World
from populace.models.social.actions import ACTIONS
from populace.models.social.feed import POSTS
from populace.models.social.metrics import STANCE_BINS, cascade_table

matplotlib.use("Agg")

PLOTS = {"cascades.png": "Seed cascades: mean size and maximum depth after each step",
         "herd.png": "Herd effect: mean score change of seed posts by the score they started with",
         "stances.png": "Users per stance bin after each step"}
SCALARS = ("posts", "follows", "new_follows", "cascade_size", "cascade_depth", "cascade_breadth", "stance_mean",
           "stance_std", "stance_bimodality")
HERD_COLUMNS = ("herd_plus", "herd_zero", "herd_minus")


def steps_frame(trajectory: Trajectory, recommender: str) -> pd.DataFrame:
    """One row per recorded step (module docstring)."""
    frame = pd.DataFrame(trajectory["actions"].detach().numpy().astype(np.int64), columns=list(ACTIONS))
    for name in SCALARS:
        frame[name] = trajectory[name].detach().numpy()
    frame[list(HERD_COLUMNS)] = trajectory["herd_score"].detach().numpy()
    frame.insert(0, "step", trajectory.steps)
    frame.insert(0, "recommender", recommender)
    return frame


def stances_frame(trajectory: Trajectory, recommender: str) -> pd.DataFrame:
    """Users per stance bin after each recorded step."""
    counts = trajectory["stance_histogram"].detach().numpy()
    steps, bins = counts.shape
    return pd.DataFrame({"recommender": recommender, "step": np.repeat(trajectory.steps, bins),
                         "stance_low": np.tile(np.round(STANCE_BINS[:-1], 1), steps),
                         "users": counts.reshape(-1).astype(np.int64)})


def cascades_frame(world: World, n_seeds: int, recommender: str) -> pd.DataFrame:
    """Every seed post's cascade at the end of the run."""
    posts = world.table(POSTS)
    cascades = cascade_table(posts.root, posts.depth, n_seeds)
    seeds = slice(0, n_seeds)
    return pd.DataFrame({"recommender": recommender, "post": np.arange(n_seeds),
                         "author": posts.author[seeds].numpy(), "initial_score": posts.initial_score[seeds].numpy(),
                         "likes": posts.likes[seeds].numpy(), "dislikes": posts.dislikes[seeds].numpy(),
                         **{name: cascades[name].numpy() for name in ("size", "depth", "max_breadth")}})


def write_plots(steps: pd.DataFrame, stances: pd.DataFrame, folder: Path) -> list[Path]:
    """cascades.png, herd.png and stances.png (`PLOTS`) in `folder`; returns their paths."""
    figures = {"cascades.png": plot_cascades(steps), "herd.png": plot_herd(steps), "stances.png": plot_stances(stances)}
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=110)
    return [folder / name for name in figures]


def plot_cascades(steps: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(9, 4), layout="constrained")
    size, depth = figure.subplots(1, 2)
    for recommender, part in steps.groupby("recommender", sort=False):
        size.plot(part["step"], part["cascade_size"], label=recommender)
        depth.plot(part["step"], part["cascade_depth"], label=recommender)
    size.set(xlabel="step", ylabel="posts per seed cascade (mean)", title="cascade size")
    depth.set(xlabel="step", ylabel="longest repost chain", title="cascade depth")
    for axes in (size, depth):
        axes.grid(alpha=0.3)
        axes.legend()
    return figure


def plot_herd(steps: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for recommender, part in steps.groupby("recommender", sort=False):
        for column, label, style in zip(HERD_COLUMNS, ("+1", "0", "-1"), ("-", "--", ":"), strict=True):
            axes.plot(part["step"], part[column], style, label=f"{recommender}, started at {label}")
    axes.set(xlabel="step", ylabel="score change (likes - dislikes)", title="herd effect on seed posts")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return figure


def plot_stances(stances: pd.DataFrame) -> Figure:
    recommenders = list(dict.fromkeys(stances["recommender"]))
    figure = Figure(figsize=(4.5 * len(recommenders), 4), layout="constrained")
    for axes, recommender in zip(np.atleast_1d(figure.subplots(1, len(recommenders))), recommenders, strict=True):
        wide = stances[stances.recommender == recommender].pivot(index="stance_low", columns="step", values="users")
        extent = (wide.columns.min(), wide.columns.max(), -1, 1)
        shown = axes.imshow(wide.to_numpy(), aspect="auto", origin="lower", extent=extent, cmap="viridis")
        axes.set(xlabel="step", ylabel="stance", title=f"stances ({recommender})")
        figure.colorbar(shown, ax=axes, label="users")
    return figure


def write_report(folder: Path, *, title: str, description: str, summary: pd.DataFrame) -> Path:
    """report.html in `folder`: the description, the summary table and the plots."""
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(description)}</p>", "<h2>Summary</h2>",
             table(summary, digits=3), "<h2>Plots</h2>"]
    parts += [image(folder / name, caption) for name, caption in PLOTS.items() if (folder / name).is_file()]
    path = folder / "report.html"
    path.write_text(page(title, parts))
    return path
