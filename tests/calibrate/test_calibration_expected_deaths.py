"""Expected deaths in the calibration: a small-scale forecast is not zero by chance; the sampled deaths on request."""

import pytest
import torch
from calibrate_fixtures import small_calibration

from populace.models.covid_nyc.calibration import Calibration
from populace.models.covid_nyc.calibration_run import forecast


def test_a_small_forecast_has_expected_deaths_where_the_sampled_ones_are_zero():
    # 1,000 agents over 35 days, the seed mean of 3 runs (7-day means): in the last week the sampled deaths are
    # 0 in about half the region-days, the expected deaths in none (measured: 51% and 0%).
    calibration = small_calibration(n_agents=1000, days=35)
    series = forecast(calibration, calibration.targets, [10_000, 10_001, 10_002])
    sampled, expected = series["deaths_sampled"][-7:], series["deaths_expected"][-7:]
    assert bool((sampled == 0).any())
    assert bool((expected > 0).all())
    assert torch.equal(series["deaths"], series["deaths_expected"])  # the default
    # same fates: the two totals agree within the Poisson-like noise of a few deaths
    assert float(series["deaths_sampled"].sum()) == pytest.approx(float(series["deaths_expected"].sum()), rel=0.6)


def test_the_calibration_uses_the_deaths_it_is_told():
    calibration = small_calibration(n_agents=300, days=14)
    sampled = Calibration(calibration.model, calibration.observation, calibration.targets, scale=1.0, deaths="sampled")
    run = sampled.simulate(0, differentiable=False)
    assert torch.equal(run["deaths"], run["deaths_sampled"])
    assert not torch.equal(run["deaths"], run["deaths_expected"])
    with pytest.raises(ValueError, match="deaths must be one of"):
        Calibration(calibration.model, calibration.observation, calibration.targets, scale=1.0, deaths="drawn")
