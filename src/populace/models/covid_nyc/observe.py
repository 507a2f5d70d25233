r"""The observation model: from simulated infections to what DOHMH and NYS DOL report, and the comparison with them.

`Observation` is a plain `nn.Module` applied to a finished run's series (it does not change the world):

    reported cases   c_r(t) = sum_k d_k a(t - k) (y_r(t - k) + m z_r(t - k)),
    reported deaths  x_r(t) = sum_k b_k D_r(t - k),
    ascertainment    a(t)   = sigmoid(alpha + gamma log(T(t) / T_ref)),

y_r(t), z_r(t): symptomatic and asymptomatic onsets in region r on day t; m: ascertainment of an asymptomatic
infection relative to a symptomatic one; d: the delay from onset to diagnosis (days 0..K-1, a pmf); D_r(t): deaths
on day t; b: the delay from death to its report; T(t): tests per day (`dohmh_tests()`, citywide), T_ref a reference
level; sigmoid(alpha) (`reference_ascertainment`, the ascertainment at T_ref tests a day, a `UnitInterval` natural
parameter whose unconstrained value is alpha) and gamma (`tests_slope`) are calibrated. Without a test series
a(t) = sigmoid(alpha). Everything is differentiable in the series and the parameters; the sums are truncated at the
series' start (counts delayed past its end are lost).

DOHMH counts cases by date of diagnosis and deaths by date of death, so the default death delay is none (b = [1]):
set one to compare with reports as they stood on a given day. Monthly unemployment (`monthly_unemployment_rate`)
sums unemployed and labour force over the days of each calendar month; NYS DOL's rates are monthly estimates too.

The model records the series each day with `daily_observables(world, n_regions)` (onsets, by region); by the
trajectory's convention (`populace.core.Trajectory`) the record after day d (world step d + 1) holds day d's flows
and is dated day d, so `series_from_trajectory` keeps every record but the first (the world before day 0).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
from collections.abc import Sequence

import pandas as pd
import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's own convention)
from torch import Tensor, nn

from populace.core.ops import flatnonzero, group_total
from populace.core.parameters import UnitInterval, natural_parameter, renamed_parameter, unconstrained
from populace.core.trajectory import Trajectory
from populace.core.world import World
from populace.data.boroughs import borough_from
from populace.data.dohmh import dohmh_daily, dohmh_tests
from populace.data.nysdol import nysdol_unemployment
from populace.models.covid_nyc.disease import STAGES, Stage

ONSET_OBSERVABLES = ("new_symptomatic_onsets", "new_asymptomatic_onsets")
"""Names under which `daily_observables` records the day's symptom onsets and asymptomatic onsets, per region."""
DAILY_MEASURES = ("cases", "deaths")
EXPECTED_DEATHS = "expected_new_deaths"
"""The observable of the expected deaths of a day given the infections (`disease.expected_deaths_by_region`)."""


def daily_observables(world: World, n_regions: int) -> dict[str, Tensor]:
    """Per region [R], the agents whose incubation ended on the day just simulated (the period step - 1 that the
    record closes), with or without symptoms.

    Call it from a model's `observe` (after the runner's `advance`). Differentiable mode: each agent counts with its
    float stage mass (I or A), so gradients reach the infection draws.
    """
    a = world.agents
    rows = flatnonzero((a.onset_day == world.step - 1) & (a.onset_day >= 0))  # [M]: only the day's onsets
    stage, asymptomatic, region = a.stage[rows], a.is_asymptomatic[rows], a.region[rows]
    symptomatic = group_total(STAGES.member(stage, Stage.I) * ~asymptomatic, region, n_regions)
    asymptomatic = group_total(STAGES.member(stage, Stage.A) * asymptomatic, region, n_regions)
    return {ONSET_OBSERVABLES[0]: symptomatic, ONSET_OBSERVABLES[1]: asymptomatic}


