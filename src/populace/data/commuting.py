"""US Census Bureau ACS 2009-2013 county-to-county commuting flows, for workers who live in New York City.

File `nyc/commuting/jtw2009_2013_nyc_origin.csv`: the Census Bureau's "Table 1. Residence County to Workplace County
Commuting Flows" (ACS 2009-2013 5-year; public domain) as converted to CSV in the public repository
larsvilhuber/MobZ (`raw/jtw2009_2013.csv`, 137,495 rows for every US residence county); the copy here keeps the
header and the rows of the five NYC residence counties (730 rows). Columns: `h_state_fips`, `h_county_fips`
(residence), `w_state_fips`, `w_county_fips` (workplace), `flow` (workers 16 and over), `moe` (90% margin of
error). Quirks: the residence state has 2 digits (`36`), the workplace state 3 (`036`), counties 3 (`005`); a
workplace state of 3xx (e.g. `301`, `303`) with county `NA` is an ACS place-of-work code for a foreign country;
`NA,NA` is a worker without a workplace code in the converted file. The table counts a worker's primary job in the
reference week, before the pandemic (no remote work).

The loader reads the full-length table as well as the NYC subset: rows of other residence counties are dropped.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from populace.data.boroughs import BOROUGH_DTYPE, BOROUGHS, COUNTY_FIPS
from populace.data.errors import DataFileError
from populace.data.files import as_counts, read_csv
from populace.data.paths import source_file
from populace.data.shipped import shipped_fallback

COMMUTING_FILE = "nyc/commuting/jtw2009_2013_nyc_origin.csv"
OUTSIDE_NYC = "outside NYC"
"""The `work_borough` of workers whose workplace is not in the five boroughs (other counties, abroad, unknown)."""
WORK_BOROUGH_DTYPE = pd.CategoricalDtype((*BOROUGHS, OUTSIDE_NYC), ordered=True)
NEW_YORK_STATE = 36
FOREIGN_STATE_CODES = range(300, 400)
"""ACS place-of-work "state" codes of foreign countries (their county is NA)."""

_COLUMNS = ["h_state_fips", "h_county_fips", "w_state_fips", "w_county_fips", "flow", "moe"]
_MISSING = "NA"
_BOROUGH_OF_FIPS = {code: name for name, code in COUNTY_FIPS.items()}


def _codes(raw: pd.DataFrame, column: str, file: os.PathLike[str], *, allow_missing: bool) -> pd.Series:
    """A FIPS code column as numbers (NaN for "NA" where allowed), with an error naming the first bad value."""
    values = raw[column].str.strip()
    numbers = pd.to_numeric(values.where(values != _MISSING), errors="coerce")
    bad = numbers.isna() & ((values != _MISSING) | (not allow_missing))
    bad |= ~numbers.isna() & ((numbers < 0) | (numbers != numbers.round()))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        expected = "digits, or NA" if allow_missing else "digits"
        raise DataFileError(f"{file}: column {column!r} must hold FIPS codes ({expected}), found "
                            f"{raw[column].iloc[row]!r} in data row {row} ({int(bad.sum())} bad value(s)).")
    return numbers


def _work_boroughs(state: pd.Series, county: pd.Series, nyc: pd.DataFrame, file: os.PathLike[str]) -> pd.Series:
    """Each row's workplace: a borough, or OUTSIDE_NYC (another county, a foreign country, or no code)."""
    # a county code is missing exactly for foreign countries (3xx) and for rows without any workplace code
    no_county_expected = state.isna() | state.isin(FOREIGN_STATE_CODES)
    inconsistent = county.isna() != no_county_expected
    if inconsistent.any():
        row = nyc[inconsistent].iloc[0]
        raise DataFileError(f"{file}: workplace state {row['w_state_fips']!r} with county {row['w_county_fips']!r}: "
                            "a county is NA exactly when the state is NA or a foreign-country code 3xx (SOURCES.md).")
    borough = county.map(_BOROUGH_OF_FIPS).where(state == NEW_YORK_STATE)
    return borough.fillna(OUTSIDE_NYC).astype(WORK_BOROUGH_DTYPE)


@shipped_fallback({})
def acs_commuting_flows(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Workers living in each borough by borough of work (or outside NYC): 5 x 6 = 30 rows, sorted.

    ACS 2009-2013 5-year estimates of workers 16 and over (source column in brackets):

    - `home_borough` (categorical): the residence county [h_state_fips 36, h_county_fips 005 ... 085].
    - `work_borough` (categorical: the five boroughs, then "outside NYC"): the workplace county [w_state_fips 036,
      w_county_fips 005 ... 085]; every other workplace is "outside NYC": other New York counties, other states
      (e.g. New Jersey, 034), foreign countries (3xx) and rows without a workplace code (NA, NA).
    - `workers` (int32): the sum of the rows' flows [flow].
    - `moe` (int32): 90% margin of error of that sum, sqrt(sum of the rows' moe^2) rounded (the Census Bureau's
      approximation for sums of ACS estimates) [moe].
    - `share` (float64): workers / all workers of the home borough; each borough's six shares sum to 1.

    Rows of other residence counties (the publisher's full-length table) are dropped. Raises FileNotFoundError when
    the file is missing, DataFileError when it is malformed (not a CSV, empty, missing columns, codes that are not
    FIPS codes, a county NA without a foreign or NA state, a flow or margin that is not a whole number >= 0, a
    residence-workplace pair listed twice, or a borough without rows).
    """
    file = source_file(COMMUTING_FILE, data_dir)
    raw = read_csv(file, columns=_COLUMNS, dtype=str, keep_default_na=False)
    home_state = _codes(raw, "h_state_fips", file, allow_missing=False)
    home_county = _codes(raw, "h_county_fips", file, allow_missing=False)
    is_nyc = ((home_state == NEW_YORK_STATE) & home_county.isin(COUNTY_FIPS.values())).to_numpy()
    nyc, home = raw[is_nyc].reset_index(drop=True), home_county[is_nyc].reset_index(drop=True)
    missing = [b for b in BOROUGHS if not (home == COUNTY_FIPS[b]).any()]
    if missing:
        raise DataFileError(f"{file}: no rows with residence state 36 and county "
                            f"{[f'{COUNTY_FIPS[b]:03d}' for b in missing]} ({missing}); is this the residence "
                            "county to workplace county table (SOURCES.md)?")
    state = _codes(nyc, "w_state_fips", file, allow_missing=True)
    county = _codes(nyc, "w_county_fips", file, allow_missing=True)
    twice = pd.DataFrame({"home": home, "state": state, "county": county}).duplicated()
    if twice.any():
        row = nyc[twice].iloc[0]
        raise DataFileError(f"{file}: residence {row['h_state_fips']}-{row['h_county_fips']} to workplace "
                            f"{row['w_state_fips']}-{row['w_county_fips']} appears twice.")
    counts = as_counts(nyc, ["flow", "moe"], file, dtype="int64")
    rows = pd.DataFrame({"home_borough": home.map(_BOROUGH_OF_FIPS).astype(BOROUGH_DTYPE),
                         "work_borough": _work_boroughs(state, county, nyc, file),
                         "workers": counts["flow"], "moe_squared": counts["moe"].astype("float64") ** 2})
    table = rows.groupby(["home_borough", "work_borough"], observed=False).sum().reset_index()
    table["workers"] = table["workers"].astype("int32")
    table["moe"] = table["moe_squared"].map(lambda v: round(math.sqrt(v))).astype("int32")
    total = table.groupby("home_borough", observed=False)["workers"].transform("sum").astype("float64")
    table["share"] = table["workers"] / total
    return table[["home_borough", "work_borough", "workers", "moe", "share"]]


def commuting_shares(flows: pd.DataFrame) -> np.ndarray:
    """The [5, 6] matrix of `share` (rows: home borough in `BOROUGHS` order; columns: work borough, then outside
    NYC) from an `acs_commuting_flows` table; each row sums to 1."""
    matrix = flows.pivot(index="home_borough", columns="work_borough", values="share")
    return matrix.reindex(index=list(BOROUGHS), columns=list(WORK_BOROUGH_DTYPE.categories)).to_numpy(np.float64)
