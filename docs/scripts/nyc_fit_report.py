"""Fit quality of the synthetic New York City: synthetic counts vs the tables they were fitted to.

    python docs/scripts/nyc_fit_report.py [--scale 1.0] [--seed 1] [--plot docs/img/nyc-fit.png]

Synthesises the people (`synthesize_nyc`, about a minute at scale 1 on 2 cores; no contact layers) and prints, as
markdown for docs/nyc-population.md:

1. per attribute (age_band, sex, race_ethnicity), citywide per category: target, synthetic, relative difference;
2. per attribute, over the NTA x category cells: max and mean absolute difference, share of cells within 1 person
   and within 1% of the target;
3. employment and industry (citywide shares) vs the City Planning NTA tables;
4. households by size (citywide shares) vs the councilcount NTA tables, and the mean household size vs the ACS.

Targets are the City Planning NTA tables rescaled per borough to the Census 2019 estimate, times `scale` (the fit
report of `synthesize_nyc`). Writes the plot: synthetic vs target per NTA cell for each attribute (log-log, with
the identity line), and the difference per cell against the target.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from populace.data import councilcount_household_sizes, dcp_nta_households, dcp_nta_profiles
from populace.population.nyc import INDUSTRIES, WORKING_AGE, SyntheticPeople, synthesize_nyc
from populace.population.storage import NO_CODE

ATTRIBUTES = ("age_band", "sex", "race_ethnicity")
PLOT = Path(__file__).resolve().parents[1] / "img" / "nyc-fit.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 8.34M New Yorkers (0, 1]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", type=Path, default=PLOT, help="where to write the PNG")
    args = parser.parse_args()

    people = synthesize_nyc(scale=args.scale, seed=args.seed)
    fit = people.fit
    print(f"synthetic NYC at scale {args.scale:g}, seed {args.seed}: {people.agents.n:,} agents, "
          f"{len(people.households):,} households, {len(people.zones)} NTAs\n")
    print(citywide_table(fit))
    print(cell_summary(fit))
    print(jobs_table(people))
    print(households_table(people))
    plot(fit, args.plot, f"scale {args.scale:g}, seed {args.seed}")
    print(f"plot: {args.plot}")


def citywide_table(fit: pd.DataFrame) -> str:
    """Per attribute and category, summed over NTAs: target, synthetic, relative difference."""
    rows = ["| attribute | category | target | synthetic | difference |", "|---|---|--:|--:|--:|"]
    for attribute in ATTRIBUTES:
        part = fit[fit["attribute"] == attribute]
        city = part.groupby("category", sort=False)[["target", "synthetic"]].sum()
        for category, row in city.iterrows():
            relative = (row["synthetic"] - row["target"]) / row["target"]
            rows.append(f"| {attribute} | {category} | {row['target']:,.1f} | {row['synthetic']:,.0f} | "
                        f"{relative:+.4%} |")
    return "\n".join(rows) + "\n"


def cell_summary(fit: pd.DataFrame) -> str:
    """Per attribute, over the NTA x category cells: absolute differences and the share within 1 person / 1%."""
    rows = ["| attribute | NTA cells | max abs. difference | mean abs. difference | within 1 person | within 1% | "
            "within 1 person or 1% |", "|---|--:|--:|--:|--:|--:|--:|"]
    for attribute in ATTRIBUTES:
        part = fit[fit["attribute"] == attribute]
        gap = part["difference"].abs()
        within_person = (gap <= 1).mean()
        within_percent = (gap <= 0.01 * part["target"]).mean()
        within_either = ((gap <= 1) | (gap <= 0.01 * part["target"])).mean()
        rows.append(f"| {attribute} | {len(part):,} | {gap.max():.2f} | {gap.mean():.3f} | {within_person:.2%} | "
                    f"{within_percent:.2%} | {within_either:.2%} |")
    return "\n".join(rows) + "\n"


def jobs_table(people: SyntheticPeople) -> str:
    """Employment rate and industry shares, synthetic vs the City Planning tables (ACS 2017-2021), citywide."""
    profiles = dcp_nta_profiles()
    agents = people.agents
    employed = agents["is_employed"]
    n_employed = int(employed.sum())
    rows = ["| quantity | table | synthetic |", "|---|--:|--:|",
            f"| employed / residents | {profiles['employed'].sum() / profiles['population'].sum():.2%} | "
            f"{n_employed / agents.n:.2%} |",
            f"| employed / residents aged 16+ | {profiles['employed'].sum() / profiles['pop_16_plus'].sum():.2%} | "
            f"{n_employed / int((agents['age'] >= WORKING_AGE).sum()):.2%} |"]
    industry = agents["industry"][employed].long()
    if bool((industry == NO_CODE).any()):
        raise AssertionError("an employed agent has no industry")
    counts = torch.bincount(industry, minlength=len(INDUSTRIES))
    table = profiles[[f"ind_{name}" for name in INDUSTRIES]].sum()
    for i, name in enumerate(INDUSTRIES):
        share = int(counts[i]) / n_employed
        rows.append(f"| industry share: {name} | {table.iloc[i] / table.sum():.2%} | {share:.2%} |")
    return "\n".join(rows) + "\n"


def households_table(people: SyntheticPeople) -> str:
    """Households by size and mean household size, synthetic vs councilcount (ACS 2019-2023) and City Planning."""
    sizes = councilcount_household_sizes("nta")
    columns = ["size_1", "size_2", "size_3", "size_4_plus"]
    table = sizes[columns].sum()
    size = people.households["size"].to_numpy()
    synthetic = np.array([(size == 1).sum(), (size == 2).sum(), (size == 3).sum(), (size >= 4).sum()])
    rows = ["| quantity | table | synthetic |", "|---|--:|--:|",
            f"| households (scaled to our residents) | {table.sum() * people.agents.n / sizes['population'].sum():,.0f}"
            f" | {len(size):,} |"]
    for label, target, count in zip(("1 person", "2 persons", "3 persons", "4 or more"), table, synthetic,
                                    strict=True):
        rows.append(f"| share of households of {label} | {target / table.sum():.2%} | {count / len(size):.2%} |")
    dcp = dcp_nta_households()
    rows.append(f"| persons per household, ACS 2017-2021 (household population / households, City Planning) | "
                f"{dcp['household_population'].sum() / dcp['households'].sum():.3f} | {size.mean():.3f} |")
    rows.append(f"| persons per household, ACS 2019-2023 (residents / households, councilcount) | "
                f"{sizes['population'].sum() / sizes['households'].sum():.3f} | {size.mean():.3f} |")
    return "\n".join(rows) + "\n"


def plot(fit: pd.DataFrame, path: Path, label: str) -> None:
    """Top: synthetic vs target per NTA cell (log-log, identity line); bottom: difference vs target."""
    figure, axes = plt.subplots(2, len(ATTRIBUTES), figsize=(15, 9), sharex="col",
                                gridspec_kw={"height_ratios": [3, 2]})
    for column, attribute in enumerate(ATTRIBUTES):
        part = fit[(fit["attribute"] == attribute)]
        shown = part[(part["target"] > 0) & (part["synthetic"] > 0)]
        top, bottom = axes[0, column], axes[1, column]
        top.scatter(shown["target"], shown["synthetic"], s=4, alpha=0.4, color="tab:blue", linewidths=0)
        low, high = 0.5 * shown[["target", "synthetic"]].min().min(), 2 * shown[["target", "synthetic"]].max().max()
        top.plot([low, high], [low, high], color="black", linewidth=0.8, label="synthetic = target")
        top.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high), ylabel="synthetic persons",
                title=f"{attribute}: {len(shown):,} NTA cells\n({len(part) - len(shown):,} with a zero not shown)")
        top.legend(loc="upper left")
        span = 1.1 * float(part["difference"].abs().max())
        bottom.scatter(part["target"].clip(lower=low), part["difference"], s=4, alpha=0.4, color="tab:blue",
                       linewidths=0)
        bottom.axhline(0, color="black", linewidth=0.8)
        bottom.set(xscale="log", xlabel="target persons (NTA table, rescaled)",
                   ylabel="synthetic - target (persons)", ylim=(-span, span))
        for ax in (top, bottom):
            ax.grid(True, which="major", linewidth=0.3)
    figure.suptitle(f"Synthetic NYC vs the NTA tables it was fitted to: one dot per NTA and category ({label})")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