def delay_pmf(mean_days: float, sd_days: float, max_days: int) -> Tensor:
    """A gamma(mean, sd) delay discretised to whole days 0..max_days: p_k = F(k + 1/2) - F(k - 1/2) (p_0 = F(1/2)),
    renormalised to sum 1 over the window; float64 [max_days + 1]."""
    if not (mean_days > 0 and sd_days > 0 and math.isfinite(mean_days) and math.isfinite(sd_days)):
        raise ValueError(f"mean_days and sd_days must be finite and > 0, got {mean_days} and {sd_days}")
    if not isinstance(max_days, int) or max_days < 1:
        raise ValueError(f"max_days must be an int >= 1, got {max_days!r}")
    shape, scale = (mean_days / sd_days) ** 2, sd_days**2 / mean_days
    edges = torch.arange(max_days + 2, dtype=torch.float64) - 0.5
    cdf = torch.special.gammainc(torch.tensor(shape, dtype=torch.float64), edges.clamp(min=0) / scale)
    pmf = cdf.diff()
    return pmf / pmf.sum()


def delay(series: Tensor, pmf: Tensor) -> Tensor:
    """out[t] = sum_{k=0}^{min(t, K-1)} pmf[k] series[t - k]: a causal discrete convolution over days.

    Shapes: series [T] or [T, R] (days first), pmf [K]; returns series' shape. Differentiable in both.
    """
    if pmf.dim() != 1 or pmf.numel() == 0:
        raise ValueError(f"a delay pmf must be a non-empty vector [K], got shape {list(pmf.shape)}")
    if series.dim() not in (1, 2):
        raise ValueError(f"series must be [T] (days) or [T, R] (days x regions), got shape {list(series.shape)}")
    x = series.reshape(series.shape[0], -1).T.unsqueeze(1)  # [R, 1, T]
    x = F.pad(x, (pmf.numel() - 1, 0))  # [R, 1, T + K - 1]
    out = F.conv1d(x, pmf.to(x.dtype).flip(0).view(1, 1, -1))  # [R, 1, T]; conv1d correlates, so flip
    return out.squeeze(1).T.reshape(series.shape)


def _check_pmf(name: str, values: Sequence[float] | Tensor) -> Tensor:
    pmf = torch.as_tensor(values, dtype=torch.float64)
    valid = pmf.dim() == 1 and pmf.numel() > 0 and bool(((pmf >= 0) & torch.isfinite(pmf)).all())
    if not valid or float(pmf.sum()) <= 0:
        raise ValueError(f"{name} must be a non-empty vector of finite values >= 0 with a positive sum (a delay pmf "
                         f"over days 0, 1, ...), got {pmf.tolist()}")
    return pmf / pmf.sum()


