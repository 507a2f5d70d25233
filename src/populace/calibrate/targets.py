r"""Calibration targets: the real series a run is fitted to, on a window of dates, and the loss against them.

`Targets` holds, per borough, DOHMH's daily reported cases and deaths (by date of diagnosis and of death) and
NYS DOL's monthly unemployment rate, over a window of dates (`DateWindow`, e.g. "2020-03-01:2020-12-31").
`load_targets` reads them from the data directory; `Targets` can also be built from any tensors (synthetic data made
by the simulator itself, another city's series).

The loss compares a run's series with them, one term per series, each normalised by the spread of its own
observations so that a term is about 1 for a forecast as good as the series' mean and 0 for a perfect one
(1 - R^2 on the transformed scale), then weighted:

    L_cases  = mean_{t,r} (log(1 + m_sim(t, r)) - log(1 + m_obs(t, r)))^2 / var_{t,r}(log(1 + m_obs)),
    L_deaths = the same for deaths,
    L_unemp  = mean_{m,r} (u_sim(m, r) - u_obs(m, r))^2 / var_{m,r}(u_obs),
    L        = w_cases L_cases + w_deaths L_deaths + w_unemp L_unemp,

m(t, r): trailing 7-day mean of daily counts per borough at city scale (simulated counts divided by the
population's scale), which smooths DOHMH's weekday reporting cycle; u: monthly unemployment rate (%).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Sequence

import pandas as pd
import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's own convention)
from torch import Tensor

from populace.core.world import as_date
from populace.data.boroughs import BOROUGHS, borough_from
from populace.data.dohmh import dohmh_daily
from populace.data.nysdol import nysdol_unemployment

SMOOTHING_DAYS = 7


@dataclasses.dataclass(frozen=True)
class DateWindow:
    """The days start..end, both included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_date(self.start, "start"))
        object.__setattr__(self, "end", as_date(self.end, "end"))
        if self.end < self.start:
            raise ValueError(f"a window must end on or after its start, got {self.start}:{self.end}")

    @classmethod
    def parse(cls, text: str) -> DateWindow:
        """'2020-03-01:2020-12-31' -> DateWindow(2020-03-01, 2020-12-31)."""
        parts = str(text).split(":")
        if len(parts) != 2:
            raise ValueError(f"a date window is START:END in ISO dates, e.g. 2020-03-01:2020-12-31; got {text!r}")
        return cls(parts[0].strip(), parts[1].strip())  # type: ignore[arg-type]

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=k) for k in range(self.days)]

    @property
    def months(self) -> list[dt.date]:
        """First day of every month the window touches."""
        return sorted({d.replace(day=1) for d in self.dates})

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """w_cases, w_deaths, w_unemployment of the total loss (each >= 0, not all 0)."""

    cases: float = 1.0
    deaths: float = 0.5
    unemployment: float = 1.0

    def __post_init__(self) -> None:
        values = dataclasses.astuple(self)
        if not all(v >= 0 for v in values) or sum(values) == 0:
            raise ValueError(f"loss weights must be >= 0 and not all 0, got {dataclasses.asdict(self)}")


@dataclasses.dataclass(frozen=True)
class Targets:
    """Observed series on a window: cases and deaths [T, R] per day, unemployment [M, R] (%) per month.

    Rows follow `window.dates` and `months`; columns follow `regions` (borough names). A month of `window.months`
    without an observation is left out of `months`.
    """

    window: DateWindow
    regions: tuple[str, ...]
    cases: Tensor  # [T, R]
    deaths: Tensor  # [T, R]
    months: tuple[dt.date, ...]
    unemployment: Tensor  # [M, R], %

    def __post_init__(self) -> None:
        t, r = self.window.days, len(self.regions)
        for name in ("cases", "deaths"):
            value = getattr(self, name)
            if value.shape != (t, r):
                raise ValueError(f"{name} must be [days, regions] = [{t}, {r}] for window {self.window}, got "
                                 f"{list(value.shape)}")
        if self.unemployment.shape != (len(self.months), r):
            raise ValueError(f"unemployment must be [months, regions] = [{len(self.months)}, {r}], got "
                             f"{list(self.unemployment.shape)}")
        if any(m not in self.window.months for m in self.months):
            raise ValueError(f"months {list(self.months)} must lie in the window {self.window}")

    def on(self, window: DateWindow) -> Targets:
        """The same series restricted to a sub-window."""
        dates = self.window.dates
        if window.start < dates[0] or window.end > dates[-1]:
            raise ValueError(f"window {window} is not inside the targets' window {self.window}")
        first = dates.index(window.start)
        rows = slice(first, first + window.days)
        keep = [k for k, m in enumerate(self.months) if m in window.months]
        return Targets(window, self.regions, self.cases[rows], self.deaths[rows],
                       tuple(self.months[k] for k in keep), self.unemployment[keep])


