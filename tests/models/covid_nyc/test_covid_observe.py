"""Observation model: delay convolution, ascertainment, gradients, alignment with DOHMH / NYS DOL, bad input."""

import datetime as dt

import pandas as pd
import pytest
import torch
from torch.func import functional_call

from populace.core import AgentTable, Trajectory, World
from populace.data import BOROUGHS
from populace.models.covid_nyc.disease import Stage
from populace.models.covid_nyc.observe import (
    Observation,
    compare_daily,
    compare_unemployment,
    daily_observables,
    daily_tests_on,
    delay,
    delay_pmf,
    monthly_unemployment_rate,
    series_dates,
    series_from_trajectory,
)

START = dt.date(2020, 3, 1)


def dates(n: int, start: dt.date = START) -> list[dt.date]:
    return [start + dt.timedelta(days=t) for t in range(n)]


def test_delay_preserves_totals_up_to_the_truncated_tail():
    # sum_t out[t] = sum_t x[t] P(delay <= T - 1 - t): only counts delayed past the last day are lost.
    x = torch.rand(60, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pmf = delay_pmf(4.0, 3.0, 21)
    out = delay(x, pmf)
    cdf = pmf.cumsum(0)
    kept = cdf[(59 - torch.arange(60)).clamp(max=21)]  # [T]
    torch.testing.assert_close(out.sum(0), (x * kept.unsqueeze(-1)).sum(0))
    assert float(pmf.sum()) == pytest.approx(1.0)


def test_delay_shifts_the_mean_by_the_delay_mean():
    x = torch.zeros(80, dtype=torch.float64)
    x[10], x[20] = 3.0, 1.0  # mean day 12.5
    pmf = delay_pmf(4.0, 3.0, 21)
    out = delay(x, pmf)
    pmf_mean = float((pmf * torch.arange(22)).sum())
    assert float((out * torch.arange(80)).sum() / out.sum()) == pytest.approx(12.5 + pmf_mean, abs=1e-9)
    assert pmf_mean == pytest.approx(4.0, abs=0.1)  # whole-day discretisation of a gamma of mean 4
    torch.testing.assert_close(delay(x, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))[12], x[10])


def test_ascertainment_scales_reported_cases_exactly():
    onsets = torch.rand(30, 5, generator=torch.Generator().manual_seed(1))
    base = delay(onsets, Observation().case_delay)
    for a in (0.05, 0.3):
        reported = Observation(ascertainment=a).reported_cases(onsets)
        torch.testing.assert_close(reported, a * base)
    # asymptomatic onsets count with weight m
    obs = Observation(ascertainment=0.2, asymptomatic_ascertainment=0.25, case_delay=[1.0])
    torch.testing.assert_close(obs.reported_cases(onsets, 4 * onsets), 0.2 * 2 * onsets)


def test_ascertainment_follows_tests():
    obs = Observation(ascertainment=0.1, tests_slope=1.0, reference_tests_per_day=1000.0)
    a = obs.ascertainment(3, torch.tensor([1000.0, 10_000.0, 0.0]))
    odds = torch.tensor([1 / 9, 10 / 9, 1 / 9 / 1000])  # odds scale with tests; 0 tests count as 1
    torch.testing.assert_close(a.detach(), odds / (1 + odds))


def test_gradients_of_reported_cases_match_finite_differences():
    obs = Observation(case_delay=delay_pmf(3.0, 2.0, 10)).double()
    gen = torch.Generator().manual_seed(2)
    onsets = torch.rand(25, 5, generator=gen, dtype=torch.float64)
    asymptomatic = torch.rand(25, 5, generator=gen, dtype=torch.float64)
    tests = torch.logspace(1, 5, 25, dtype=torch.float64)

    class Reported(torch.nn.Module):  # forward = obs.reported_cases, so functional_call can swap its parameters
        def __init__(self):
            super().__init__()
            self.obs = obs

        def forward(self, *series):
            return self.obs.reported_cases(*series)

    def reported(logit, slope):
        params = {"obs.parametrizations.reference_ascertainment.original": logit, "obs.tests_slope": slope}
        return functional_call(Reported(), params, (onsets, asymptomatic, tests))

    logit = torch.tensor(-1.5, dtype=torch.float64, requires_grad=True)
    slope = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(reported, (logit, slope))
    onsets.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda y: obs.reported_cases(y, asymptomatic, tests), (onsets,))


