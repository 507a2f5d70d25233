"""DOHMH daily COVID-19 series: one row per day, boroughs within citywide, the spring 2020 peak where it was."""

import pandas as pd
import pytest

from populace.data import BOROUGHS, DataFileError, dohmh_daily, dohmh_tests
from populace.data.dohmh import DAILY_FILE

pytestmark = pytest.mark.needs_data

MEASURES = ["cases", "probable_cases", "hospitalizations", "deaths"]


@pytest.fixture(scope="module")
def citywide():
    return dohmh_daily(by_borough=False)


@pytest.fixture(scope="module")
def by_borough():
    return dohmh_daily()


def test_every_day_from_the_first_case_to_the_cut(citywide, by_borough):
    expected = pd.date_range("2020-02-29", "2021-06-30", freq="D")
    assert citywide["date"].tolist() == expected.tolist()
    assert len(by_borough) == 5 * len(expected)
    assert by_borough["borough"].iloc[:5].tolist() == list(BOROUGHS)


def test_boroughs_sum_to_at_most_citywide_each_day(citywide, by_borough):
    summed = by_borough.groupby("date")[MEASURES].sum().reset_index(drop=True)
    assert (summed <= citywide[MEASURES]).all().all()
    # Records without geography: 81 of 791,676 confirmed cases, 1 of 33,792 deaths.
    assert citywide["cases"].sum() - summed["cases"].sum() == 81
    assert citywide["deaths"].sum() == 33_792
    assert summed["deaths"].sum() == 33_791


def test_first_wave_peaks_in_april_2020(citywide):
    peak = citywide.loc[citywide["deaths"].idxmax()]
    assert peak["date"] == pd.Timestamp("2020-04-07")
    assert peak["deaths"] == 832


def test_positive_fraction_is_positives_over_tests():
    tests = dohmh_tests()
    assert len(tests) == 485
    assert (tests["positive_tests"] <= tests["tests"]).all()
    tested = tests[tests["tests"] > 0]
    # Published to 4 decimals: within half a unit of the 4th decimal.
    assert ((tested["positive_tests"] / tested["tests"] - tested["positive_fraction"]).abs() <= 5.001e-5).all()


def _write(tmp_path, text: str):
    file = tmp_path / DAILY_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return tmp_path


def test_missing_file_missing_borough_columns_and_bad_dates(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data-by-day\.csv not found in .*POPULACE_DATA"):
        dohmh_daily(tmp_path)
    citywide = "date_of_interest,CASE_COUNT,PROBABLE_CASE_COUNT,HOSPITALIZED_COUNT,DEATH_COUNT\n"
    with pytest.raises(DataFileError, match=r"missing column\(s\) \['BX_CASE_COUNT'"):
        dohmh_daily(_write(tmp_path, citywide + "02/29/2020,1,0,1,0\n"))
    with pytest.raises(DataFileError, match=r"date '2020-02-29' is not MM/DD/YYYY"):
        dohmh_daily(_write(tmp_path, citywide + "2020-02-29,1,0,1,0\n"), by_borough=False)
    with pytest.raises(DataFileError, match=r"date '02/29/2020' appears twice"):
        dohmh_daily(_write(tmp_path, citywide + "02/29/2020,1,0,1,0\n" * 2), by_borough=False)