class Observation(nn.Module):
    """Reported cases and deaths per region per day from simulated onsets and deaths (formulas in the module doc).

    Shapes: onsets and deaths [T, R] (days x regions), tests [T]; outputs [T, R].

    Attributes:
        reference_ascertainment: sigmoid(alpha), the probability that a symptomatic infection is diagnosed at
            `reference_tests_per_day` (natural parameter, `UnitInterval`: trained as alpha, the key
            `parametrizations.reference_ascertainment.original`; draws naming it by its former key
            `logit_ascertainment` still load). Default 0.1: about 1 in 11 infections in New York State had been
            diagnosed by the end of April 2020 (Rosenberg ES et al. 2020, Annals of Epidemiology 48:23-29, serosurvey).
        tests_slope: gamma, change of that log-odds per unit log tests (nn.Parameter). Default 1.0, an assumption.
        case_delay: buffer, onset-to-diagnosis pmf over days. Default `delay_pmf(4, 3, 21)`, an assumption (no
            estimate for NYC in the data directory).
        death_delay: buffer, death-to-report pmf; default [1.0] (DOHMH dates deaths by the day of death).
        asymptomatic_ascertainment: m in [0, 1]; default 0.25, an assumption.
        reference_tests_per_day: T_ref, default 10,000 (about NYC's daily tests in April 2020).
    """

    def __init__(self, *, ascertainment: float = 0.1, tests_slope: float = 1.0,
                 reference_tests_per_day: float = 10_000.0, asymptomatic_ascertainment: float = 0.25,
                 case_delay: Sequence[float] | Tensor | None = None, death_delay: Sequence[float] | Tensor = (1.0,)):
        super().__init__()
        if not 0 < ascertainment < 1:
            raise ValueError(f"ascertainment must be in (0, 1) (it is stored as a logit), got {ascertainment}")
        if not math.isfinite(tests_slope):
            raise ValueError(f"tests_slope must be finite, got {tests_slope}")
        if not (reference_tests_per_day > 0 and math.isfinite(reference_tests_per_day)):
            raise ValueError(f"reference_tests_per_day must be finite and > 0, got {reference_tests_per_day}")
        if not 0 <= asymptomatic_ascertainment <= 1:
            raise ValueError(f"asymptomatic_ascertainment must be in [0, 1], got {asymptomatic_ascertainment}")
        natural_parameter(self, "reference_ascertainment", ascertainment, UnitInterval())
        renamed_parameter(self, "logit_ascertainment", "parametrizations.reference_ascertainment.original")
        self.tests_slope = nn.Parameter(torch.tensor(float(tests_slope)))
        self.register_buffer("case_delay", _check_pmf("case_delay", delay_pmf(4.0, 3.0, 21) if case_delay is None
                                                      else case_delay).float())
        self.register_buffer("death_delay", _check_pmf("death_delay", death_delay).float())
        self.reference_tests_per_day = float(reference_tests_per_day)
        self.asymptomatic_ascertainment = float(asymptomatic_ascertainment)

    def extra_repr(self) -> str:
        return (f"ascertainment={float(self.reference_ascertainment):.4g}, "
                f"tests_slope={float(self.tests_slope):.4g}, reference_tests_per_day={self.reference_tests_per_day:g}, "
                f"asymptomatic_ascertainment={self.asymptomatic_ascertainment}, "
                f"case_delay_days={self.case_delay.numel()}, death_delay_days={self.death_delay.numel()}")

    def ascertainment(self, days: int, tests_per_day: Tensor | None = None) -> Tensor:
        """a(t) for t = 0..days-1, [T]; tests below 1 a day count as 1."""
        if tests_per_day is None:
            return self.reference_ascertainment.expand(days)
        if tests_per_day.shape != (days,):
            raise ValueError(f"tests_per_day must have one value per day, shape [{days}], got "
                             f"{list(tests_per_day.shape)}")
        log_ratio = torch.log(tests_per_day.to(self.tests_slope.dtype).clamp(min=1) / self.reference_tests_per_day)
        alpha = unconstrained(self, "reference_ascertainment")
        return torch.sigmoid(alpha + self.tests_slope * log_ratio)

    def reported_cases(self, symptomatic_onsets: Tensor, asymptomatic_onsets: Tensor | None = None,
                       tests_per_day: Tensor | None = None) -> Tensor:
        """c(t) = sum_k d_k a(t - k) (y(t - k) + m z(t - k)); [T, R] from [T, R] onsets."""
        if symptomatic_onsets.dim() != 2:
            raise ValueError("symptomatic_onsets must be [T, R] (days x regions), got "
                             f"{list(symptomatic_onsets.shape)}")
        detectable = symptomatic_onsets
        if asymptomatic_onsets is not None:
            if asymptomatic_onsets.shape != symptomatic_onsets.shape:
                raise ValueError(f"asymptomatic_onsets has shape {list(asymptomatic_onsets.shape)}, symptomatic_onsets "
                                 f"{list(symptomatic_onsets.shape)}; they must match")
            detectable = detectable + self.asymptomatic_ascertainment * asymptomatic_onsets
        a = self.ascertainment(symptomatic_onsets.shape[0], tests_per_day)  # [T]
        return delay(a.unsqueeze(-1) * detectable, self.case_delay)

    def reported_deaths(self, deaths: Tensor) -> Tensor:
        """x(t) = sum_k b_k D(t - k); [T, R]."""
        return delay(deaths, self.death_delay)

    def forward(self, trajectory: Trajectory, tests_per_day: Tensor | None = None) -> dict[str, Tensor]:
        """`infections`, `reported_cases` and `deaths` (reported, the sampled deaths), [T, R] each, from a run's daily
        series, and `expected_deaths` (reported, from the expected deaths given the infections) when the run
        recorded `expected_new_deaths`.

        The trajectory must hold `new_infections`, `new_deaths` and the `ONSET_OBSERVABLES`; row t is day
        `series_dates(trajectory)[t]`.
        """
        names = ["new_infections", "new_deaths", *ONSET_OBSERVABLES]
        expected = EXPECTED_DEATHS in trajectory
        series = series_from_trajectory(trajectory, [*names, EXPECTED_DEATHS] if expected else names)
        out = {"infections": series["new_infections"],
               "reported_cases": self.reported_cases(series[ONSET_OBSERVABLES[0]], series[ONSET_OBSERVABLES[1]],
                                                     tests_per_day),
               "deaths": self.reported_deaths(series["new_deaths"])}
        if expected:
            out["expected_deaths"] = self.reported_deaths(series[EXPECTED_DEATHS])
        return out


