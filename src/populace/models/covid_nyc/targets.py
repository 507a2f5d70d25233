r"""COVID-NYC's calibration targets and loss: DOHMH cases and deaths, NYS DOL unemployment, per borough.

The targets (`populace.calibrate.Targets`) hold three series over a window of dates, columns the boroughs:
`cases` and `deaths` [T, R] per day (DOHMH, by date of diagnosis and of death) and `unemployment` [M, R] per month
(NYS DOL, %). `load_targets` reads them from the data directory; `covid_targets` builds them from any tensors
(synthetic data made by the simulator itself, another city's series).

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

from populace.calibrate.targets import DateWindow, Series, Targets
from populace.data.boroughs import BOROUGHS, borough_from
from populace.data.dohmh import dohmh_daily
from populace.data.nysdol import nysdol_unemployment

SMOOTHING_DAYS = 7
DAILY, MONTHLY = ("cases", "deaths"), "unemployment"


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


def covid_targets(window: DateWindow, regions: Sequence[str], cases: Tensor, deaths: Tensor,
                  months: Sequence[dt.date], unemployment: Tensor) -> Targets:
    """Targets of cases and deaths [T, R] per day of `window` and unemployment [M, R] (%) on `months` (first days;
    a month of `window.months` without an observation is left out), columns `regions`."""
    t, r = window.days, len(regions)
    for name, value in (("cases", cases), ("deaths", deaths)):
        if value.shape != (t, r):
            raise ValueError(f"{name} must be [days, regions] = [{t}, {r}] for window {window}, got "
                             f"{list(value.shape)}")
    if unemployment.shape != (len(months), r):
        raise ValueError(f"unemployment must be [months, regions] = [{len(months)}, {r}], got "
                         f"{list(unemployment.shape)}")
    if any(m not in window.months for m in months):
        raise ValueError(f"months {list(months)} must lie in the window {window}")
    return Targets(window, {"cases": Series.daily(window.start, cases), "deaths": Series.daily(window.start, deaths),
                            MONTHLY: Series.monthly(months, unemployment)}, columns=tuple(regions))


def months_of(targets: Targets) -> tuple[dt.date, ...]:
    """The months (first days) with an unemployment observation."""
    return targets[MONTHLY].starts


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
            for m in DAILY}
    rates = nysdol_unemployment(data_dir)
    rates = rates.assign(month=pd.to_datetime(rates["month"]).dt.date, borough=rates["borough"].astype(str))
    rates = rates[rates["month"].isin(window.months)]
    monthly = rates.pivot(index="month", columns="borough", values="unemployment_rate").reindex(columns=BOROUGHS)
    monthly = monthly.dropna().sort_index()
    return covid_targets(window, tuple(BOROUGHS), *(torch.tensor(wide[m].to_numpy("float64")) for m in DAILY),
                         tuple(monthly.index), torch.tensor(monthly.to_numpy("float64")))


def region_order(region_labels: Sequence[str], targets: Targets) -> list[int]:
    """For each target region (column), the index of the model region of that name, or of that borough (model
    labels in any borough spelling)."""
    names = list(region_labels)
    if not all(r in names for r in targets.columns):
        names = list(borough_from(pd.Series(names, dtype=str), source="region_labels"))
    missing = [r for r in targets.columns if r not in names]
    if missing:
        raise ValueError(f"the model has no region(s) {missing} of the targets (its regions: {names})")
    return [names.index(r) for r in targets.columns]


def moving_average(series: Tensor, days: int = SMOOTHING_DAYS) -> Tensor:
    """Trailing mean over the last `days` days (fewer at the start), along dim 0 of [T, R]; differentiable."""
    x = series.T.unsqueeze(1)  # [R, 1, T]
    sums = F.conv1d(F.pad(x, (days - 1, 0)), x.new_ones(1, 1, days)).squeeze(1).T  # [T, R]
    counts = torch.clamp(torch.arange(1, series.shape[0] + 1, device=series.device), max=days).to(series.dtype)
    return sums / counts.unsqueeze(-1)


def compared(series: dict[str, Tensor]) -> dict[str, Tensor]:
    """Series as the evaluation compares them: 7-day means of daily cases and deaths, monthly unemployment as is."""
    return {"cases": moving_average(series["cases"]), "deaths": moving_average(series["deaths"]),
            MONTHLY: series[MONTHLY]}


def observed_smoothed(targets: Targets) -> dict[str, Tensor]:
    """The observed series as compared (`compared`)."""
    return compared({name: s.values for name, s in targets.items()})


def log_series_loss(simulated: Tensor, observed: Tensor) -> Tensor:
    """Mean squared difference of log(1 + 7-day mean), over the variance of the observed one (module formula)."""
    obs = torch.log1p(moving_average(observed.to(simulated.dtype)))
    sim = torch.log1p(moving_average(simulated.clamp(min=0)))
    return ((sim - obs) ** 2).mean() / obs.var().clamp(min=1e-6)


def rate_loss(simulated: Tensor, observed: Tensor) -> Tensor:
    """Mean squared difference of rates over the variance of the observed rates (module formula)."""
    observed = observed.to(simulated.dtype)
    return ((simulated - observed) ** 2).mean() / observed.var().clamp(min=1e-2)
