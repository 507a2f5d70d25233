"""NYC DOHMH COVID-19 vaccination of residents (repository nychealth/covid-vaccine-data, `people/`).

`nyc/vaccination/trends-byboro.csv` and `trends-byage.csv`: one row per date of vaccination (DATE, ISO) from
2020-12-14, cumulative NYC residents with at least one dose (`*_COUNT_1PLUS_CUMULATIVE`, including those fully
vaccinated) and with a completed primary series (`*_COUNT_FULLY_CUMULATIVE`: two Pfizer/Moderna doses or one
Janssen), citywide (`CITY_`) and per borough of residence (prefixes BX, BK, MH, QS, SI) or per age band (suffixes
0_4, 5_12, ..., 65_74, 75up), plus percentages of the 2019 intercensal population (`*_PERC_*`). Quirks: counts
below 10 are the string "<10" (read as 0: an undercount of at most 9 people in a group, only while its count is
below 10); the publisher's later releases add booster and bivalent columns (ignored) and later dates (kept); rows
with every field blank (separator rows) are skipped, any other row is checked. The copies in the data directory
stop at 2021-06-30 and are the 2024 vintage (late reports included).
"""

from __future__ import annotations

import os

import pandas as pd

from populace.data.boroughs import BOROUGH_DTYPE, BOROUGHS
from populace.data.errors import DataFileError
from populace.data.files import as_counts, read_csv, unique_dates
from populace.data.paths import source_file
from populace.data.shipped import shipped_fallback

BY_BOROUGH_FILE = "nyc/vaccination/trends-byboro.csv"
BY_AGE_FILE = "nyc/vaccination/trends-byage.csv"
VACCINATION_BOROUGH_CODES = {"Bronx": "BX", "Brooklyn": "BK", "Manhattan": "MH", "Queens": "QS",
                             "Staten Island": "SI"}
"""The borough prefixes of `trends-byboro.csv` (not the BX/BK/MN/QN/SI of the DOHMH case tables)."""
VACCINATION_AGE_BANDS = ("0_4", "5_12", "13_17", "18_24", "25_34", "35_44", "45_54", "55_64", "65_74", "75up")
"""The age bands of `trends-byage.csv`, in years; `75up` is 75 and older."""
AGE_BAND_DTYPE = pd.CategoricalDtype(VACCINATION_AGE_BANDS, ordered=True)
SUPPRESSED = "<10"
"""How the files write a count below 10."""
_MEASURES = {"1PLUS": "people_1plus", "FULLY": "people_fully"}


def _non_blank(raw: pd.DataFrame) -> pd.DataFrame:
    """`raw` without the rows whose every field is blank (the separator rows of full-length releases)."""
    blank = raw.apply(lambda column: column.fillna("").astype(str).str.strip() == "").all(axis=1)
    return raw[~blank].reset_index(drop=True)


def _iso_dates(column: pd.Series, file: os.PathLike[str]) -> pd.Series:
    """YYYY-MM-DD strings as datetime64, increasing, with an error naming the first bad or repeated value."""
    dates = unique_dates(column, file, fmt="%Y-%m-%d", label="YYYY-MM-DD", name="DATE")
    if not dates.is_monotonic_increasing:
        raise DataFileError(f"{file}: DATE must increase row by row; {column[dates.diff() < pd.Timedelta(0)].iloc[0]!r}"
                            " comes after a later date.")
    return dates


def _counts(raw: pd.DataFrame, columns: list[str], file: os.PathLike[str]) -> pd.DataFrame:
    """Cumulative counts ("<10" read as 0), checked whole and >= 0, fully <= 1plus, never decreasing."""
    values = raw[columns].apply(lambda c: c.astype(str).str.strip().replace(SUPPRESSED, "0"))
    counts = as_counts(values, columns, file)
    falling = counts.diff().lt(0).any(axis=0)
    if falling.any():
        name = falling.index[falling][0]
        row = int(counts[name].diff().lt(0).to_numpy().argmax())
        raise DataFileError(f"{file}: cumulative column {name!r} falls from {counts[name].iloc[row - 1]} to "
                            f"{counts[name].iloc[row]} on {raw['DATE'].iloc[row]}; cumulative counts never decrease.")
    return counts


