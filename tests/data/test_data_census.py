"""Census county estimates (CC-EST2019-ALLDATA-36) for the five boroughs, checked against the raw file's own totals
and the Census Bureau's published Vintage 2019 figures."""

import csv

import pytest

from populace.data import BOROUGHS, DataFileError, census_county_population, data_dir
from populace.data.census import AGE_BANDS, CENSUS_FILE, RACES

pytestmark = pytest.mark.needs_data

NYC_COUNTIES = {"005": "Bronx", "047": "Brooklyn", "061": "Manhattan", "081": "Queens", "085": "Staten Island"}


@pytest.fixture(scope="module")
def population():
    return census_county_population()


@pytest.fixture(scope="module")
def all_ages_rows():
    """AGEGRP 0 (all ages) rows of the five NYC counties, read with the csv module (independent of the loader)."""
    with (data_dir() / CENSUS_FILE).open(encoding="latin-1", newline="") as stream:
        rows = [r for r in csv.DictReader(stream) if r["AGEGRP"] == "0" and r["COUNTY"].zfill(3) in NYC_COUNTIES]
    return {(NYC_COUNTIES[r["COUNTY"].zfill(3)], int(r["YEAR"])): r for r in rows}


def test_one_row_per_borough_age_sex_race_origin(population):
    assert len(population) == 5 * 18 * 2 * 6 * 2
    assert not population.duplicated(["borough", "age_band", "sex", "race", "hispanic"]).any()
    assert list(population["age_band"].cat.categories) == list(AGE_BANDS)
    assert population["count"].dtype == "int32"


def test_nyc_2019_total_is_the_published_estimate(population, all_ages_rows):
    # Vintage 2019 estimate of New York City on 2019-07-01: 8,336,817 (Census Bureau, PEP 2019).
    all_ages = sum(int(all_ages_rows[(b, 12)]["TOT_POP"]) for b in BOROUGHS)
    assert all_ages == 8_336_817
    assert population["count"].sum() == all_ages


def test_age_bands_sum_to_each_boroughs_all_ages_total(population, all_ages_rows):
    by_borough = population.groupby("borough", observed=True)["count"].sum()
    assert by_borough.to_dict() == {b: int(all_ages_rows[(b, 12)]["TOT_POP"]) for b in BOROUGHS}
    # Published Vintage 2019 county estimates, largest first.
    assert by_borough["Brooklyn"] == 2_559_903
    assert by_borough["Staten Island"] == 476_143


def test_sex_and_hispanic_totals_match_the_all_ages_columns(population, all_ages_rows):
    for borough in BOROUGHS:
        rows = population[population["borough"] == borough]
        raw = all_ages_rows[(borough, 12)]
        assert rows.loc[rows["sex"] == "female", "count"].sum() == int(raw["TOT_FEMALE"])
        assert rows.loc[rows["hispanic"], "count"].sum() == int(raw["H_MALE"]) + int(raw["H_FEMALE"])
        asian = rows.loc[rows["race"] == "asian", "count"].sum()
        assert asian == int(raw["AA_MALE"]) + int(raw["AA_FEMALE"])


def test_other_years_and_their_bounds(all_ages_rows):
    total_2010 = census_county_population(year=2010)["count"].sum()  # July 1 2010 is YEAR 3
    assert total_2010 == sum(int(all_ages_rows[(b, 3)]["TOT_POP"]) for b in BOROUGHS)
    assert set(RACES) == {"white", "black", "aian", "asian", "nhpi", "two_or_more"}
    with pytest.raises(ValueError, match=r"year must be one of the file's July 1 estimates 2010..2019, got 2020"):
        census_county_population(year=2020)


def _write(tmp_path, text: str):
    file = tmp_path / CENSUS_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text, encoding="latin-1")
    return tmp_path


def test_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cc-est2019-alldata-36\.csv not found in .*POPULACE_DATA"):
        census_county_population(tmp_path)


def test_wrong_columns_empty_and_missing_county(tmp_path):
    with pytest.raises(DataFileError, match=r"missing column\(s\) \['STATE', 'COUNTY', 'YEAR'.*found \['a', 'b'\]"):
        census_county_population(_write(tmp_path, "a,b\n1,2\n"))
    with pytest.raises(DataFileError, match=r"is empty"):
        census_county_population(_write(tmp_path, ""))
    lines = (data_dir() / CENSUS_FILE).read_text(encoding="latin-1").splitlines()
    without_kings = [line for line in lines if ",Kings County," not in line]
    assert len(without_kings) < len(lines)
    with pytest.raises(DataFileError, match=r"expected one row per NYC county .* for YEAR 12 \(2019-07-01\), "
                                            r"found 72 rows"):
        census_county_population(_write(tmp_path, "\n".join(without_kings)))
