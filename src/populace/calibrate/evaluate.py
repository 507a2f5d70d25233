r"""Held-out evaluation: forecast the days after the training window and measure the error per borough.

A calibrated model is run (fast mode, several seeds, averaged) from the first training day through the end of the
held-out window; past its last fitted week, beta and the isolation shifts hold their last fitted values (the
simulator's own rule for weeks past the last one), and the network's features are frozen at the training data. On
the held-out days (cases and deaths: trailing 7-day means at city scale; unemployment: monthly rates, %) per borough
and over all boroughs:

    MAE = mean |s - o|,   RMSE = sqrt(mean (s - o)^2),   ND = sum |s - o| / sum |o| (normalised deviation).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import torch
from torch import Tensor

from populace.calibrate.problem import Calibration
from populace.calibrate.targets import DateWindow, Targets, moving_average

SERIES = ("cases", "deaths", "unemployment")


def split(targets: Targets, train: DateWindow) -> tuple[Targets, Targets]:
    """(training targets, held-out targets): the held-out window runs from the day after `train` to the end."""
    if train.start != targets.window.start or train.end >= targets.window.end:
        raise ValueError(f"the training window {train} must start with the targets ({targets.window}) and end "
                         "before them")
    test = DateWindow(train.end + dt.timedelta(days=1), targets.window.end)
    return targets.on(train), targets.on(test)


@torch.no_grad()
def forecast(calibration: Calibration, full: Targets, seeds: list[int]) -> dict[str, Tensor]:
    """Seed-mean simulated series over `full`'s window (from the training start): `cases`, `deaths` [T, R] as 7-day
    means, `unemployment` [M, R] on `full.months`."""
    runs = [calibration.simulate(s, differentiable=False, days=full.window.days, months=full.months) for s in seeds]
    mean = {name: torch.stack([r[name] for r in runs]).mean(0) for name in SERIES}
    return {"cases": moving_average(mean["cases"]), "deaths": moving_average(mean["deaths"]),
            "unemployment": mean["unemployment"]}


def held_out(series: dict[str, Tensor], full: Targets, test: Targets) -> dict[str, Tensor]:
    """The rows of `series` (over `full`'s window) that fall in `test`'s window."""
    first = full.window.dates.index(test.window.start)
    rows = [full.months.index(m) for m in test.months]
    return {"cases": series["cases"][first:first + test.window.days],
            "deaths": series["deaths"][first:first + test.window.days], "unemployment": series["unemployment"][rows]}


def observed_smoothed(full: Targets) -> dict[str, Tensor]:
    """The observed series as compared: 7-day means of cases and deaths, monthly unemployment."""
    return {"cases": moving_average(full.cases), "deaths": moving_average(full.deaths),
            "unemployment": full.unemployment}


def errors(method: str, simulated: dict[str, Tensor], observed: dict[str, Tensor],
           regions: tuple[str, ...]) -> pd.DataFrame:
    """MAE, RMSE, ND per series and borough (and 'all'): columns method, series, region, mae, rmse, nd."""
    rows = []
    for name in SERIES:
        s, o = simulated[name].double(), observed[name].double()
        if s.shape != o.shape:
            raise ValueError(f"{name}: simulated {list(s.shape)} and observed {list(o.shape)} differ in shape")
        if o.numel() == 0:
            continue
        for k, region in [*enumerate(regions), (None, "all")]:
            d = (s - o) if k is None else (s[:, k] - o[:, k])
            ref = o if k is None else o[:, k]
            rows.append({"method": method, "series": name, "region": region, "mae": float(d.abs().mean()),
                         "rmse": float(d.pow(2).mean().sqrt()), "nd": float(d.abs().sum() / ref.abs().sum())})
    return pd.DataFrame(rows)