def _check_fully_within_1plus(table: pd.DataFrame, file: os.PathLike[str]) -> None:
    bad = table["people_fully"] > table["people_1plus"]
    if bad.any():
        row = table[bad].iloc[0]
        raise DataFileError(f"{file}: {row['people_fully']} fully vaccinated but {row['people_1plus']} with at least "
                            f"one dose on {row['date']:%Y-%m-%d} (row {row.to_dict()}); fully vaccinated people have "
                            "at least one dose.")


@shipped_fallback({"by": "borough"}, {"by": "age"})
def dohmh_vaccination(data_dir: str | os.PathLike[str] | None = None, *, by: str = "borough") -> pd.DataFrame:
    """Cumulative NYC residents vaccinated against COVID-19 per day, per borough of residence or per age band.

    A long table sorted by date, then group; columns:

    - `date` (datetime64): date of vaccination [DATE].
    - `borough` (categorical `BOROUGHS`, with `by="borough"`) or `age_band` (ordered categorical
      `VACCINATION_AGE_BANDS`, with `by="age"`).
    - `people_1plus` (int32): residents with at least one dose by that date [e.g. BX_COUNT_1PLUS_CUMULATIVE,
      COUNT_1PLUS_CUMULATIVE_75up]; `people_fully` (int32): of them, with a completed primary series
      [*_COUNT_FULLY_CUMULATIVE*]. "<10" reads 0.
    - with `by="age"` also `percent_1plus` (float32): people_1plus as a percentage of the band's 2019 intercensal
      population, as published (2 decimals; may exceed 100) [PERC_1PLUS_75up].

    Borough rows of a date sum to the citywide count (people without a borough are left out by DOHMH). Raises
    FileNotFoundError when the file is missing and DataFileError when it is malformed (not a CSV, missing columns,
    a date that is not YYYY-MM-DD, repeated or out of order, counts that are not whole numbers >= 0 or "<10",
    a cumulative count that falls, more people fully vaccinated than with one dose).
    """
    if by not in ("borough", "age"):
        raise ValueError(f"by must be 'borough' or 'age', got {by!r}")
    file = source_file(BY_BOROUGH_FILE if by == "borough" else BY_AGE_FILE, data_dir)
    if by == "borough":
        groups = {b: {m: f"{VACCINATION_BOROUGH_CODES[b]}_COUNT_{m}_CUMULATIVE" for m in _MEASURES} for b in BOROUGHS}
    else:
        groups = {band: {m: f"COUNT_{m}_CUMULATIVE_{band}" for m in _MEASURES} for band in VACCINATION_AGE_BANDS}
    columns = [name for names in groups.values() for name in names.values()]
    percents = [f"PERC_1PLUS_{band}" for band in VACCINATION_AGE_BANDS] if by == "age" else []
    raw = _non_blank(read_csv(file, columns=["DATE", *columns, *percents], dtype=str))
    dates = _iso_dates(raw["DATE"].str.strip(), file)
    counts = _counts(raw, columns, file)
    key = "borough" if by == "borough" else "age_band"
    parts = []
    for group, names in groups.items():
        part = pd.DataFrame({"date": dates, key: group})
        for measure, name in names.items():
            part[_MEASURES[measure]] = counts[name]
        if by == "age":
            percent = pd.to_numeric(raw[f"PERC_1PLUS_{group}"], errors="coerce")
            if percent.isna().any() or (percent < 0).any():
                raise DataFileError(f"{file}: column 'PERC_1PLUS_{group}' must hold percentages >= 0, found "
                                    f"{raw[f'PERC_1PLUS_{group}'][percent.isna() | (percent < 0)].iloc[0]!r}.")
            part["percent_1plus"] = percent.astype("float32")
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table[key] = table[key].astype(BOROUGH_DTYPE if by == "borough" else AGE_BAND_DTYPE)
    _check_fully_within_1plus(table, file)
    return table.sort_values(["date", key], ignore_index=True)