def load_targets(window: DateWindow, *, data_dir: str | os.PathLike[str] | None = None) -> Targets:
    """DOHMH daily cases and deaths and NYS DOL monthly unemployment per borough, over `window`.

    Raises ValueError when DOHMH does not cover every day of the window (its copy runs 2020-02-29 to 2021-06-30).
    """
    daily = dohmh_daily(data_dir, by_borough=True)
    daily = daily.assign(date=pd.to_datetime(daily["date"]).dt.date, borough=daily["borough"].astype(str))
    covered = set(daily["date"])
    missing = [d for d in window.dates if d not in covered]
    if missing:
        raise ValueError(f"DOHMH has no counts for {len(missing)} day(s) of {window} (first {missing[0]}); its "
                         f"series runs {min(covered)} to {max(covered)}: pick a window inside it")
    daily = daily[daily["date"].between(window.start, window.end)]
    wide = {m: daily.pivot(index="date", columns="borough", values=m).reindex(index=window.dates, columns=BOROUGHS)
            for m in ("cases", "deaths")}
    rates = nysdol_unemployment(data_dir)
    rates = rates.assign(month=pd.to_datetime(rates["month"]).dt.date, borough=rates["borough"].astype(str))
    rates = rates[rates["month"].isin(window.months)]
    monthly = rates.pivot(index="month", columns="borough", values="unemployment_rate").reindex(columns=BOROUGHS)
    monthly = monthly.dropna().sort_index()
    return Targets(window, tuple(BOROUGHS), *(torch.tensor(wide[m].to_numpy("float64")) for m in ("cases", "deaths")),
                   tuple(monthly.index), torch.tensor(monthly.to_numpy("float64")))


def region_order(region_labels: Sequence[str], targets: Targets) -> list[int]:
    """For each target region, the index of the model region of that name, or of that borough (model labels in any
    borough spelling)."""
    names = list(region_labels)
    if not all(r in names for r in targets.regions):
        names = list(borough_from(pd.Series(names, dtype=str), source="region_labels"))
    missing = [r for r in targets.regions if r not in names]
    if missing:
        raise ValueError(f"the model has no region(s) {missing} of the targets (its regions: {names})")
    return [names.index(r) for r in targets.regions]


def moving_average(series: Tensor, days: int = SMOOTHING_DAYS) -> Tensor:
    """Trailing mean over the last `days` days (fewer at the start), along dim 0 of [T, R]; differentiable."""
    x = series.T.unsqueeze(1)  # [R, 1, T]
    sums = F.conv1d(F.pad(x, (days - 1, 0)), x.new_ones(1, 1, days)).squeeze(1).T  # [T, R]
    counts = torch.clamp(torch.arange(1, series.shape[0] + 1, device=series.device), max=days).to(series.dtype)
    return sums / counts.unsqueeze(-1)


def log_series_loss(simulated: Tensor, observed: Tensor) -> Tensor:
    """Mean squared difference of log(1 + 7-day mean), over the variance of the observed one (module formula)."""
    obs = torch.log1p(moving_average(observed.to(simulated.dtype)))
    sim = torch.log1p(moving_average(simulated.clamp(min=0)))
    return ((sim - obs) ** 2).mean() / obs.var().clamp(min=1e-6)


def rate_loss(simulated: Tensor, observed: Tensor) -> Tensor:
    """Mean squared difference of rates over the variance of the observed rates (module formula)."""
    observed = observed.to(simulated.dtype)
    return ((simulated - observed) ** 2).mean() / observed.var().clamp(min=1e-2)
