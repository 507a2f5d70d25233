"""`populace run covid-nyc`: the NYC COVID-19 + labour model on a synthetic New York City, against DOHMH and NYS DOL.

Builds the synthetic city at `--scale` (`build_nyc`), runs `CovidNYC` (NYC 2020 orders, heuristic behaviour) from
`--start` for `--days` days, applies the `Observation` model (ascertainment driven by DOHMH's tests per day) and
writes into `--out`:

- `daily.parquet`: date, region, infections, reported_cases, deaths, per borough per day. The counts are scaled
  back to the size of the city (divided by `--scale`), so they read like DOHMH's; they are not whole numbers.
- `monthly.parquet`: month (first day), region, unemployment_rate (%, a rate: not scaled).
- `cases_vs_dohmh.parquet`, `deaths_vs_dohmh.parquet`, `unemployment_vs_nysdol.parquet`: date, region, simulated
  (city scale), observed, on the dates both cover (`compare_daily`, `compare_unemployment`).
- `cases.png`, `unemployment.png`: simulated against real, one panel per borough.
- `manifest.json`: arguments, seeds {"run", "population"}, the data files read, outputs, timings.

The parameters are calibrated: the fit shipped with the package (`populace.models.covid_nyc.fitted.SHIPPED_FIT`,
weekly transmission and isolation, importations, labour rates, ascertainment; fitted to DOHMH and NYS DOL by
`populace calibrate covid-nyc`), or the `fitted.parquet` of a fit of your own (`--parameters`). `--uncalibrated`
runs the defaults instead (`CovidParams()`, `Observation()`), with `--initial-infections` and `--importations`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import pandas as pd
import torch

from populace import arguments
from populace.behavior.grouping.learned import LearnedGrouping
from populace.behavior.llm_decisions import LLMDecisions
from populace.behavior.llm_run import (
    add_llm_arguments,
    grouped_decision_model_from_args,
    llm_usage_report,
    write_grouping,
)
from populace.core.errors import InputError
from populace.data.boroughs import BOROUGHS
from populace.data.dohmh import DAILY_FILE, TESTS_FILE
from populace.data.nysdol import nysdol_file
from populace.data.shipped import data_files
from populace.data.vaccination import BY_AGE_FILE, BY_BOROUGH_FILE
from populace.data.variants import VARIANTS_FILE
from populace.manifest import RunManifest, cli_arguments
from populace.models.covid_nyc.archetypes import covid_decisions
from populace.models.covid_nyc.decisions import ISOLATE
from populace.models.covid_nyc.fitted import SHIPPED_FIT, Fit, fitted_models
from populace.models.covid_nyc.model import (
    NYC_INFECTIONS_ON_START_DATE,
    NYC_START_DATE,
    CovidNYC,
    initial_infected_at_scale,
    nyc_2021_parts,
    reaches_vaccination,
)
from populace.models.covid_nyc.observe import (
    Observation,
    compare_daily,
    compare_unemployment,
    daily_tests_on,
    monthly_unemployment_rate,
    series_dates,
    series_from_trajectory,
)
from populace.models.covid_nyc.params import CovidParams
from populace.models.covid_nyc.personas import grouping_levels, persona_texts
from populace.population.storage import Population

matplotlib.use("Agg")
import matplotlib.pyplot as plt

UNCALIBRATED = "uncalibrated: default parameters (CovidParams(), Observation())"
OUTPUTS = ("daily.parquet", "monthly.parquet", "cases_vs_dohmh.parquet", "deaths_vs_dohmh.parquet",
           "unemployment_vs_nysdol.parquet", "cases.png", "unemployment.png", "manifest.json")


def add_parser(models: argparse._SubParsersAction) -> None:
    """Register `covid-nyc` under `populace run`."""
    covid = models.add_parser(
        "covid-nyc",
        help="COVID-19 + labour in a synthetic New York City, compared with DOHMH and NYS DOL",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    arguments.add_scale_flag(covid)
    covid.add_argument("--start", type=arguments.iso_date, default=NYC_START_DATE,
                       help="first day simulated (YYYY-MM-DD)")
    arguments.add_run_flags(covid, out=Path("populace-out/covid-nyc"))
    arguments.add_simulation_flags(covid, days=120)
    covid.add_argument("--parameters", type=Path, default=SHIPPED_FIT,
                       help="fitted parameters: the fitted.parquet of `populace calibrate covid-nyc` (default: the "
                            "fit shipped with Populace)")
    covid.add_argument("--uncalibrated", action="store_true",
                       help="run the default parameters instead of a fit")
    covid.add_argument(
        "--initial-infections", type=arguments.positive_float, default=None,
        help="with --uncalibrated: infections on the first day at city scale (the run seeds scale x this many "
             f"agents, at least 1); default {NYC_INFECTIONS_ON_START_DATE:,}, Davis et al. 2021's median estimate "
             "for NYC on 2020-03-01")
    covid.add_argument(
        "--importations", type=arguments.non_negative_float, default=None,
        help="with --uncalibrated: infections imported from outside the city per million residents per day "
             "(CovidParams.importations_per_million_per_day); default 0, a closed city")
    covid.add_argument(
        "--no-vaccination", action="store_true",
        help="leave vaccination out (otherwise a run reaching 2020-12-14 vaccinates residents as the DOHMH tables say)")
    covid.add_argument(
        "--no-variants", action="store_true",
        help="leave the variants out (otherwise a run reaching 2020-12-14 imports Alpha, Iota and Delta in the weekly "
             "mix of NYC's sequenced cases; they enter only through importations)")
    arguments.add_population_seed_flag(covid)
    arguments.add_data_dir_flag(covid)
    add_llm_arguments(covid, grouping=True)
    covid.set_defaults(handler=run_covid_nyc)


def run_covid_nyc(args: argparse.Namespace) -> int:
    from populace.population.nyc import SOURCE_FILES, build_nyc  # imported here: it pulls in the data loaders

    if args.threads:
        torch.set_num_threads(args.threads)
    fit = fit_to_run(args)
    parameters = UNCALIBRATED if fit is None else fit.describe()
    reaches_2021 = reaches_vaccination(args.start, args.days)
    vaccination, variants = reaches_2021 and not args.no_vaccination, reaches_2021 and not args.no_variants
    if variants and fit is None and not args.importations:
        print("note: no variants: they enter through importations, and --importations is 0")
        variants = False
    raw_files = [*SOURCE_FILES, DAILY_FILE, TESTS_FILE, *(nysdol_file(b) for b in BOROUGHS),
                 *((BY_BOROUGH_FILE, BY_AGE_FILE) if vaccination else ()), *((VARIANTS_FILE,) if variants else ())]
    _, inputs = data_files(raw_files, args.data_dir)  # FileNotFoundError names the fix
    out: Path = args.out
    with RunManifest(out, arguments=cli_arguments(args), seeds={"run": args.seed, "population": args.population_seed},
                     inputs=inputs, command=args.command_line) as manifest:
        started = time.perf_counter()
        population = build_nyc(scale=args.scale, seed=args.population_seed, data_dir=args.data_dir)
        built = time.perf_counter()
        behaviour, grouping = _behaviour(args, population)
        parts = nyc_2021_parts(population, args.start, vaccination=vaccination, variants=variants,
                               data_dir=args.data_dir)
        if fit is None:
            seeded = initial_infected_at_scale(args.initial_infections or NYC_INFECTIONS_ON_START_DATE, args.scale)
            params = CovidParams(importations_per_million_per_day=args.importations or 0.0)
            model = CovidNYC.from_population(population, params, start_date=args.start, initial_infected=seeded,
                                             behaviour=behaviour, **parts)
            observation = Observation()
        else:
            model, observation = fitted_models(population, fit, scale=args.scale, behaviour=behaviour, parts=parts)
        if grouping is not None:
            write_grouping(grouping, population.agents, out, manifest)
        with llm_usage_report(behaviour, out, manifest):  # per-step LLM log; a spent budget stops cleanly
            traj = model.run(args.days, seed=args.seed, differentiable=args.differentiable,
                             progress=False if args.no_progress else None)
        simulated = time.perf_counter()
        dates = series_dates(traj)
        regions = list(model.region_labels)
        with torch.no_grad():
            observed = observation(traj, daily_tests_on(dates, data_dir=args.data_dir))
            labour = series_from_trajectory(traj, ["labour_force", "unemployed"])
            months, rate = monthly_unemployment_rate(labour["labour_force"], labour["unemployed"], dates)
        daily = _daily_frame({k: v / args.scale for k, v in observed.items()}, dates, regions)
        monthly = _long(rate, months, regions, "month", "unemployment_rate")
        cases = compare_daily(observed["reported_cases"], dates, regions, measure="cases", scale=args.scale,
                              data_dir=args.data_dir)
        deaths = compare_daily(observed["deaths"], dates, regions, measure="deaths", scale=args.scale,
                               data_dir=args.data_dir)
        unemployment = compare_unemployment(rate, months, regions, data_dir=args.data_dir)
        for frame, name in ((daily, "daily"), (monthly, "monthly"), (cases, "cases_vs_dohmh"),
                            (deaths, "deaths_vs_dohmh"), (unemployment, "unemployment_vs_nysdol")):
            manifest.add_table(frame, out / f"{name}.parquet")
        title = f"{population.agents.n:,} agents (scale {args.scale:g}), seed {args.seed}\n{parameters}"
        for figure, name in ((plot_cases(cases, title=title), "cases.png"),
                             (plot_unemployment(unemployment, title=title), "unemployment.png")):
            figure.savefig(out / name, dpi=110)
            plt.close(figure)
            manifest.add_output(out / name)
        totals = daily[["infections", "reported_cases", "deaths"]].sum()
        manifest.results.update(
            agents=population.agents.n, build_seconds=round(built - started, 3),
            seconds_per_day=round((simulated - built) / args.days, 4), calibrated=fit is not None,
            fit=None if fit is None else {"file": str(fit.path), "window": str(fit.window), "scale": fit.scale},
            city_infections=float(totals["infections"]), city_reported_cases=float(totals["reported_cases"]),
            city_deaths=float(totals["deaths"]),
            dohmh_cases=float(cases["observed"].sum()), dohmh_deaths=float(deaths["observed"].sum()),
            scaled_by_one_over_scale=["infections", "reported_cases", "deaths"], vaccination=vaccination,
            variants=variants)
        if vaccination:
            manifest.results.update(city_first_dosed_at_end=float(traj["first_dosed"][-1].sum()) / args.scale)
    print(f"COVID-19 in NYC: {population.agents.n:,} agents (scale {args.scale:g}), {dates[0]} to {dates[-1]}, "
          f"seed {args.seed}, population seed {args.population_seed}; {parameters}")
    print(f"built the city in {built - started:.1f} s, simulated in {simulated - built:.1f} s "
          f"({(simulated - built) / args.days * 1000:.0f} ms/day)")
    print(_summary(totals, cases, deaths, unemployment))
    for name in OUTPUTS:
        print(f"{name:32s} {out / name}")
    return 0


def fit_to_run(args: argparse.Namespace) -> Fit | None:
    """The fit the flags name (None with --uncalibrated), checked against the run's start and flags."""
    if args.uncalibrated:
        return None
    given = [flag for flag, value in (("--initial-infections", args.initial_infections),
                                      ("--importations", args.importations)) if value is not None]
    if given:
        raise InputError(f"{' and '.join(given)} set the uncalibrated model; a calibrated run takes them from the fit: "
                         "add --uncalibrated")
    fit = Fit.load(args.parameters)
    fit.check_start(args.start)
    if args.days > fit.days:
        print(f"note: the fit's weekly values cover {fit.days} days from {fit.window.start}; past them the last "
              "week's hold")
    return fit


def _behaviour(args: argparse.Namespace, population: Population) -> tuple[LLMDecisions | None, LearnedGrouping | None]:
    """The LLM decisions with the archetypes of --grouping (learned from isolation probes), or (None, None)."""
    boroughs = population.manifest["codes"]["region"]
    neighbourhoods = list(population.zones["name"])
    return grouped_decision_model_from_args(
        args, covid_decisions(boroughs), learn_from=ISOLATE, agents=population.agents,
        candidates=grouping_levels(boroughs, neighbourhoods),
        personas=lambda rows: persona_texts(population.agents, rows, boroughs, neighbourhoods))


def _long(values: torch.Tensor, dates: list[dt.date], regions: list[str], date_column: str,
          value_column: str) -> pd.DataFrame:
    """A [T, R] tensor as a long table: date_column, region, value_column (dates first, regions within)."""
    return pd.DataFrame({date_column: pd.to_datetime([d for d in dates for _ in regions]),
                         "region": [r for _ in dates for r in regions],
                         value_column: values.detach().double().cpu().numpy().reshape(-1)})


def _daily_frame(series: dict[str, torch.Tensor], dates: list[dt.date], regions: list[str]) -> pd.DataFrame:
    frame = _long(series["infections"], dates, regions, "date", "infections")
    for name in ("reported_cases", "deaths"):
        frame[name] = series[name].detach().double().cpu().numpy().reshape(-1)
    return frame


