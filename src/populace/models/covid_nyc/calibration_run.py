"""The NYC calibration set up from the real data (targets, tests, the model on a built city, the network features),
its held-out forecast and persistence baseline, and the outputs of a fit (parameters JSON, loss curve PNG and
Parquet). Used by `populace calibrate covid-nyc` and the docs scripts."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import pandas as pd
import torch

from populace.behavior.interface import DecisionModel
from populace.calibrate import Targets, anchored, errors, held_out, mean_loss, persistence, save_parameter_draws
from populace.calibrate import forecast as seed_mean
from populace.models.covid_nyc.calibration import Calibration, calibration_model, weeks_in
from populace.models.covid_nyc.model import NYC_INFECTIONS_ON_START_DATE, initial_infected_at_scale, nyc_2021_parts
from populace.models.covid_nyc.observe import Observation, daily_tests_on
from populace.models.covid_nyc.policy import nyc_2020_2021_schedule
from populace.models.covid_nyc.schedules import CalibrationNetwork, network_features
from populace.models.covid_nyc.targets import (
    LossWeights,
    compared,
    months_of,
    moving_average,
    observed_smoothed,
    region_order,
)
from populace.population.storage import Population

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FIT_FILE = "fitted.parquet"
"""The fit a calibration writes (`populace.models.covid_nyc.fitted.Fit.load` reads it)."""
CHECK_SEEDS = (20_000, 20_001)
"""Simulator seeds of a fit's check loss (fast mode, saved with the fit)."""
DEATH_KINDS = ("deaths_expected", "deaths_sampled")
"""The two kinds of simulated deaths a forecast reports, each compared with the observed deaths."""
FORECAST_SEED_BASE = 10_000
"""Simulator seeds of held-out forecasts: `FORECAST_SEED_BASE + k` for k < the number of forecast seeds."""

INITIAL_INFECTED_CITY = NYC_INFECTIONS_ON_START_DATE
"""Starting guess of the infections on the first day at city scale (`NYC_INFECTIONS_ON_START_DATE`; calibrated)."""
STARTING_BETA = 0.2
"""Default starting beta of every week. `CovidParams`' 0.12 lets the epidemic die out after NYC PAUSE in a city of
a few thousand agents, and the weeks after extinction get no gradient; from 0.2 it survives the summer of 2020 at
scale 0.002 and the fit brings beta down where the data say so."""
LONG_TERM_REHIRE_FACTOR = 0.5
"""Starting value of `Labour.long_term_rehire_factor` in a fit (its default, 1, is no duration dependence):
assumption, the long-term unemployed re-hired at about half the rate of a new spell (Kroft, Lange & Notowidigdo
2013; Krueger, Cramer & Cho 2014; see `Labour`); learned. Adam's steps (about lr per iteration on its logit)
would not bring it there from 1 in a fit of 16 iterations."""


def nyc_calibration(population: Population, train: Targets, *, scale: float, mode: str = "free",
                    full_cases: torch.Tensor | None = None, tests_days: int | None = None,
                    data_dir: str | os.PathLike[str] | None = None, weights: LossWeights | None = None,
                    beta_per_day: float = STARTING_BETA, initial_infected_city: float = INITIAL_INFECTED_CITY,
                    checkpoint_days: int | None = 14, network_seed: int = 0,
                    behaviour: DecisionModel | None = None, deaths: str = "expected",
                    long_term_rehire_factor: float = LONG_TERM_REHIRE_FACTOR) -> Calibration:
    """A `Calibration` of `CovidNYC` on a built city against `train` (its window starts the run).

    `behaviour`: the decision model (default: `WeeklyIsolationDecisions`, weekly isolation shifts per borough); any
    other, e.g. `populace.behavior.LLMDecisions`, has all its parameters learned (mode "free" only).

    `tests_days`: days of DOHMH tests to load (at least the training days; more to forecast past them). A run of
    that many days that reaches 2020-12-14 has NYC's vaccination and variants (`nyc_2021_parts`).
    `full_cases`: observed cases [T, R] from the first day, for the network's features (frozen after training).
    `deaths`: which deaths the loss and forecasts use, "expected" (given the infections) or "sampled" (`DEATH_SERIES`).
    `long_term_rehire_factor`: the starting value of the labour model's duration dependence (1: none, `Labour`).
    """
    weeks = weeks_in(train.window.days)
    initial = initial_infected_at_scale(initial_infected_city, scale)
    days = tests_days or train.window.days
    parts = nyc_2021_parts(population, train.window.start, days=days, data_dir=data_dir)
    model = calibration_model(population, start_date=train.window.start, weeks=weeks, beta_per_day=beta_per_day,
                              initial_infected=initial, behaviour=behaviour, parts=parts)
    model.labour.long_term_rehire_factor = torch.tensor(long_term_rehire_factor)
    dates = [train.window.start + dt.timedelta(days=k) for k in range(days)]
    tests = daily_tests_on(dates, data_dir=data_dir)
    network = None
    if mode == "network":
        residents = torch.bincount(population.agents.region.long(), minlength=len(model.region_labels)).double()
        residents = residents[region_order(model.region_labels, train)]
        cases = train["cases"].values if full_cases is None else full_cases
        features = network_features(train.window.start, weeks, cases, nyc_2020_2021_schedule(),
                                    residents_by_region=(residents / scale).tolist(),
                                    last_observed_day=train.window.days)
        network = CalibrationNetwork(features, log_beta_0=math.log(beta_per_day),
                                     resident_share_by_region=(residents / residents.sum()).tolist(),
                                     seed=network_seed)
    return Calibration(model, Observation(), train, scale=scale, tests_per_day=tests, weights=weights, mode=mode,
                       network=network, checkpoint_days=checkpoint_days, deaths=deaths)


