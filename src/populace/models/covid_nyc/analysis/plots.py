"""PNG plots of an ensemble: per policy the median and 50% / 90% bands, with the real data overlaid when the regions
are New York City's boroughs (DOHMH cases and deaths, NYS DOL unemployment, citywide).

Daily series are smoothed per run (7-day centred mean) before the bands are taken, so the bands show the spread of
the epidemic between runs rather than day-to-day noise.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pandas as pd

from populace.analysis.bands import QUANTILES
from populace.models.covid_nyc.analysis.scenario import Scenario
from populace.models.covid_nyc.analysis.tables import ALL_REGIONS, policy_names

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

PLOTS = {"infections.png": "New infections per day (true, all infections)",
         "cases.png": "Reported cases per day (DOHMH overlaid for New York City)",
         "deaths.png": "Deaths per day (DOHMH overlaid for New York City)",
         "unemployment.png": "Unemployment rate by month (NYS DOL overlaid for New York City)",
         "averted.png": "Infections, deaths and unemployment-months averted by each policy"}
"""File name -> caption of every plot `write_plots` makes."""


def smoothed_bands(daily_runs: pd.DataFrame, measure: str, region: str = ALL_REGIONS) -> pd.DataFrame:
    """Per policy and date, quantiles over members of the 7-day centred mean of `measure` in `region`."""
    rows = daily_runs[daily_runs["region"] == region].sort_values(["policy", "member", "date"])
    rows = rows.assign(value=rows.groupby(["policy", "member"], sort=False)[measure]
                       .transform(lambda s: s.rolling(7, center=True, min_periods=1).mean()))
    grouped = rows.groupby(["policy", "date"], sort=False)["value"]
    return pd.concat({name: grouped.quantile(q) for name, q in QUANTILES.items()}, axis=1).reset_index()


def observed_citywide(measure: str, data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """date, observed: DOHMH's citywide daily `measure` (cases or deaths; the citywide row, which also counts records
    without a borough), 7-day centred mean."""
    from populace.data.dohmh import dohmh_daily

    city = dohmh_daily(data_dir, by_borough=False).sort_values("date")
    return pd.DataFrame({"date": pd.to_datetime(city["date"]).to_numpy(),
                         "observed": city[measure].rolling(7, center=True, min_periods=1).mean().to_numpy()})


def observed_unemployment(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """month, observed: NYS DOL's citywide unemployment rate (%), unemployed over labour force of the boroughs."""
    from populace.data.nysdol import nysdol_unemployment

    table = nysdol_unemployment(data_dir)
    city = table.groupby("month", sort=True)[["unemployed", "labor_force"]].sum()
    return pd.DataFrame({"month": pd.to_datetime(city.index),
                         "observed": (100 * city["unemployed"] / city["labor_force"]).to_numpy()})


def _band_axes(ax: plt.Axes, table: pd.DataFrame, x: str, policies: list[str]) -> None:
    for k, policy in enumerate(policies):
        rows = table[table["policy"] == policy]
        if rows.empty:
            continue
        color = f"C{k}"
        ax.fill_between(rows[x], rows["q05"], rows["q95"], color=color, alpha=0.15, linewidth=0)
        ax.fill_between(rows[x], rows["q25"], rows["q75"], color=color, alpha=0.3, linewidth=0)
        ax.plot(rows[x], rows["median"], color=color, label=policy)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)


def _figure(title: str, ylabel: str) -> tuple[plt.Figure, plt.Axes]:
    figure, ax = plt.subplots(figsize=(9, 4.8), layout="constrained")
    ax.set_title(title, fontsize=11)
    ax.set_ylabel(ylabel)
    return figure, ax


def daily_plot(daily_runs: pd.DataFrame, measure: str, policies: list[str], title: str, ylabel: str,
               observed: pd.DataFrame | None = None, observed_label: str = "") -> plt.Figure:
    """Citywide `measure` per day: medians with 50% and 90% bands per policy, and the observed series if given."""
    figure, ax = _figure(title, ylabel)
    table = smoothed_bands(daily_runs, measure)
    _band_axes(ax, table, "date", policies)
    if observed is not None:
        window = observed[(observed["date"] >= table["date"].min()) & (observed["date"] <= table["date"].max())]
        ax.plot(window["date"], window["observed"], color="black", linewidth=1.5, label=observed_label)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper right")
    return figure


def unemployment_plot(monthly_bands: pd.DataFrame, policies: list[str], title: str,
                      observed: pd.DataFrame | None = None) -> plt.Figure:
    figure, ax = _figure(title, "unemployed (% of labour force)")
    table = monthly_bands[(monthly_bands["region"] == ALL_REGIONS) & (monthly_bands["measure"] == "unemployment_rate")]
    _band_axes(ax, table, "month", policies)
    for k, policy in enumerate(policies):
        rows = table[table["policy"] == policy]
        ax.plot(rows["month"], rows["median"], "o", color=f"C{k}", markersize=4)
    if observed is not None:
        window = observed[(observed["month"] >= table["month"].min()) & (observed["month"] <= table["month"].max())]
        ax.plot(window["month"], window["observed"], "s-", color="black", label="NYS DOL, citywide")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left")
    return figure


def averted_plot(metrics: pd.DataFrame, policies: list[str], title: str) -> plt.Figure:
    """Horizontal bars: median averted per policy (`policies`: without the baseline), 90% intervals, a panel per
    metric."""
    names = ("infections_averted", "deaths_averted", "unemployment_months_averted")
    figure, axes = plt.subplots(1, len(names), figsize=(11, 0.6 * max(len(policies), 2) + 1.6), layout="constrained")
    figure.suptitle(title, fontsize=11)
    for ax, name in zip(axes, names, strict=True):
        rows = metrics[metrics["metric"] == name].set_index("policy").reindex(policies).dropna(subset=["median"])
        y = range(len(rows))
        colors = [f"C{policies.index(p) + 1}" for p in rows.index]  # C0 is the baseline elsewhere
        ax.barh(list(y), rows["median"], color=colors,
                xerr=[rows["median"] - rows["q05"], rows["q95"] - rows["median"]], capsize=3)
        ax.set_yticks(list(y), rows.index, fontsize=8)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    return figure


def write_plots(run_dir: str | Path, tables: dict[str, pd.DataFrame], scenario: Scenario, *, with_data: bool,
                data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the PNGs of `PLOTS` into `run_dir/plots` (averted.png only when there are policies)."""
    folder = Path(run_dir) / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    policies = policy_names(scenario)
    members = int(tables["totals"]["member"].nunique())
    note = f"{scenario.name}: median, 50% and 90% bands of {members} run(s), city scale"
    daily = tables["daily_runs"]
    against = (lambda source: f", against {source}") if with_data else (lambda source: " (no data overlaid: not NYC)")
    figures = {
        "infections.png": daily_plot(daily, "infections", policies, f"New infections per day (true)\n{note}",
                                     "infections / day"),
        "cases.png": daily_plot(daily, "reported_cases", policies,
                                f"Reported cases per day{against('DOHMH')}\n{note}", "cases / day",
                                observed_citywide("cases", data_dir) if with_data else None,
                                "DOHMH, citywide, 7-day mean"),
        "deaths.png": daily_plot(daily, "deaths", policies, f"Deaths per day{against('DOHMH')}\n{note}",
                                 "deaths / day", observed_citywide("deaths", data_dir) if with_data else None,
                                 "DOHMH, citywide, 7-day mean"),
        "unemployment.png": unemployment_plot(tables["monthly_bands"], policies,
                                              f"Unemployment rate by month{against('NYS DOL')}\n{note}",
                                              observed_unemployment(data_dir) if with_data else None),
    }
    if scenario.policies:
        figures["averted.png"] = averted_plot(tables["metrics"], policies[1:],
                                              f"{PLOTS['averted.png']} (median, 90% interval, vs baseline)")
    written = []
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=100)
        plt.close(figure)
        written.append(folder / name)
    return written
