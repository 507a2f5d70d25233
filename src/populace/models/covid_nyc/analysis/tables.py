"""Ensemble tables: every run's series side by side, medians and 50% / 90% bands, and the policy comparison metrics.

Bands are quantiles over the ensemble members (`populace.analysis.bands`): q05, q25, median, q75, q95 (the 90% band
is q05-q95, the 50% band q25-q75). Comparison metrics are paired: a policy run and the baseline run of the same
member share seed and parameter draw, so "infections averted" is baseline minus policy member by member, then
summarised. Unemployment-months: the unemployed (at the size of the city) summed over the days of the run, divided
by the days of a mean month (365.25 / 12); "unemployment-months averted" is the baseline's minus the policy's.

Files written under `tables/` of a run folder (long format, one row per key):
- `daily_runs.parquet`: policy, member, seed, date, region (the boroughs and "all"), the daily measures;
- `daily_bands.parquet`: policy, date, region, measure, q05, q25, median, q75, q95;
- `monthly_bands.parquet`: policy, month, region, unemployment_rate (%) bands (and `monthly_runs.parquet`);
- `age_bands.parquet`: policy, age_band, measure (infections, deaths) bands (and `age_runs.parquet`);
- `totals.parquet`: policy, member, infections, reported_cases, deaths, unemployment_months over the run;
- `metrics.parquet`: policy, metric, q05 ... q95 (each total, and for policies the amounts averted).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from populace.analysis.bands import QUANTILES, bands, collect_runs
from populace.analysis.policy import BASELINE
from populace.models.covid_nyc.analysis.ensemble import SCENARIO_FILE
from populace.models.covid_nyc.analysis.scenario import Scenario

DAILY_MEASURES = ("infections", "reported_cases", "deaths", "unemployed", "labour_force")
TOTALS = ("infections", "reported_cases", "deaths", "unemployment_months")
ALL_REGIONS = "all"
DAYS_PER_MONTH = 365.25 / 12


def policy_names(scenario: Scenario) -> list[str]:
    return [BASELINE, *(p.name for p in scenario.policies)]


def collect(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Read every member's runs and build the tables of the module docstring (written to `run_dir/tables`)."""
    run_dir = Path(run_dir)
    scenario = Scenario.model_validate_json((run_dir / SCENARIO_FILE).read_text())
    daily_runs = collect_runs(run_dir, policy_names(scenario), "daily")
    citywide = daily_runs.groupby(["policy", "member", "seed", "date"], sort=False)[list(DAILY_MEASURES)].sum()
    daily_runs = pd.concat([daily_runs, citywide.reset_index().assign(region=ALL_REGIONS)], ignore_index=True)
    monthly = daily_runs.assign(month=daily_runs["date"].dt.to_period("M").dt.to_timestamp())
    monthly = monthly.groupby(["policy", "member", "seed", "month", "region"], sort=False)[
        ["unemployed", "labour_force"]].sum().reset_index()
    monthly["unemployment_rate"] = 100 * monthly["unemployed"] / monthly["labour_force"]
    age_runs = collect_runs(run_dir, policy_names(scenario), "ages")
    city = daily_runs[daily_runs["region"] == ALL_REGIONS]
    totals = city.groupby(["policy", "member", "seed"], sort=False)[["infections", "reported_cases", "deaths",
                                                                    "unemployed"]].sum().reset_index()
    totals["unemployment_months"] = totals.pop("unemployed") / DAYS_PER_MONTH
    tables = {
        "daily_runs": daily_runs, "daily_bands": bands(daily_runs, ["policy", "date", "region"], DAILY_MEASURES),
        "monthly_runs": monthly, "monthly_bands": bands(monthly, ["policy", "month", "region"], ["unemployment_rate"]),
        "age_runs": age_runs, "age_bands": bands(age_runs, ["policy", "age_band"], ["infections", "deaths"]),
        "totals": totals, "metrics": metrics(totals),
    }
    (run_dir / "tables").mkdir(exist_ok=True)
    for name, table in tables.items():
        table.to_parquet(run_dir / "tables" / f"{name}.parquet", index=False)
    return tables


def metrics(totals: pd.DataFrame) -> pd.DataFrame:
    """Per policy: each total, and (policies only) the amounts averted against the same member's baseline."""
    base = totals[totals["policy"] == BASELINE].set_index("member")
    rows = []
    for policy, group in totals.groupby("policy", sort=False):
        group = group.set_index("member")
        values = {name: group[name] for name in TOTALS}
        if policy != BASELINE:
            for name in TOTALS:
                averted = name.replace("reported_cases", "cases")
                values[f"{averted}_averted"] = base[name].reindex(group.index) - group[name]
        for metric, series in values.items():
            rows.append({"policy": policy, "metric": metric,
                         **{q: float(series.quantile(p)) for q, p in QUANTILES.items()}, "members": len(series)})
    return pd.DataFrame(rows)


SUMMARY_METRICS = ("infections", "deaths", "unemployment_months", "infections_averted", "deaths_averted",
                   "unemployment_months_averted")


def summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per policy, the main metrics as text "median [q05, q95]" (blank where a metric does not apply)."""
    rows: dict[str, dict[str, str]] = {}
    for (policy, metric), row in metrics.set_index(["policy", "metric"]).iterrows():
        if metric in SUMMARY_METRICS:
            rows.setdefault(policy, {})[metric.replace("_", " ")] = (
                f"{row['median']:,.0f} [{row['q05']:,.0f}, {row['q95']:,.0f}]")
    table = pd.DataFrame.from_dict(rows, orient="index").fillna("")
    return table.rename_axis("policy").reset_index()