def forecast(calibration: Calibration, full: Targets, seeds: list[int]) -> dict[str, torch.Tensor]:
    """Seed-mean simulated series over `full`'s window (from the training start), as compared (`compared`):
    `cases`, `deaths` [T, R] as 7-day means, `unemployment` [M, R] on `full`'s months; and both kinds of deaths,
    `deaths_expected` and `deaths_sampled` (7-day means; `deaths` is the one `calibration.deaths` names)."""
    days, months = full.window.days, months_of(full)
    mean = seed_mean(lambda s: calibration.simulate(s, differentiable=False, days=days, months=months), seeds)
    out = compared({name: mean[name] for name in full})
    return {**out, **{name: moving_average(mean[name]) for name in DEATH_KINDS}}


def forecast_seeds(count: int) -> list[int]:
    """The simulator seeds a held-out forecast averages over (`populace calibrate covid-nyc --forecast-seeds`)."""
    if count < 1:
        raise ValueError(f"a forecast needs at least one seed, got {count}")
    return [FORECAST_SEED_BASE + k for k in range(count)]


def held_out_errors(method: str, series: Mapping[str, torch.Tensor], full: Targets, train: Targets,
                    test: Targets) -> pd.DataFrame:
    """Held-out errors (`populace.calibrate.errors`, per borough and 'all') of a fit's forecast `series` (`forecast`
    over `full`'s window) on `test`, as simulated (method `method`) and anchored at the last observed values of the
    training window (`populace.calibrate.anchored`, method `<method>_anchored`: cases and deaths scaled,
    unemployment shifted).

    Scored on `deaths` (the kind the calibration's `deaths` names) and on both kinds, `deaths_expected` and
    `deaths_sampled`, each against the observed deaths; a series with no row wholly before the held-out window
    (only a month both windows touch) has no anchor and is left out of the anchored rows."""
    smoothed = observed_smoothed(full)
    observed = held_out(smoothed, full, test.window)
    both = {**observed, **dict.fromkeys(DEATH_KINDS, observed["deaths"])}
    raw, started = {}, {}
    for name in [*full, *DEATH_KINDS]:
        kind = "deaths" if name in DEATH_KINDS else name
        rows = full[kind].rows_in(test.window)
        raw[name] = series[name][rows]
        before = set(full[kind].rows_in(train.window)) - set(rows)  # rows wholly before the test window
        if before:
            started[name] = anchored(series[name], smoothed[kind], max(before), rows,
                                     additive=name == "unemployment")
    return pd.concat([errors(method, raw, both, test.columns),
                      errors(f"{method}_anchored", started, {name: both[name] for name in started}, test.columns)],
                     ignore_index=True)


def naive_forecast(train: Targets, test: Targets) -> dict[str, torch.Tensor]:
    """Persistence from the training window onto `test`'s rows: each borough's last 7-day mean of cases and deaths,
    its last monthly unemployment rate."""
    if not len(months_of(train)):
        raise ValueError(f"the training window {train.window} has no unemployment month to persist")
    return persistence(observed_smoothed(train), {name: s.values.shape[0] for name, s in test.items()})


def save_fit(out: Path, calibration: Calibration, history: pd.DataFrame, *, title: str,
             metadata: Mapping[str, object] | None = None) -> list[Path]:
    """Write parameters.json, fitted.parquet (the fit, `populace.models.covid_nyc.fitted.Fit`, with `metadata`, e.g.
    the population seed and the kind of deaths), loss_history.parquet and loss_curve.png into `out`; return the
    paths."""
    out.mkdir(parents=True, exist_ok=True)
    about = {"window": str(calibration.targets.window), "mode": calibration.mode, "scale": calibration.scale}
    params = out / "parameters.json"
    params.write_text(json.dumps({**about, **calibration.natural_values()}, indent=1))
    check = {"seeds": list(CHECK_SEEDS), "loss": mean_loss(calibration, CHECK_SEEDS)}
    fitted = save_parameter_draws(out / FIT_FILE, [calibration.draw()],
                                  {**about, **(metadata or {}), "iterations": len(history), "check": check,
                                   "behaviour": type(calibration.model.behaviour.decision_model).__name__})
    table = out / "loss_history.parquet"
    history.to_parquet(table, index=False)
    figure = plot_loss(history, title=title)
    curve = out / "loss_curve.png"
    figure.savefig(curve, dpi=110)
    plt.close(figure)
    return [params, fitted, table, curve]


def plot_loss(history: pd.DataFrame, *, title: str) -> plt.Figure:
    """Total loss and its terms per iteration (log scale)."""
    figure, ax = plt.subplots(figsize=(7, 4))
    for column, style in (("loss", "k-"), ("cases", "r--"), ("deaths", "b:"), ("unemployment", "g-.")):
        if column in history and history[column].notna().any():
            ax.plot(history["iteration"], history[column], style, label=column)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (normalised terms)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure
