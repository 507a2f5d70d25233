"""Targets, windows and losses (closed forms), held-out errors, the naive forecast, the real data, the command line."""

import datetime as dt

import pytest
import torch

from populace.calibrate import DateWindow, Targets, errors, split
from populace.cli import build_parser
from populace.data.dohmh import dohmh_daily
from populace.data.nysdol import nysdol_unemployment
from populace.models.covid_nyc.calibration_run import naive_forecast
from populace.models.covid_nyc.targets import (
    LossWeights,
    covid_targets,
    load_targets,
    log_series_loss,
    months_of,
    moving_average,
    rate_loss,
)

REGIONS = ("a", "b")


def targets_on(window: DateWindow, cases: torch.Tensor | None = None) -> Targets:
    t, months = window.days, tuple(window.months)
    cases = torch.arange(t * 2, dtype=torch.float64).reshape(t, 2) if cases is None else cases
    unemployment = torch.arange(len(months) * 2, dtype=torch.float64).reshape(len(months), 2) + 4
    return covid_targets(window, REGIONS, cases, cases / 10, months, unemployment)


def test_date_windows():
    w = DateWindow.parse("2020-03-01:2020-04-02")
    assert (w.start, w.end, w.days) == (dt.date(2020, 3, 1), dt.date(2020, 4, 2), 33)
    assert w.months == [dt.date(2020, 3, 1), dt.date(2020, 4, 1)]
    assert str(w) == "2020-03-01:2020-04-02"
    with pytest.raises(ValueError, match="a date window is START:END"):
        DateWindow.parse("2020-03-01")
    with pytest.raises(ValueError, match="must end on or after its start"):
        DateWindow.parse("2020-03-02:2020-03-01")


def test_moving_average_is_the_trailing_mean():
    x = torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0], [8.0], [9.0]])
    expected = [1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6]  # mean of the last min(t + 1, 7) values
    assert moving_average(x)[:, 0].tolist() == pytest.approx(expected)


def test_losses_are_zero_for_a_perfect_fit_and_one_minus_one_over_n_for_the_mean():
    obs = torch.rand(40, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 100
    assert float(log_series_loss(obs.clone(), obs)) == pytest.approx(0, abs=1e-12)
    # a constant at the mean of the transformed series: mean squared deviation / unbiased variance = (n - 1) / n
    transformed = torch.log1p(moving_average(obs))
    constant = torch.full_like(obs, float(torch.expm1(transformed.mean())))
    assert float(log_series_loss(constant, obs)) == pytest.approx(119 / 120, rel=1e-9)
    rates = torch.tensor([[5.0, 6.0], [9.0, 12.0]], dtype=torch.float64)
    assert float(rate_loss(rates.clone(), rates)) == 0
    assert float(rate_loss(rates + 1, rates)) == pytest.approx(1 / float(rates.var()))


def test_targets_check_shapes_and_windows():
    w = DateWindow.parse("2020-03-01:2020-03-10")
    with pytest.raises(ValueError, match=r"cases must be \[days, regions\] = \[10, 2\]"):
        targets_on(w, torch.zeros(9, 2, dtype=torch.float64))
    full = targets_on(DateWindow.parse("2020-03-01:2020-04-30"))
    train, test = split(full, DateWindow.parse("2020-03-01:2020-03-31"))
    assert (train.window.days, test.window.days) == (31, 30)
    assert torch.equal(test["cases"].values, full["cases"].values[31:])
    assert months_of(train) == (dt.date(2020, 3, 1),)
    assert months_of(test) == (dt.date(2020, 4, 1),)
    with pytest.raises(ValueError, match="must start with the targets"):
        split(full, DateWindow.parse("2020-03-02:2020-03-31"))
    with pytest.raises(ValueError, match="loss weights must be >= 0 and not all 0"):
        LossWeights(0, 0, 0)


def test_naive_forecast_and_errors():
    full = targets_on(DateWindow.parse("2020-03-01:2020-04-30"))
    train, test = split(full, DateWindow.parse("2020-03-01:2020-03-31"))
    naive = naive_forecast(train, test)
    last_week = train["cases"].values[-7:].mean(0)  # cases 2t + r: the last 7 days' mean
    assert torch.equal(naive["cases"], last_week.expand(30, -1))
    assert torch.equal(naive["unemployment"], train["unemployment"].values[-1:])
    sim = {"cases": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "deaths": torch.zeros(2, 2),
           "unemployment": torch.tensor([[5.0, 5.0]])}
    obs = {"cases": torch.tensor([[2.0, 2.0], [1.0, 4.0]]), "deaths": torch.zeros(2, 2),
           "unemployment": torch.tensor([[4.0, 8.0]])}
    table = errors("m", sim, obs, REGIONS).set_index(["series", "region"])
    assert table.loc[("cases", "all"), ["mae", "rmse", "nd"]].tolist() == pytest.approx([0.75, 5**0.5 / 2, 3 / 9])
    assert table.loc[("cases", "a"), "mae"] == pytest.approx(1.5)
    assert table.loc[("unemployment", "b"), "nd"] == pytest.approx(3 / 8)


@pytest.mark.needs_data
def test_load_targets_reads_dohmh_and_nysdol():
    w = DateWindow.parse("2020-03-01:2020-05-31")
    t = load_targets(w)
    assert t.columns == ("Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island")
    daily = dohmh_daily(by_borough=True)
    mask = (daily["date"] >= "2020-03-01") & (daily["date"] <= "2020-05-31")
    brooklyn = daily[mask & (daily["borough"] == "Brooklyn")]
    assert float(t["cases"].values[:, 1].sum()) == float(brooklyn["cases"].sum()) > 0
    assert float(t["deaths"].values[:, 1].sum()) == float(brooklyn["deaths"].sum())
    rates = nysdol_unemployment()
    april_bronx = rates[(rates["borough"] == "Bronx") & (rates["month"] == "2020-04-01")]["unemployment_rate"]
    assert months_of(t) == (dt.date(2020, 3, 1), dt.date(2020, 4, 1), dt.date(2020, 5, 1))
    assert float(t["unemployment"].values[1, 0]) == float(april_bronx.iloc[0])
    with pytest.raises(ValueError, match=r"DOHMH has no counts for \d+ day"):
        load_targets(DateWindow.parse("2021-06-01:2021-07-31"))


def test_command_line_arguments():
    parser = build_parser()
    args = parser.parse_args(["calibrate", "covid-nyc", "--train", "2020-03-01:2020-06-30", "--scale", "0.001",
                              "--mode", "network", "--resume"])
    assert args.train == DateWindow.parse("2020-03-01:2020-06-30")
    assert (args.mode, args.resume, args.scale) == ("network", True, 0.001)
    with pytest.raises(SystemExit):
        parser.parse_args(["calibrate", "covid-nyc", "--train", "2020-03-01"])
    with pytest.raises(SystemExit):
        parser.parse_args(["calibrate", "covid-nyc", "--mode", "gru"])