def _summary(totals: pd.Series, cases: pd.DataFrame, deaths: pd.DataFrame, unemployment: pd.DataFrame) -> str:
    lines = [f"city scale (x 1/scale): {totals['infections']:,.0f} infections, "
             f"{totals['reported_cases']:,.0f} reported cases, {totals['deaths']:,.0f} deaths"]
    if len(cases):
        lines.append(f"DOHMH, same days: {cases['observed'].sum():,.0f} cases (simulated "
                     f"{cases['simulated'].sum():,.0f}), {deaths['observed'].sum():,.0f} deaths (simulated "
                     f"{deaths['simulated'].sum():,.0f})")
    else:
        lines.append("DOHMH has no days in this window: no case or death comparison")
    if len(unemployment):
        last = unemployment[unemployment["date"] == unemployment["date"].max()]
        by_region = ", ".join(f"{r} {s:.1f} ({o:.1f})" for r, s, o in last[["region", "simulated", "observed"]].values)
        lines.append(f"unemployment {last['date'].iloc[0]:%Y-%m}, simulated (NYS DOL) %: {by_region}")
    else:
        lines.append("NYS DOL has no months in this window: no unemployment comparison")
    return "\n".join(lines)


def _panels(title: str, ylabel: str, locator: mdates.DateLocator | None = None) -> tuple[plt.Figure, list[plt.Axes]]:
    figure, axes = plt.subplots(len(BOROUGHS), 1, figsize=(9, 11), sharex=True)
    figure.suptitle(title)
    for ax, borough in zip(axes, BOROUGHS, strict=True):
        ax.set_title(borough, loc="left", fontsize=10)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    locator = locator or mdates.AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return figure, list(axes)


