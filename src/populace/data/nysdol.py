"""New York State Department of Labor, Local Area Unemployment Statistics: monthly labour force per NYC county.

Files `nyc/nysdol/<Borough>-Table.csv` (Bronx, Brooklyn, Manhattan, Queens, Staten_Island), not seasonally
adjusted, "Revised 2019-2023 Labor Force Data" (the copies here stop at 2021-06). Quirks: three header lines (a
title, then the column names split over two lines: `,,,Labor Force,Employed,Unemployed,Unemployment` and
`Area,Year,Month,,,,Rate (%)`); areas are county names ("Kings County", "New York  County" with two spaces);
numbers are quoted and padded with a tab and spaces, with thousands commas (`" \t889,200 "`); each year ends with
an `Avg` row (the annual average), which the loader drops. The publisher's full-length tables (later years) put a
blank separator row (`,,,,,,`) between years: rows with every field blank are skipped, any other row is checked.
"""

import os

import pandas as pd

from populace.data.boroughs import BOROUGH_DTYPE, BOROUGHS, borough_from
from populace.data.errors import DataFileError
from populace.data.files import as_counts, read_csv
from populace.data.paths import source_file
from populace.data.shipped import shipped_fallback

_COLUMNS = ["area", "year", "month", "labor_force", "employed", "unemployed", "unemployment_rate"]
_MONTHS = {name: number for number, name in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}


def nysdol_file(borough: str) -> str:
    """The data-directory path of one borough's table, e.g. "nyc/nysdol/Staten_Island-Table.csv"."""
    return f"nyc/nysdol/{borough.replace(' ', '_')}-Table.csv"


def _read_table(borough: str, data_dir: str | os.PathLike[str] | None) -> pd.DataFrame:
    file = source_file(nysdol_file(borough), data_dir)
    raw = read_csv(file, columns=_COLUMNS, header=None, names=_COLUMNS, skiprows=3, dtype=str)
    with file.open(encoding="utf-8", errors="replace") as stream:
        header = [stream.readline().strip() for _ in range(3)]
    if not (header[1].startswith(",,,Labor Force,Employed,Unemployed") and header[2].startswith("Area,Year,Month")):
        raise DataFileError(f"{file}: expected a title line, then ',,,Labor Force,Employed,Unemployed,Unemployment' "
                            f"and 'Area,Year,Month,,,,Rate (%)'; found {header}.")
    raw = raw[~raw.apply(lambda column: column.fillna("").str.strip() == "").all(axis=1)]  # separator rows
    areas = borough_from(raw["area"], source=str(file))
    if (areas != borough).any():
        raise DataFileError(f"{file}: expected rows for {borough} only, found areas {sorted(set(raw['area']))}.")
    monthly = raw[raw["month"].str.strip() != "Avg"].reset_index(drop=True)
    months = monthly["month"].str.strip().map(_MONTHS)
    years = pd.to_numeric(monthly["year"], errors="coerce")
    if months.isna().any() or years.isna().any():
        bad = monthly[months.isna() | years.isna()].iloc[0]
        raise DataFileError(f"{file}: year {bad['year']!r} / month {bad['month']!r} is not a year and a month "
                            f"name (Jan ... Dec, or Avg).")
    numbers = monthly[_COLUMNS[3:]].apply(lambda c: c.str.replace(",", "").str.strip())
    table = as_counts(numbers, _COLUMNS[3:6], file)
    rate = pd.to_numeric(numbers["unemployment_rate"], errors="coerce")
    if not rate.between(0, 100).all():
        raise DataFileError(f"{file}: unemployment rate {monthly['unemployment_rate'][~rate.between(0, 100)].iloc[0]!r}"
                            " is not a percentage.")
    table.insert(0, "month", pd.to_datetime(pd.DataFrame({"year": years, "month": months, "day": 1})))
    table["unemployment_rate"] = rate.astype("float32")
    if table["month"].duplicated().any():
        raise DataFileError(f"{file}: month {table['month'][table['month'].duplicated()].iloc[0]:%Y-%m} appears twice.")
    return table


@shipped_fallback({})
def nysdol_unemployment(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Monthly labour force, employment and unemployment rate per borough (residents, not seasonally adjusted).

    One row per borough x month, sorted by borough and month; annual `Avg` rows dropped. Columns:

    - `borough` (categorical): the table's county (Area "Kings County" -> Brooklyn, "New York  County" ->
      Manhattan, "Richmond County" -> Staten Island).
    - `month` (datetime64, first day of the month) [Year, Month].
    - `labor_force`, `employed`, `unemployed` (int32, persons, rounded to hundreds) [Labor Force, Employed,
      Unemployed]; labor_force = employed + unemployed up to that rounding.
    - `unemployment_rate` (float32, percent, 1 decimal) [Unemployment Rate (%)] = 100 unemployed / labor_force.

    Raises FileNotFoundError when a borough's table is missing, DataFileError when one is malformed (not a CSV,
    empty, other header lines, another county's rows, a month that is not Jan ... Dec, numbers that do not parse).
    """
    tables = [_read_table(borough, data_dir).assign(borough=borough) for borough in BOROUGHS]
    table = pd.concat(tables, ignore_index=True)
    table["borough"] = table["borough"].astype(BOROUGH_DTYPE)
    columns = ["borough", "month", "labor_force", "employed", "unemployed", "unemployment_rate"]
    return table.sort_values(["borough", "month"], ignore_index=True)[columns]
