"""COVID-19 parameters: the loader against the published table, the committed defaults against the loader."""

import math

import pandas as pd
import pytest
import torch

from populace.data import DataFileError, covid_parameters
from populace.data.epi import IFR_AGE_BANDS
from populace.models.covid_nyc.params import CovidParams, age_band_index, lognormal_log_parameters


@pytest.mark.needs_data
def test_loader_returns_the_published_values_in_model_units():
    table = covid_parameters()
    scalar = table[table["age_band"] == "all"].set_index("name")
    assert scalar.loc["incubation_period_meanlog", "value"] == 1.63  # McAloon 2020 (pooled), median e^1.63 = 5.1
    assert scalar.loc["incubation_period_sdlog", "value"] == 0.5
    assert scalar.loc["asymptomatic_fraction", "value"] == 0.2  # Buitrago-Garcia 2020
    assert scalar.loc["onset_to_death_mean", "value"] == 20.2  # Linton 2020
    assert scalar.loc["onset_to_death_mean", "doi"] == "10.3390/jcm9020538"
    ifr = table[table["name"] == "ifr"]
    assert list(ifr["age_band"]) == list(IFR_AGE_BANDS)
    assert ifr["value"].iloc[-1] == pytest.approx(0.164)  # 90+: 16.4%, Brazeau 2022 Table 2, with seroreversion
    assert ifr["value"].iloc[12] == pytest.approx(0.0092)  # 60-64: 0.92%
    assert (ifr["unit"] == "proportion").all()
    assert ifr["source"].str.contains("Brazeau").all()


@pytest.mark.needs_data
def test_committed_defaults_equal_the_values_read_from_the_data():
    assert CovidParams.from_data() == CovidParams()


def test_loader_names_a_missing_row(tmp_path):
    (tmp_path / "epi").mkdir()
    frame = pd.DataFrame({c: ["x"] for c in ["parameter", "age_band", "estimate", "lower", "upper", "unit",
                                             "population", "source", "doi"]})
    frame.to_csv(tmp_path / "epi" / "covid19_natural_history.csv", index=False)
    with pytest.raises(DataFileError, match="expected one row with parameter='incubation_period_meanlog'"):
        covid_parameters(tmp_path)


def test_loader_without_the_file_says_which(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"epi/covid19_natural_history\.csv not found"):
        covid_parameters(tmp_path)


def test_infectiousness_profile_is_the_discretised_generation_time():
    p = CovidParams()
    h = p.infectiousness_by_day()
    days = torch.arange(h.numel(), dtype=torch.float64)
    assert float(h[0]) == 0
    assert float(h.sum()) == pytest.approx(1, abs=1e-12)
    # Gamma(mean 5.7, sd 2.9) on whole days 1..21 (mass past 21.5 days, 1e-4, is cut): mean 5.70 within 0.05,
    # mode at 4 days (the continuous mode is (k - 1) theta = 4.22 with k = 3.86, theta = 1.48).
    assert float((days * h).sum()) == pytest.approx(5.7, abs=0.05)
    assert int(h.argmax()) == 4


def test_lognormal_parameters_reproduce_the_mean_and_sd():
    meanlog, sdlog = lognormal_log_parameters(20.2, 11.6)  # Linton 2020 onset to death
    assert (meanlog, sdlog) == pytest.approx((2.8632, 0.5339), abs=1e-4)
    assert math.exp(meanlog + sdlog**2 / 2) == pytest.approx(20.2)
    assert math.sqrt(math.expm1(sdlog**2)) * math.exp(meanlog + sdlog**2 / 2) == pytest.approx(11.6)


def test_death_probability_among_symptomatic_infections():
    p = CovidParams()
    assert float(p.p_death_if_symptomatic_by_age()[-1]) == pytest.approx(0.164 / 0.8)


def test_age_bands():
    age = torch.tensor([0, 4, 5, 64, 85, 89, 90, 104], dtype=torch.uint8)
    assert age_band_index(age).tolist() == [0, 0, 1, 12, 17, 17, 18, 18]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"beta_by_week": ()}, "beta_by_week must hold one finite value > 0 per week"),
        ({"beta_by_week": (0.1, 0.0)}, "switch transmission off, set every layer's contact scale to 0"),
        ({"susceptibility_by_age": (1.0,) * 18}, "susceptibility_by_age needs 19 finite values >= 0"),
        ({"ifr_by_age": (0.9,) * 19}, "deaths happen only among symptomatic infections"),
        ({"asymptomatic_fraction": 1.5}, r"asymptomatic_fraction must be in \[0, 1\]"),
        ({"onset_to_death_days_sd": 0.0}, "onset_to_death_days_sd must be a finite number > 0"),
        ({"infectiousness_days": 0}, r"infectiousness_days must be an int in \[1, 365\]"),
    ],
)
def test_bad_parameters_raise(changes, match):
    with pytest.raises(ValueError, match=match):
        CovidParams().replace(**changes)


def test_unknown_field_lists_the_fields():
    with pytest.raises(TypeError, match="CovidParams has no field"):
        CovidParams().replace(beta=0.1)