def plot_cases(table: pd.DataFrame, *, title: str) -> plt.Figure:
    """Reported cases per day per borough: simulated (city scale) against DOHMH, one panel each, 7-day averages,
    log scale."""
    figure, axes = _panels(f"Reported COVID-19 cases per day, simulated vs DOHMH\n{title}", "cases / day (log scale)")
    for ax, borough in zip(axes, BOROUGHS, strict=True):
        rows = table[table["region"] == borough].set_index("date")
        if rows.empty:
            ax.text(0.5, 0.5, "no DOHMH days in this window", transform=ax.transAxes, ha="center")
            continue
        ax.bar(rows.index, rows["observed"], width=1.0, color="0.8", label="DOHMH, daily")
        ax.plot(rows.index, rows["observed"].rolling(7, min_periods=1).mean(), color="black", label="DOHMH, 7-day mean")
        ax.plot(rows.index, rows["simulated"].rolling(7, min_periods=1).mean(), color="tab:red",
                label="simulated, 7-day mean")
        ax.set_yscale("log")  # uncalibrated runs can be orders of magnitude off: keep both curves readable
        ax.set_ylim(bottom=1)
    axes[0].legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure


def plot_unemployment(table: pd.DataFrame, *, title: str) -> plt.Figure:
    """Monthly unemployment rate per borough: simulated against NYS DOL, one panel each."""
    figure, axes = _panels(f"Unemployment rate, simulated vs NYS DOL\n{title}", "unemployed (%)", mdates.MonthLocator())
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))  # monthly values: name the month
    for ax, borough in zip(axes, BOROUGHS, strict=True):
        rows = table[table["region"] == borough]
        if rows.empty:
            ax.text(0.5, 0.5, "no NYS DOL months in this window", transform=ax.transAxes, ha="center")
            continue
        ax.plot(rows["date"], rows["observed"], "o-", color="black", label="NYS DOL")
        ax.plot(rows["date"], rows["simulated"], "s--", color="tab:red", label="simulated (monthly mean)")
        ax.set_ylim(0, 1.15 * max(rows["observed"].max(), rows["simulated"].max(), 1.0))
    if len(table):  # a month or two would otherwise get an axis of several years
        pad = pd.Timedelta(days=20)
        axes[-1].set_xlim(table["date"].min() - pad, table["date"].max() + pad)
    axes[0].legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure
