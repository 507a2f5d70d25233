"""NYS DOL monthly labour force per borough: every table parses (Manhattan's "New York  County" too), Avg rows go,
and the published rounding ties the columns together."""

import csv

import pandas as pd
import pytest

from populace.data import BOROUGHS, DataFileError, data_dir, nysdol_unemployment
from populace.data.nysdol import nysdol_file

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def unemployment():
    return nysdol_unemployment()


def test_thirty_months_per_borough_without_annual_averages(unemployment):
    months = pd.date_range("2019-01-01", "2021-06-01", freq="MS")
    assert len(unemployment) == 5 * len(months)
    for borough in BOROUGHS:
        assert unemployment.loc[unemployment["borough"] == borough, "month"].tolist() == months.tolist()


def test_manhattan_parses_despite_its_two_space_county_name(unemployment):
    manhattan = unemployment[unemployment["borough"] == "Manhattan"].set_index("month")
    assert "New York  County" in (data_dir() / nysdol_file("Manhattan")).read_text()
    assert manhattan.loc["2020-04-01", "labor_force"] == 810_700
    assert manhattan.loc["2020-05-01", "unemployment_rate"] == pytest.approx(16.3)


def test_columns_agree_within_the_published_rounding(unemployment):
    u = unemployment
    # Counts are rounded to hundreds: employed + unemployed is labor_force within 100.
    assert ((u["employed"] + u["unemployed"] - u["labor_force"]).abs() <= 100).all()
    # The rate has one decimal and is computed before the counts are rounded: within 0.1 point.
    assert ((100 * u["unemployed"] / u["labor_force"] - u["unemployment_rate"]).abs() < 0.1).all()
    # Unemployment peaked in May 2020 in every borough, highest in the Bronx (26.2%).
    peaks = u.loc[u.groupby("borough", observed=True)["unemployment_rate"].idxmax()]
    assert (peaks["month"] == pd.Timestamp("2020-05-01")).all()
    assert peaks.set_index("borough")["unemployment_rate"].idxmax() == "Bronx"


def test_dropped_annual_averages_are_the_means_of_the_months(unemployment):
    with (data_dir() / nysdol_file("Staten Island")).open(newline="") as stream:
        averages = {int(row[1]): int(row[3].replace(",", "").strip()) for row in csv.reader(stream)
                    if len(row) > 3 and row[2] == "Avg"}
    assert sorted(averages) == [2019, 2020]  # 2021 is cut at June, before its Avg row
    island = unemployment[unemployment["borough"] == "Staten Island"]
    for year, average in averages.items():
        monthly_mean = island.loc[island["month"].dt.year == year, "labor_force"].mean()
        assert abs(monthly_mean - average) <= 50  # months rounded to hundreds, Avg to units


HEADER = "Revised 2019-2023 Labor Force Data,,,,,,\n,,,Labor Force,Employed,Unemployed,Unemployment\n" \
         "Area,Year,Month,,,,Rate (%)\n"


def _tables(tmp_path, manhattan: str):
    for borough in BOROUGHS:
        file = tmp_path / nysdol_file(borough)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text((data_dir() / nysdol_file(borough)).read_text())
    (tmp_path / nysdol_file("Manhattan")).write_text(manhattan)
    return tmp_path


def test_missing_table_wrong_header_wrong_county_bad_month(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nysdol/Bronx-Table\.csv not found in .*POPULACE_DATA"):
        nysdol_unemployment(tmp_path)
    row = 'New York  County,2020,Jan," \t966,500 "," \t931,300 "," \t35,100 ", \t3.6 \n'
    assert len(nysdol_unemployment(_tables(tmp_path, HEADER + row))) == 4 * 30 + 1
    with pytest.raises(DataFileError, match=r"expected a title line, then ',,,Labor Force"):
        nysdol_unemployment(_tables(tmp_path, "Area,Year,Month\n" + HEADER + row))
    with pytest.raises(DataFileError, match=r"expected rows for Manhattan only, found areas \['Bronx County'"):
        nysdol_unemployment(_tables(tmp_path, HEADER + row.replace("New York  County", "Bronx County")))
    with pytest.raises(DataFileError, match=r"month 'Janvier' is not a year and a month name"):
        nysdol_unemployment(_tables(tmp_path, HEADER + row.replace("Jan", "Janvier")))


def test_full_length_tables_with_blank_separator_rows_between_years_parse(tmp_path):
    # the publisher's full table: 2019-2023, each year's months, its Avg row, then a blank separator row
    rows = []
    for year in range(2019, 2024):
        rows += [f'New York  County,{year},{month}," \t966,500 "," \t931,300 "," \t35,200 ", \t3.6 \n'
                 for month in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
                               "Avg")]
        rows.append(",,,,,,\n")
    manhattan = nysdol_unemployment(_tables(tmp_path, HEADER + "".join(rows)))
    manhattan = manhattan[manhattan["borough"] == "Manhattan"]
    assert manhattan["month"].tolist() == pd.date_range("2019-01-01", "2023-12-01", freq="MS").tolist()
    assert (manhattan["unemployed"] == 35_200).all()
    half_blank = ',2020,Jan," \t966,500 "," \t931,300 "," \t35,200 ", \t3.6 \n'  # a row missing its area
    with pytest.raises(DataFileError, match="nan"):
        nysdol_unemployment(_tables(tmp_path, HEADER + "".join(rows) + half_blank))
