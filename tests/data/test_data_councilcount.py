"""councilcount household sizes (ACS 2019-2023) per borough and NTA, checked within the file and against City
Planning's 2017-2021 profiles."""

import pandas as pd
import pytest

from populace.data import BOROUGHS, DataFileError, councilcount_household_sizes
from populace.data.councilcount import BOROUGH_FILE, HOUSEHOLD_SIZES

pytestmark = pytest.mark.needs_data

SIZES = list(HOUSEHOLD_SIZES)


@pytest.fixture(scope="module")
def boroughs():
    return councilcount_household_sizes("borough").set_index("borough")


@pytest.fixture(scope="module")
def ntas():
    return councilcount_household_sizes("nta")


def test_household_sizes_sum_to_households(boroughs, ntas):
    assert list(boroughs.index) == list(BOROUGHS)  # "The Bronx" read as Bronx
    assert (boroughs[SIZES].sum(axis=1) == boroughs["households"]).all()
    assert (ntas[SIZES].sum(axis=1) == ntas["households"]).all()
    assert boroughs["households"].sum() == 3_313_316
    assert boroughs["population"].sum() == 8_516_202


def test_ntas_add_up_to_the_city_and_nearly_to_each_borough(boroughs, ntas):
    assert len(ntas) == 262
    assert ntas["nta_code"].is_unique
    columns = ["population", "households", *SIZES]
    pd.testing.assert_series_equal(ntas[columns].sum(), boroughs[columns].sum())
    per_borough = ntas.groupby("borough", observed=True)[columns].sum()
    # Exact where NTA and county boundaries agree; within 1% where they do not: Marble Hill (New York County) lies
    # in Bronx NTA BX0802, Rikers Island (Bronx County) is Queens NTA QN0151.
    for borough in ["Brooklyn", "Staten Island"]:
        assert per_borough.loc[borough].tolist() == boroughs.loc[borough, columns].tolist()
    relative = (per_borough["population"] / boroughs["population"] - 1).abs()
    assert relative.max() < 0.01
    assert relative["Manhattan"] > 0.005  # Marble Hill's ~10k residents are counted in the Bronx


def test_same_ntas_as_city_planning_and_special_areas_empty(ntas, dcp_profiles):
    merged = ntas.merge(dcp_profiles[["nta_code", "nta_name", "borough", "nta_type"]], on="nta_code",
                        suffixes=("", "_dcp"), validate="1:1")
    assert len(merged) == 262
    assert (merged["nta_name"] == merged["nta_name_dcp"]).all()
    assert (merged["borough"] == merged["borough_dcp"]).all()
    special = merged[merged["nta_type"] != "residential"]
    assert special["households"].max() <= 200  # vs a median of about 14,500 in residential NTAs
    assert merged.loc[merged["nta_type"] == "residential", "households"].median() > 10_000


def test_population_within_5_percent_of_city_planning_per_borough(boroughs, ntas, dcp_profiles):
    # Same NTAs, different ACS windows: 2019-2023 here, 2017-2021 at City Planning. New York lost residents after
    # 2020, so the later window is smaller in every borough, by up to 3.3% (Bronx): 5% is that gap with room for
    # sampling error, far below a wrong column (households instead of persons would be off by 60%).
    later = ntas.groupby("borough", observed=True)["population"].sum()
    earlier = dcp_profiles.groupby("borough", observed=True)["population"].sum()
    assert ((earlier / later - 1) < 0.05).all()
    assert (earlier >= later).all()


def test_household_sizes_fit_the_household_population(boroughs, dcp_profiles, dcp_households):
    # sum_k k n_k with "4 or more" counted as 4 is a lower bound on the persons living in households. Household
    # population for 2019-2023 is estimated as population x City Planning's 2017-2021 share living in households
    # (96-99% per borough; the rest is in group quarters). The implied mean size of 4+ households must be at least 4
    # and, in New York, about 5 (4.9 to 5.7 here); the upper bound 6 leaves room for the mixed ACS windows.
    dcp = dcp_profiles.groupby("borough", observed=True)["population"].sum()
    in_households = dcp_households.groupby("borough", observed=True)["household_population"].sum() / dcp
    household_population = boroughs["population"] * in_households
    sizes = pd.Series(HOUSEHOLD_SIZES)
    lower_bound = boroughs[SIZES] @ sizes
    assert (lower_bound < household_population).all()
    assert (lower_bound / household_population > 0.85).all()
    mean_size_4_plus = (household_population - boroughs[SIZES[:3]] @ sizes[:3]) / boroughs["size_4_plus"]
    assert mean_size_4_plus.between(4, 6).all()


def _write(tmp_path, text: str):
    file = tmp_path / BOROUGH_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return tmp_path


def test_missing_empty_binary_and_wrong_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"borough-geographies_2023\.csv not found in .*POPULACE_DATA"):
        councilcount_household_sizes("borough", tmp_path)
    with pytest.raises(DataFileError, match=r"is empty; expected a CSV file with columns \['borough', 'B01001_001E'"):
        councilcount_household_sizes("borough", _write(tmp_path, ""))
    (tmp_path / BOROUGH_FILE).write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(DataFileError, match=r"is not a text CSV file"):
        councilcount_household_sizes("borough", tmp_path)
    with pytest.raises(DataFileError, match=r"missing column\(s\) \['B19001_001E'.*found \['borough', 'B01001_001E'\]"):
        councilcount_household_sizes("borough", _write(tmp_path, "borough,B01001_001E\nQueens,1\n"))
    header = "borough,B01001_001E,B19001_001E,B08201_007E,B08201_013E,B08201_019E,B08201_025E\n"
    with pytest.raises(DataFileError, match=r"unknown borough or county name\(s\) \['Westchester'\]"):
        councilcount_household_sizes("borough", _write(tmp_path, header + "Westchester,9,4,1,1,1,1\n"))
    with pytest.raises(ValueError, match=r"level must be 'borough' or 'nta', got 'zip'"):
        councilcount_household_sizes("zip")
