"""Fitted parameters: a calibration writes its fit, the fit rebuilds its calibration and reproduces its loss, and
`populace run covid-nyc` runs a fit (the shipped one by default), refusing what a fit cannot do."""

import contextlib
import io
import json

import pandas as pd
import pytest
import torch

from populace.calibrate import load_parameter_draws, mean_loss, save_parameter_draws
from populace.calibrate.uncertainty import draws_metadata
from populace.cli import main
from populace.models.covid_nyc.calibration import BETA_PARAMETER, LONG_TERM_REHIRE_PARAMETER, MODEL_PREFIX
from populace.models.covid_nyc.calibration_run import LONG_TERM_REHIRE_FACTOR
from populace.models.covid_nyc.fitted import SHIPPED_FIT, Fit, fit_calibration, fitted_models
from populace.population.nyc import build_nyc

SCALE = 0.0004


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A two-week fit, one iteration, on 3,336 agents."""
    out = tmp_path_factory.mktemp("fit")
    argv = ["calibrate", "covid-nyc", "--train", "2020-03-01:2020-03-14", "--scale", str(SCALE), "--iterations", "1",
            "--population-seed", "4", "--out", str(out), "--no-progress", "--threads", "1"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    return out


def run_covid(*flags: str) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["run", "covid-nyc", "--no-progress", *flags])
    return status, printed.getvalue()


def test_a_fit_holds_the_fitted_values_and_what_it_was_fitted_on(fitted):
    fit = Fit.load(fitted / "fitted.parquet")
    natural = json.loads((fitted / "parameters.json").read_text())
    assert str(fit.window) == "2020-03-01:2020-03-14"
    assert fit.scale == SCALE
    assert fit.weeks == 2
    assert fit.days == 14
    assert fit.metadata["population_seed"] == 4
    assert fit.metadata["deaths"] == "expected"
    assert fit.draw[MODEL_PREFIX + BETA_PARAMETER].exp().tolist() == pytest.approx(natural["beta_by_week"], rel=1e-6)
    assert "calibrated: fit of 2020-03-01:2020-03-14 at scale 0.0004" in fit.describe()


def test_a_fit_rebuilds_its_calibration_and_reproduces_its_check_loss(fitted):
    fit = Fit.load(fitted / "fitted.parquet")
    calibration = fit_calibration(fit)
    check = fit.metadata["check"]
    assert mean_loss(calibration, check["seeds"]) == pytest.approx(check["loss"], rel=1e-6)
    # a fit's values matter: the default starting point gives another loss
    assert abs(mean_loss(fit_calibration(Fit(dict(fit.draw, **{MODEL_PREFIX + BETA_PARAMETER: torch.zeros(2)}),
                                            fit.window, fit.scale, fit.metadata, fit.path)), check["seeds"])
               - check["loss"]) > 1e-3


def test_fitted_models_rescale_the_initial_infections_from_the_fits_scale(fitted):
    fit = Fit.load(fitted / "fitted.parquet")
    at_fit = fitted_models(build_nyc(scale=SCALE, seed=4), fit, scale=SCALE)[0]
    double = fitted_models(build_nyc(scale=2 * SCALE, seed=4), fit, scale=2 * SCALE)[0]
    assert float(double.initial_infections.detach()) == pytest.approx(2 * float(at_fit.initial_infections.detach()),
                                                                    rel=1e-6)
    assert float(at_fit.transmission.beta_by_week[1]) == pytest.approx(float(fit.draw[MODEL_PREFIX + BETA_PARAMETER]
                                                                             .exp()[1]), rel=1e-6)


def test_a_fit_learns_the_duration_dependence_and_an_older_fit_loads_without_it(fitted, tmp_path):
    """The calibration starts the long-term re-hiring factor at 0.5 and learns it (the fit holds it); a fit made
    before it existed (no such entry) loads with 1, the model without duration dependence it was fitted with."""
    key = MODEL_PREFIX + LONG_TERM_REHIRE_PARAMETER
    fit = Fit.load(fitted / "fitted.parquet")
    learned = json.loads((fitted / "parameters.json").read_text())["long_term_rehire_factor"]
    assert learned != LONG_TERM_REHIRE_FACTOR
    assert float(2 * torch.sigmoid(fit.draw[key])) == pytest.approx(learned, rel=1e-6)
    (draw,) = load_parameter_draws(fitted / "fitted.parquet")
    del draw[key]
    save_parameter_draws(tmp_path / "old.parquet", [draw], draws_metadata(fitted / "fitted.parquet"))
    old = Fit.load(tmp_path / "old.parquet")
    assert float(old.draw[key]) == 0.0  # logit(1 / 2): factor 1
    assert float(fit_calibration(old).model.labour.long_term_rehire_factor.detach()) == 1.0


def test_the_run_uses_a_fit_and_says_so(fitted, tmp_path):
    status, printed = run_covid("--parameters", str(fitted / "fitted.parquet"), "--scale", str(SCALE), "--days",
                                "21", "--out", str(tmp_path / "run"))
    assert status == 0
    assert "calibrated: fit of 2020-03-01:2020-03-14 at scale 0.0004" in printed
    assert "past them the last week's hold" in printed  # 21 days > the fit's 14
    results = json.loads((tmp_path / "run" / "manifest.json").read_text())["results"]
    assert results["calibrated"] is True
    assert results["fit"]["window"] == "2020-03-01:2020-03-14"


@pytest.mark.parametrize(("flags", "message"), [
    (["--start", "2020-03-08"], "start on 2020-03-01, or pass --uncalibrated"),
    (["--importations", "5"], "--importations set the uncalibrated model"),
    (["--initial-infections", "100"], "--initial-infections set the uncalibrated model"),
])
def test_the_run_refuses_what_a_fit_cannot_do(fitted, tmp_path, capsys, flags, message):
    status, _ = run_covid("--parameters", str(fitted / "fitted.parquet"), *flags, "--out", str(tmp_path / "run"))
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_file_that_is_not_a_fit_is_refused(tmp_path, capsys):
    status, _ = run_covid("--parameters", str(tmp_path / "nothing.parquet"), "--out", str(tmp_path / "run"))
    assert status == 2
    assert "not found" in capsys.readouterr().err


def test_the_shipped_fit_reproduces_its_check_loss():
    """The parameters `populace run covid-nyc` uses by default are the ones their fit ended with."""
    fit = Fit.load(SHIPPED_FIT)
    assert str(fit.window) == "2020-03-01:2021-06-30"
    check = fit.metadata["check"]
    assert mean_loss(fit_calibration(fit), check["seeds"]) == pytest.approx(check["loss"], rel=1e-5)


PEAK_FACTOR = 3.0
"""The README's promise: the default run's spring peak of reported cases is within this factor of DOHMH's in every
borough (the shipped fit at the README's scale 0.01: 0.88 to 2.0, citywide 1.3)."""


def test_the_default_run_follows_dohmhs_spring_peak(tmp_path):
    """The README's first command (calibrated by default, scale 0.01), shorter: the peak of the 7-day mean of
    reported cases, March-April 2020, within `PEAK_FACTOR` of DOHMH's, citywide and in every borough."""
    status, _ = run_covid("--days", "60", "--out", str(tmp_path / "run"))
    assert status == 0
    cases = pd.read_parquet(tmp_path / "run" / "cases_vs_dohmh.parquet")
    by_day = cases.groupby(["region", "date"])[["simulated", "observed"]].sum()
    for region, rows in [*by_day.groupby(level="region"), ("all", by_day.groupby(level="date").sum())]:
        peaks = rows.rolling(7).mean().max()
        ratio = peaks["simulated"] / peaks["observed"]
        assert 1 / PEAK_FACTOR <= ratio <= PEAK_FACTOR, (region, ratio)


def test_a_calibration_continues_from_a_fit(fitted, tmp_path, capsys):
    """--start-from: one iteration at a negligible step from the fit ends where the fit ended (at twice the scale,
    with twice the initial infections); a fit of another window is refused."""
    before = json.loads((fitted / "parameters.json").read_text())
    argv = ["calibrate", "covid-nyc", "--train", "2020-03-01:2020-03-14", "--iterations", "1", "--lr", "1e-9",
            "--population-seed", "4", "--start-from", str(fitted / "fitted.parquet"), "--no-progress", "--threads",
            "1"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*argv, "--scale", str(2 * SCALE), "--out", str(tmp_path / "again")]) == 0
    after = json.loads((tmp_path / "again" / "parameters.json").read_text())
    assert after["beta_by_week"] == pytest.approx(before["beta_by_week"], rel=1e-6)
    assert after["ascertainment"] == pytest.approx(before["ascertainment"], rel=1e-6)
    assert after["initial_infected_in_population"] == pytest.approx(2 * before["initial_infected_in_population"],
                                                                     rel=1e-6)
    later = list(argv)
    later[later.index("--train") + 1] = "2020-03-08:2020-03-21"
    assert main([*later, "--scale", str(SCALE), "--out", str(tmp_path / "later")]) == 2
    assert "the fit starts on 2020-03-01, the calibration on 2020-03-08" in capsys.readouterr().err