def series_from_trajectory(trajectory: Trajectory, names: Sequence[str]) -> dict[str, Tensor]:
    """Daily per-region counts [T, R] recorded by a run (every day), without the first record (the world the run
    starts from): row t is day t of the run, `series_dates(trajectory)[t]`, its flows during the day and its stocks
    at the day's end. Raises ValueError when the run was not recorded every day."""
    steps = trajectory.steps
    if len(steps) < 2 or any(b - a != 1 for a, b in itertools.pairwise(steps)):
        raise ValueError(f"the observation model needs a record every day (record_every=1) and at least one day, got "
                         f"steps {steps[:5]}{'...' if len(steps) > 5 else ''}")
    return {name: trajectory[name][1:] for name in names}


def series_dates(trajectory: Trajectory) -> list[dt.date]:
    """Calendar date of each row of `series_from_trajectory` (needs the run's start date)."""
    if trajectory.start_date is None:
        raise ValueError("the trajectory has no start_date; build the world with World(..., start_date=...)")
    return trajectory.dates[1:]


def daily_tests_on(dates: Sequence[dt.date], tests: pd.DataFrame | None = None, *,
                   data_dir: str | os.PathLike[str] | None = None) -> Tensor:
    """DOHMH tests per day on these dates, float32 [T] (from `dohmh_tests()` unless `tests` is given).

    Dates before the first day of the table take its first value, dates after its last day its last value.
    """
    tests = dohmh_tests(data_dir) if tests is None else tests
    for column in ("date", "tests"):
        if column not in tests:
            raise KeyError(f"tests table has no column {column!r} (it has: {', '.join(map(str, tests.columns))})")
    by_date = tests.set_index(pd.to_datetime(tests["date"]))["tests"].sort_index()
    wanted = pd.DatetimeIndex(pd.to_datetime(list(dates)))
    values = by_date.reindex(by_date.index.union(wanted)).ffill().bfill().reindex(wanted)
    return torch.tensor(values.to_numpy(dtype="float64"), dtype=torch.float32)


