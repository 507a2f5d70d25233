"""City Planning NTA profiles (ACS 2017-2021): the partitions the tables promise, the special areas, the city total."""

import pandas as pd
import pytest

from populace.data import DataFileError, dcp_nta_profiles
from populace.data.dcp import _DEMO, DEMO_FILE, INDUSTRIES, OCCUPATIONS

pytestmark = pytest.mark.needs_data

AGES = [f"age_{a}_{a + 4}" for a in range(0, 85, 5)] + ["age_85_plus"]
RACE_ORIGIN = ["hispanic", "white_nh", "black_nh", "aian_nh", "asian_nh", "nhpi_nh", "other_nh", "two_or_more_nh"]


@pytest.fixture
def profiles(dcp_profiles):
    return dcp_profiles


@pytest.fixture
def households(dcp_households):
    return dcp_households


def test_262_ntas_197_residential_counted_per_borough(profiles):
    assert len(profiles) == 262
    assert profiles["nta_code"].is_unique
    assert (profiles["nta_type"] == "residential").sum() == 197
    per_borough = profiles.groupby("borough", observed=True).size().to_dict()
    assert per_borough == {"Bronx": 49, "Brooklyn": 69, "Manhattan": 38, "Queens": 83, "Staten Island": 23}
    # The NTA code's first two letters name the borough (BX0101, BK0101, ...).
    codes = {"Bronx": "BX", "Brooklyn": "BK", "Manhattan": "MN", "Queens": "QN", "Staten Island": "SI"}
    assert (profiles["nta_code"].str[:2] == profiles["borough"].map(codes).astype(str)).all()
    assert len(dcp_nta_profiles(residential_only=True)) == 197


def test_city_total_is_near_the_2020_census_count(profiles):
    # 2020 Census count of New York City: 8,804,190. The 2017-2021 ACS is controlled to the Census Bureau's
    # estimates for that period, which lie within 1% of it.
    total = profiles["population"].astype("int64").sum()
    assert total == 8_736_047
    assert abs(total / 8_804_190 - 1) < 0.01


def test_sex_age_and_race_origin_each_partition_the_population(profiles):
    population = profiles["population"]
    pd.testing.assert_series_equal(profiles["male"] + profiles["female"], population, check_names=False)
    pd.testing.assert_series_equal(profiles[AGES].sum(axis=1), population, check_names=False, check_dtype=False)
    pd.testing.assert_series_equal(profiles[RACE_ORIGIN].sum(axis=1), population, check_names=False,
                                   check_dtype=False)


def test_labour_force_industries_and_occupations_add_up(profiles):
    p = profiles
    assert (p["labor_force"] + p["not_in_labor_force"] == p["pop_16_plus"]).all()
    assert (p["civilian_labor_force"] + p["armed_forces"] == p["labor_force"]).all()
    assert (p["employed"] + p["unemployed"] == p["civilian_labor_force"]).all()
    assert len(INDUSTRIES) == 13
    assert len(OCCUPATIONS) == 5
    assert (p[list(INDUSTRIES)].sum(axis=1) == p["employed"]).all()
    assert (p[list(OCCUPATIONS)].sum(axis=1) == p["employed"]).all()
    assert (p["pop_16_plus"] <= p["population"]).all()


def test_parks_cemeteries_and_airports_have_almost_no_residents(profiles):
    special = profiles[profiles["nta_type"] != "residential"]
    assert len(special) == 65
    parks = special[special["nta_type"] == "park"]
    assert len(parks) == 40
    assert (parks["population"] == 0).sum() == 31
    # The most populous park NTA is Randall's Island (shelters on Wards Island): 1,845.
    assert parks["population"].max() == 1_845
    assert special.loc[special["nta_type"].isin(["cemetery", "airport"]), "population"].max() <= 24
    # Outside Rikers Island (6,661, all in jail), special areas hold under 0.1% of the city.
    others = special[special["nta_type"] != "rikers_island"]["population"].sum()
    assert others / profiles["population"].sum() < 0.001


def test_households_hold_the_household_population(households, profiles):
    h = households.merge(profiles[["nta_code", "population"]], on="nta_code", validate="1:1")
    assert len(h) == 262
    assert (h["family_households"] + h["nonfamily_households"] == h["households"]).all()
    assert (h["living_alone"] <= h["nonfamily_households"]).all()
    assert (h["household_population"] <= h["population"]).all()
    assert (h["household_population"] >= h["households"]).all()
    rikers = h[h["nta_type"] == "rikers_island"].iloc[0]
    assert rikers["households"] == 0
    assert rikers["population"] == 6_661
    # Group quarters hold about 2% of New York City (2.1% here).
    in_group_quarters = 1 - h["household_population"].sum() / h["population"].sum()
    assert 0.015 < in_group_quarters < 0.03
    # Mean household size, 2.63 persons: 8,550,333 in 3,250,657 households.
    assert h["household_population"].sum() / h["households"].sum() == pytest.approx(2.63, abs=0.005)


def _workbook(tmp_path, frame: pd.DataFrame, sheet: str = "DemData"):
    file = tmp_path / DEMO_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    frame.to_excel(file, sheet_name=sheet, index=False)
    return tmp_path


def _one_nta(**changes) -> pd.DataFrame:
    row = {"GeoID": "BK0101", "GeogName": "Greenpoint", "Borough": "Brooklyn", "NTAType": 0,
           **dict.fromkeys(_DEMO, 1), **changes}
    return pd.DataFrame([row])


def test_missing_file_not_a_workbook_and_missing_sheet(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"demo_2021acs5yr_nta\.xlsx not found in .*POPULACE_DATA"):
        dcp_nta_profiles(tmp_path)
    (tmp_path / DEMO_FILE).parent.mkdir(parents=True)
    (tmp_path / DEMO_FILE).write_text("GeoID,Pop_1E\nBK0101,3\n")
    with pytest.raises(DataFileError, match=r"not an xlsx workbook"):
        dcp_nta_profiles(tmp_path)
    with pytest.raises(DataFileError, match=r"no sheet 'DemData'; found sheets \['Sheet1'\]"):
        dcp_nta_profiles(_workbook(tmp_path, _one_nta(), sheet="Sheet1"))


def test_wrong_columns_and_unknown_codes(tmp_path):
    with pytest.raises(DataFileError, match=r"missing column\(s\) \['Pop_1E'\]\. Expected columns \['GeoID'"):
        dcp_nta_profiles(_workbook(tmp_path, _one_nta().drop(columns="Pop_1E")))
    with pytest.raises(DataFileError, match=r"unknown NTAType code\(s\) \[3\]"):
        dcp_nta_profiles(_workbook(tmp_path, _one_nta(NTAType=3)))
    with pytest.raises(DataFileError, match=r"unknown borough or county name\(s\) \['Yonkers'\]"):
        dcp_nta_profiles(_workbook(tmp_path, _one_nta(Borough="Yonkers")))
    with pytest.raises(DataFileError, match=r"column 'MaleE' must hold whole numbers >= 0, found -5"):
        dcp_nta_profiles(_workbook(tmp_path, _one_nta(MaleE=-5)))