def test_forward_reads_the_trajectory_and_deaths_follow_their_delay():
    traj = Trajectory(start_date=START)
    for step in range(4):
        traj.record(step, {"new_infections": torch.full((2,), 10.0 * step), "new_deaths": torch.full((2,), float(step)),
                           "new_symptomatic_onsets": torch.full((2,), 2.0 * step),
                           "new_asymptomatic_onsets": torch.zeros(2)})
    obs = Observation(ascertainment=0.5, case_delay=[1.0], death_delay=[0.0, 1.0])
    series = obs(traj)
    assert series["infections"][:, 0].tolist() == [10.0, 20.0, 30.0]
    assert series["reported_cases"][:, 1].tolist() == pytest.approx([1.0, 2.0, 3.0])
    assert series["deaths"][:, 0].tolist() == [0.0, 1.0, 2.0]
    assert series_dates(traj) == dates(3)  # the record of step s counts the events of day s - 1


def test_daily_observables_count_todays_onsets_per_region():
    stage = torch.tensor([Stage.I, Stage.A, Stage.I, Stage.E, Stage.I], dtype=torch.uint8)
    table = AgentTable({"region": torch.tensor([0, 0, 1, 1, 1], dtype=torch.uint8), "stage": stage,
                        "onset_day": torch.tensor([4, 4, 4, -1, 2], dtype=torch.int16),
                        "is_asymptomatic": torch.tensor([False, True, False, False, False])})
    fast = daily_observables(World.of(table, step=5), 2)
    assert fast["new_symptomatic_onsets"].tolist() == [1, 1]
    assert fast["new_asymptomatic_onsets"].tolist() == [1, 0]
    smooth_table = table.with_columns(stage=torch.nn.functional.one_hot(stage.long(), 6).float())
    smooth = daily_observables(World.of(smooth_table, step=5, differentiable=True), 2)
    assert {k: v.tolist() for k, v in smooth.items()} == {k: v.tolist() for k, v in fast.items()}
    assert daily_observables(World.of(table.with_columns(onset_day=torch.full((5,), -1, dtype=torch.int16))),
                             2)["new_symptomatic_onsets"].tolist() == [0, 0]  # step 0: no onsets yet


def test_monthly_unemployment_rate_on_a_hand_made_case():
    days = dates(3, dt.date(2020, 3, 30))  # Mar 30, Mar 31, Apr 1
    force = torch.tensor([[100.0, 50.0], [100.0, 50.0], [100.0, 50.0]])
    unemployed = torch.tensor([[5.0, 1.0], [15.0, 3.0], [20.0, 5.0]])
    months, rate = monthly_unemployment_rate(force, unemployed, days)
    assert months == [dt.date(2020, 3, 1), dt.date(2020, 4, 1)]
    torch.testing.assert_close(rate, torch.tensor([[10.0, 4.0], [20.0, 10.0]]))


def test_compare_daily_aligns_dates_and_regions_on_a_hand_made_table():
    observed = pd.DataFrame({"date": pd.to_datetime(["2020-03-02", "2020-03-02", "2020-03-05"]),
                             "borough": ["Bronx", "Queens", "Bronx"], "cases": [7, 8, 9], "deaths": [0, 1, 2]})
    simulated = torch.arange(6.0).reshape(3, 2)  # Mar 1..3 x (Bronx, Queens)
    table = compare_daily(simulated, dates(3), ["BX", "Queens County"], scale=0.5, observed=observed)
    assert list(table.columns) == ["date", "region", "simulated", "observed"]
    assert table["date"].dt.date.tolist() == [dt.date(2020, 3, 2)] * 2
    assert table["region"].tolist() == ["Bronx", "Queens"]
    assert table["simulated"].tolist() == [4.0, 6.0]
    assert table["observed"].tolist() == [7.0, 8.0]


@pytest.mark.needs_data
def test_compare_daily_with_the_dohmh_table():
    days = dates(10)
    table = compare_daily(torch.ones(10, 5), days, BOROUGHS, measure="deaths")
    assert len(table) == 50
    assert sorted(set(table["date"].dt.date)) == days
    assert sorted(set(table["region"])) == list(BOROUGHS)
    from populace.data import dohmh_daily

    real = dohmh_daily(by_borough=True)
    row = real[(real["date"] == "2020-03-10") & (real["borough"] == "Brooklyn")]
    got = table[(table["date"] == "2020-03-10") & (table["region"] == "Brooklyn")]
    assert got["observed"].tolist() == row["deaths"].astype(float).tolist()


@pytest.mark.needs_data
def test_compare_unemployment_with_the_nysdol_tables():
    months = [dt.date(2020, m, 1) for m in (2, 3, 4)]
    table = compare_unemployment(torch.full((3, 5), 4.0), months, BOROUGHS)
    assert len(table) == 15
    assert sorted(set(table["date"].dt.date)) == months
    feb_bronx = table[(table["date"] == "2020-02-01") & (table["region"] == "Bronx")]["observed"]
    assert feb_bronx.tolist() == pytest.approx([5.7])


@pytest.mark.needs_data
def test_tests_per_day_from_dohmh_fill_the_days_before_testing():
    tests = daily_tests_on(dates(5))  # the table starts on 2020-03-03 with 15 tests
    assert tests.tolist()[:3] == [15.0, 15.0, 15.0]
    assert tests.shape == (5,)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: Observation(ascertainment=1.0), ValueError, "ascertainment must be in"),
    (lambda: Observation(case_delay=[-1.0, 2.0]), ValueError, "case_delay must be a non-empty vector"),
    (lambda: Observation(death_delay=[]), ValueError, "death_delay must be a non-empty vector"),
    (lambda: Observation(asymptomatic_ascertainment=2.0), ValueError, "asymptomatic_ascertainment must be in"),
    (lambda: delay_pmf(0.0, 1.0, 5), ValueError, "mean_days and sd_days must be finite and > 0"),
    (lambda: delay(torch.ones(3, 2, 2), torch.ones(2)), ValueError, r"series must be \[T\]"),
    (lambda: Observation().reported_cases(torch.ones(4, 2), torch.ones(4, 3)), ValueError, "must match"),
    (lambda: Observation().ascertainment(4, torch.ones(3)), ValueError, "one value per day"),
    (lambda: compare_daily(torch.ones(2, 1), dates(2), ["Bronx"], measure="hospital", observed=pd.DataFrame()),
     ValueError, "measure must be one of"),
    (lambda: compare_daily(torch.ones(2, 1), dates(2), ["Atlantis"], observed=pd.DataFrame()), ValueError,
     "unknown borough"),
    (lambda: compare_daily(torch.ones(2, 2), dates(2), ["Bronx"], observed=pd.DataFrame()), ValueError,
     r"simulated must be \[T, R\]"),
    (lambda: compare_unemployment(torch.ones(1, 1), [dt.date(2020, 3, 2)], ["Bronx"]), ValueError,
     "months must be first days"),
    (lambda: monthly_unemployment_rate(torch.ones(2, 1), torch.ones(3, 1), dates(2)), ValueError,
     "labour_force and unemployed must both be"),
])
def test_bad_inputs_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_trajectories_not_recorded_daily_are_refused():
    traj = Trajectory(start_date=START)
    for step in (0, 2):
        traj.record(step, {"new_deaths": torch.zeros(1)})
    with pytest.raises(ValueError, match="needs a record every day"):
        series_from_trajectory(traj, ["new_deaths"])
    with pytest.raises(ValueError, match="has no start_date"):
        series_dates(Trajectory())