def monthly_unemployment_rate(labour_force: Tensor, unemployed: Tensor,
                              dates: Sequence[dt.date]) -> tuple[list[dt.date], Tensor]:
    """(first day of each month, 100 * sum of unemployed / sum of labour force over the month's days [M, R], %).

    Inputs are daily [T, R] counts (`populace.models.covid_nyc.labour.labour_counts_by_region`), row t on dates[t].
    """
    if labour_force.shape != unemployed.shape or labour_force.dim() != 2 or labour_force.shape[0] != len(dates):
        raise ValueError(f"labour_force and unemployed must both be [T, R] with T = len(dates) = {len(dates)}, got "
                         f"{list(labour_force.shape)} and {list(unemployed.shape)}")
    months = sorted({d.replace(day=1) for d in dates})
    index = torch.tensor([months.index(d.replace(day=1)) for d in dates], device=labour_force.device)
    force = labour_force.new_zeros(len(months), labour_force.shape[1]).index_add(0, index, labour_force)
    jobless = unemployed.new_zeros(len(months), unemployed.shape[1]).index_add(0, index, unemployed)
    return months, 100 * jobless / force


def _regions(region_labels: Sequence[str]) -> list[str]:
    return list(borough_from(pd.Series(list(region_labels), dtype=str), source="region_labels"))


def _tidy(simulated: Tensor, dates: Sequence[dt.date], region_labels: Sequence[str]) -> pd.DataFrame:
    if simulated.dim() != 2 or simulated.shape != (len(dates), len(region_labels)):
        raise ValueError(f"simulated must be [T, R] = [{len(dates)}, {len(region_labels)}] (dates x region_labels), "
                         f"got {list(simulated.shape)}")
    values = simulated.detach().cpu().double().numpy()
    regions = _regions(region_labels)
    return pd.DataFrame({"date": pd.to_datetime([d for d in dates for _ in regions]),
                         "region": [r for _ in dates for r in regions], "simulated": values.reshape(-1)})


def compare_daily(simulated: Tensor, dates: Sequence[dt.date], region_labels: Sequence[str], *,
                  measure: str = "cases", scale: float = 1.0, observed: pd.DataFrame | None = None,
                  data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Simulated daily counts [T, R] next to DOHMH's `measure` per borough: columns date, region, simulated, observed.

    `simulated / scale` is compared (scale: the population's fraction of NYC), on the dates both cover, sorted by
    date then region. `observed` defaults to `dohmh_daily(by_borough=True)`; `region_labels` name the simulated
    regions in order (borough, county or DOHMH code spellings).
    """
    if measure not in DAILY_MEASURES:
        raise ValueError(f"measure must be one of {DAILY_MEASURES}, got {measure!r}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0 (the population's fraction of NYC), got {scale}")
    sim = _tidy(simulated, dates, region_labels)
    sim["simulated"] /= scale
    observed = dohmh_daily(data_dir, by_borough=True) if observed is None else observed
    obs = pd.DataFrame({"date": pd.to_datetime(observed["date"]), "region": observed["borough"].astype(str),
                        "observed": observed[measure].astype("float64")})
    table = sim.merge(obs, on=["date", "region"], how="inner")
    return table.sort_values(["date", "region"], ignore_index=True)


def compare_unemployment(simulated_percent: Tensor, months: Sequence[dt.date], region_labels: Sequence[str], *,
                         observed: pd.DataFrame | None = None,
                         data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Simulated monthly unemployment rates [M, R] (%) next to NYS DOL's: columns date (first of the month), region,
    simulated, observed (%), on the months both cover, sorted by date then region."""
    if any(m.day != 1 for m in months):
        raise ValueError("months must be first days of months (from monthly_unemployment_rate), got "
                         f"{list(months)[:3]}")
    sim = _tidy(simulated_percent, months, region_labels)
    observed = nysdol_unemployment(data_dir) if observed is None else observed
    obs = pd.DataFrame({"date": pd.to_datetime(observed["month"]), "region": observed["borough"].astype(str),
                        "observed": observed["unemployment_rate"].astype("float64")})
    table = sim.merge(obs, on=["date", "region"], how="inner")
    return table.sort_values(["date", "region"], ignore_index=True)
