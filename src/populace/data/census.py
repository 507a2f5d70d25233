"""US Census Bureau county population estimates by age, sex, race and Hispanic origin (CC-EST2019-ALLDATA-36).

File `nyc/census/cc-est2019-alldata-36.csv` (latin-1; public domain): one row per New York county x YEAR x AGEGRP
with 80 count columns. YEAR 1 is the 2010-04-01 Census, 2 the 2010-04-01 estimates base, 3..12 the July 1
estimates of 2010..2019. AGEGRP 0 is all ages, 1..18 the 5-year bands 0-4 ... 80-84 and 85+. Race columns are
"alone" races (white WA, Black BA, American Indian and Alaska Native IA, Asian AA, Native Hawaiian and Other
Pacific Islander NA) and two or more races (TOM), each split by sex (_MALE, _FEMALE) and Hispanic origin (NH...
not Hispanic, H... Hispanic); these 6 races x 2 origins x 2 sexes partition TOT_POP.
"""

import os

import pandas as pd

from populace.data.boroughs import COUNTY_FIPS, borough_from_county_fips
from populace.data.errors import DataFileError
from populace.data.files import as_counts, read_csv
from populace.data.paths import source_file
from populace.data.shipped import shipped_fallback

CENSUS_FILE = "nyc/census/cc-est2019-alldata-36.csv"
AGE_BANDS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 85, 5)), "85+")
"""The 18 five-year age bands (AGEGRP 1..18), shared by the Census and City Planning tables."""
SEXES: tuple[str, ...] = ("male", "female")
RACES: tuple[str, ...] = ("white", "black", "aian", "asian", "nhpi", "two_or_more")
_RACE_CODES = {"white": "WA", "black": "BA", "aian": "IA", "asian": "AA", "nhpi": "NA", "two_or_more": "TOM"}
_FIRST_YEAR, _LAST_YEAR = 2010, 2019  # July 1 estimates: YEAR code = year - 2007


def _count_column(race: str, hispanic: bool, sex: str) -> str:
    return f"{'H' if hispanic else 'NH'}{_RACE_CODES[race]}_{sex.upper()}"


@shipped_fallback({"year": 2019})
def census_county_population(data_dir: str | os.PathLike[str] | None = None, *, year: int = 2019) -> pd.DataFrame:
    """Residents of each borough on July 1 of `year`, by 5-year age band, sex, race and Hispanic origin.

    A long table, one row per borough x age_band x sex x race x hispanic (5 x 18 x 2 x 6 x 2 = 2160 rows), from the
    rows of the five NYC counties (COUNTY 5, 47, 61, 81, 85) with YEAR = `year` - 2007 and AGEGRP 1..18:

    - `borough` (categorical, `populace.data.boroughs.BOROUGHS`): from the county FIPS code (COUNTY).
    - `age_band` (ordered categorical, `AGE_BANDS` "0-4" ... "85+"): AGEGRP 1..18.
    - `sex` (categorical "male", "female"): the _MALE / _FEMALE column suffix.
    - `race` (categorical `RACES`): alone races and two or more races (WA, BA, IA, AA, NA, TOM).
    - `hispanic` (bool): True for the H... columns, False for the NH... columns.
    - `count` (int32, persons): the estimate, e.g. column NHWA_FEMALE for white non-Hispanic women.

    `year`: 2010 ... 2019 (the file's July 1 estimates); the default 2019 is YEAR 12.
    Raises FileNotFoundError when the file is missing, DataFileError when it is malformed (not a CSV, empty, missing
    columns, a county or age group missing for `year`, counts that are not whole numbers).
    """
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ValueError(f"year must be one of the file's July 1 estimates {_FIRST_YEAR}..{_LAST_YEAR}, got {year}.")
    file = source_file(CENSUS_FILE, data_dir)
    keys = [(race, hispanic, sex) for hispanic in (False, True) for race in RACES for sex in SEXES]
    count_columns = [_count_column(*key) for key in keys]
    raw = read_csv(file, columns=["STATE", "COUNTY", "YEAR", "AGEGRP", *count_columns], encoding="latin-1")
    rows = raw[raw["COUNTY"].isin(COUNTY_FIPS.values()) & (raw["YEAR"] == year - 2007)
               & raw["AGEGRP"].between(1, len(AGE_BANDS))]
    if len(rows) != len(COUNTY_FIPS) * len(AGE_BANDS) or rows.duplicated(["COUNTY", "AGEGRP"]).any():
        raise DataFileError(
            f"{file}: expected one row per NYC county (COUNTY {sorted(COUNTY_FIPS.values())}) and AGEGRP "
            f"1..{len(AGE_BANDS)} for YEAR {year - 2007} ({year}-07-01), found {len(rows)} rows."
        )
    wide = as_counts(rows, count_columns, file)
    wide.columns = pd.MultiIndex.from_tuples(keys, names=["race", "hispanic", "sex"])
    wide.index = pd.MultiIndex.from_arrays(
        [borough_from_county_fips(rows["COUNTY"], source=str(file)),
         pd.Categorical.from_codes(rows["AGEGRP"].to_numpy() - 1, categories=AGE_BANDS, ordered=True)],
        names=["borough", "age_band"],
    )
    table = wide.stack(["race", "hispanic", "sex"], future_stack=True).rename("count").reset_index()
    table["sex"] = pd.Categorical(table["sex"], categories=SEXES)
    table["race"] = pd.Categorical(table["race"], categories=RACES)
    table["hispanic"] = table["hispanic"].astype(bool)
    columns = ["borough", "age_band", "sex", "race", "hispanic"]
    return table.sort_values(columns, ignore_index=True)[[*columns, "count"]]
