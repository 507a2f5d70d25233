"""NYC Department of Health and Mental Hygiene COVID-19 daily series (repository nychealth/coronavirus-data).

`nyc/dohmh/data-by-day.csv`: one row per day from 2020-02-29 (date_of_interest, MM/DD/YYYY), citywide columns
(CASE_COUNT, PROBABLE_CASE_COUNT, HOSPITALIZED_COUNT, DEATH_COUNT) and the same per borough with a prefix (BX_, BK_,
MN_, QN_, SI_), plus 7-day averages the loader drops. Cases count by date of diagnosis, hospitalisations by date of
admission, deaths by date of death. The borough columns sum to slightly less than citywide (records without
geography). `nyc/dohmh/tests.csv`: daily tests by test date (DATE). The copies here stop at 2021-06-30, and the
last weeks of any release are incomplete (reports still arriving).
"""

import os

import pandas as pd

from populace.data.boroughs import BOROUGH_CODES, BOROUGH_DTYPE, BOROUGHS
from populace.data.errors import DataFileError
from populace.data.files import as_counts, read_csv, unique_dates
from populace.data.paths import source_file
from populace.data.shipped import shipped_fallback

DAILY_FILE = "nyc/dohmh/data-by-day.csv"
TESTS_FILE = "nyc/dohmh/tests.csv"
_MEASURES = {"CASE_COUNT": "cases", "PROBABLE_CASE_COUNT": "probable_cases", "HOSPITALIZED_COUNT": "hospitalizations",
             "DEATH_COUNT": "deaths"}


def _dates(column: pd.Series, file: os.PathLike[str]) -> pd.Series:
    """MM/DD/YYYY strings as datetime64, each once (`unique_dates`)."""
    return unique_dates(column, file, fmt="%m/%d/%Y", label="MM/DD/YYYY")


@shipped_fallback({"by_borough": True}, {"by_borough": False})
def dohmh_daily(data_dir: str | os.PathLike[str] | None = None, *, by_borough: bool = True) -> pd.DataFrame:
    """Daily COVID-19 cases, hospitalisations and deaths in New York City, per borough or citywide.

    `by_borough=True`: a long table, one row per day x borough (sorted by date, then borough); `by_borough=False`:
    one row per day, citywide. Columns (int32 counts of persons, source column for the Bronx in brackets):

    - `date` (datetime64): date of diagnosis, admission or death [date_of_interest].
    - `borough` (categorical, only with `by_borough`).
    - `cases`: confirmed (positive molecular test) [BX_CASE_COUNT]; `probable_cases`: positive antigen test or
      symptoms with exposure [BX_PROBABLE_CASE_COUNT]; `hospitalizations` [BX_HOSPITALIZED_COUNT]; `deaths`,
      confirmed and probable [BX_DEATH_COUNT].

    Borough rows sum to at most the citywide row of the same day (records without geography are citywide only).
    Raises FileNotFoundError when the file is missing, DataFileError when it is malformed (not a CSV, empty, missing
    columns, a date that is not MM/DD/YYYY or appears twice, counts that are not whole numbers).
    """
    file = source_file(DAILY_FILE, data_dir)
    prefixes = [f"{BOROUGH_CODES[b]}_" for b in BOROUGHS] if by_borough else [""]
    columns = [prefix + measure for prefix in prefixes for measure in _MEASURES]
    raw = read_csv(file, columns=["date_of_interest", *columns])
    dates = _dates(raw["date_of_interest"], file)
    counts = as_counts(raw, columns, file)
    if not by_borough:
        return pd.concat([dates.rename("date"), counts.rename(columns=_MEASURES)], axis=1)
    parts = []
    for borough, prefix in zip(BOROUGHS, prefixes, strict=True):
        part = counts[[prefix + m for m in _MEASURES]]
        part.columns = list(_MEASURES.values())
        parts.append(part.assign(date=dates, borough=borough))
    table = pd.concat(parts, ignore_index=True)
    table["borough"] = table["borough"].astype(BOROUGH_DTYPE)
    return table.sort_values(["date", "borough"], ignore_index=True)[["date", "borough", *_MEASURES.values()]]


@shipped_fallback({})
def dohmh_tests(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Daily COVID-19 laboratory tests in New York City, citywide, one row per test date.

    - `date` (datetime64): date of the test [DATE].
    - `tests` (int32): molecular tests [TOTAL_TESTS]; `positive_tests` (int32) [POSITIVE_TESTS].
    - `positive_fraction` (float32, 0-1): positive_tests / tests, as published to 4 decimals [PERCENT_POSITIVE,
      which despite its name is a fraction].
    - `antigen_tests` (int32) [TOTAL_ANTIGEN_TESTS].

    Raises FileNotFoundError when the file is missing, DataFileError when it is malformed (as `dohmh_daily`).
    """
    file = source_file(TESTS_FILE, data_dir)
    counts = {"TOTAL_TESTS": "tests", "POSITIVE_TESTS": "positive_tests", "TOTAL_ANTIGEN_TESTS": "antigen_tests"}
    raw = read_csv(file, columns=["DATE", *counts, "PERCENT_POSITIVE"])
    fraction = pd.to_numeric(raw["PERCENT_POSITIVE"], errors="coerce")
    if not fraction.between(0, 1).all():
        raise DataFileError(f"{file}: PERCENT_POSITIVE must be a fraction in [0, 1], found "
                            f"{raw['PERCENT_POSITIVE'][~fraction.between(0, 1)].iloc[0]!r}.")
    table = pd.concat([_dates(raw["DATE"], file).rename("date"), as_counts(raw, list(counts), file)], axis=1)
    table = table.rename(columns=counts)
    table.insert(3, "positive_fraction", fraction.astype("float32"))
    return table
