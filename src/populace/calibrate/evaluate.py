r"""Held-out evaluation: split targets at a date, forecast past it, and measure the errors per series and column.

`split` cuts targets into a training window and the held-out window after it. A fitted problem is run past its
training window (by the model: `forecast` averages any seeded simulation over seeds); `held_out` takes the rows of
a series over the full window that fall in the held-out one. On those rows, per series and per column (e.g. region)
and over all columns:

    MAE = mean |s - o|,   RMSE = sqrt(mean (s - o)^2),   ND = sum |s - o| / sum |o| (normalised deviation).

`anchored` starts a forecast from the data: the simulated series keeps its course after the training window but
is scaled (counts) or shifted (rates) per column so that it equals the observation on the window's last row, as
a forecaster restarts a model from the latest observed state. It uses no held-out data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence

import pandas as pd
import torch
from torch import Tensor

from populace.calibrate.targets import DateWindow, Targets


def split(targets: Targets, train: DateWindow) -> tuple[Targets, Targets]:
    """(training targets, held-out targets): the held-out window runs from the day after `train` to the end."""
    if train.start != targets.window.start or train.end >= targets.window.end:
        raise ValueError(f"the training window {train} must start with the targets ({targets.window}) and end "
                         "before them")
    test = DateWindow(train.end + dt.timedelta(days=1), targets.window.end)
    return targets.on(train), targets.on(test)


@torch.no_grad()
def forecast(simulate: Callable[[int], Mapping[str, Tensor]], seeds: Iterable[int]) -> dict[str, Tensor]:
    """The seed mean of `simulate(seed)`'s series, name by name."""
    runs = [simulate(s) for s in seeds]
    if not runs:
        raise ValueError("forecast needs at least one seed")
    return {name: torch.stack([r[name] for r in runs]).mean(0) for name in runs[0]}


def anchored(simulated: Tensor, observed: Tensor, anchor: int, rows: Sequence[int], *, additive: bool = False
             ) -> Tensor:
    """Rows `rows` of a simulated series [T, C], anchored per column at row `anchor` (the training window's last)
    of the observed one [T, C]: s(t) + o(a) - s(a) when `additive` (rates, e.g. unemployment in %), else
    s(t) o(a) / s(a) (counts; a column with s(a) = 0 is left as it is)."""
    s, o = simulated.double(), observed.double()
    if s.shape != o.shape:
        raise ValueError(f"simulated {list(s.shape)} and observed {list(o.shape)} differ in shape")
    if additive:
        return s[rows] + (o[anchor] - s[anchor])
    ratio = torch.where(s[anchor] > 0, o[anchor] / s[anchor].clamp_min(1e-300), torch.ones_like(s[anchor]))
    return s[rows] * ratio


def held_out(series: Mapping[str, Tensor], full: Targets, test: DateWindow) -> dict[str, Tensor]:
    """The rows of `series` (one per row of `full`'s series of that name) whose period touches `test`."""
    return {name: values[full[name].rows_in(test)] for name, values in series.items()}


def errors(method: str, simulated: Mapping[str, Tensor], observed: Mapping[str, Tensor],
           columns: Sequence[str]) -> pd.DataFrame:
    """MAE, RMSE, ND per observed series and column (and 'all'): columns method, series, region, mae, rmse, nd.

    Series are [rows, C] with C = len(columns); a series with no row is left out."""
    rows = []
    for name, obs in observed.items():
        if name not in simulated:
            raise KeyError(f"no simulated series {name!r} to compare (simulated: {', '.join(simulated)})")
        s, o = simulated[name].double(), obs.double()
        if s.shape != o.shape:
            raise ValueError(f"{name}: simulated {list(s.shape)} and observed {list(o.shape)} differ in shape")
        if o.numel() == 0:
            continue
        for k, column in [*enumerate(columns), (None, "all")]:
            d = (s - o) if k is None else (s[:, k] - o[:, k])
            ref = o if k is None else o[:, k]
            rows.append({"method": method, "series": name, "region": column, "mae": float(d.abs().mean()),
                         "rmse": float(d.pow(2).mean().sqrt()), "nd": float(d.abs().sum() / ref.abs().sum())})
    return pd.DataFrame(rows)
