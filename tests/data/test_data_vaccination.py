"""DOHMH vaccination trends: the real files (boroughs sum to citywide, the last day's counts) and the quirks of
full-length releases (later dates, booster columns, blank separator rows, "<10"), with clear errors on mistakes."""

import pandas as pd
import pytest

from populace.data import BOROUGHS, DataFileError, dohmh_vaccination
from populace.data.vaccination import BY_AGE_FILE, BY_BOROUGH_FILE, VACCINATION_AGE_BANDS, VACCINATION_BOROUGH_CODES


@pytest.mark.needs_data
def test_borough_table_from_the_first_dose_to_the_cut_sums_to_citywide():
    table = dohmh_vaccination(by="borough")
    dates = pd.date_range("2020-12-14", "2021-06-30", freq="D")
    assert table["date"].unique().tolist() == dates.tolist()
    assert table["borough"].iloc[:5].tolist() == list(BOROUGHS)
    last = table[table["date"] == dates[-1]].set_index("borough")
    assert last.loc["Bronx", "people_1plus"] == 684_096
    assert last.loc["Staten Island", "people_fully"] == 236_034
    # SOURCES.md: borough columns sum exactly to CITY_ (4,791,037 with 1+ dose, 4,412,587 fully, on 2021-06-30)
    assert last["people_1plus"].sum() == 4_791_037
    assert last["people_fully"].sum() == 4_412_587
    assert (table["people_fully"] <= table["people_1plus"]).all()


@pytest.mark.needs_data
def test_age_table_bands_and_published_percentages():
    table = dohmh_vaccination(by="age")
    assert table["age_band"].cat.categories.tolist() == list(VACCINATION_AGE_BANDS)
    last = table[table["date"] == "2021-06-30"].set_index("age_band")
    assert last["people_1plus"].sum() == 4_791_037
    assert last.loc["75up", "people_1plus"] == 391_850
    assert last.loc["65_74", "percent_1plus"] == pytest.approx(82.19)
    first = table[table["date"] == "2020-12-14"].set_index("age_band")
    assert first.loc["0_4", "people_1plus"] == 0  # "<10" reads 0


def _borough_file(rows: list[str], extra: str = "") -> str:
    columns = [f"{VACCINATION_BOROUGH_CODES[b]}_COUNT_{m}_CUMULATIVE" for b in BOROUGHS for m in ("FULLY", "1PLUS")]
    header = ",".join(f'"{c}"' for c in ["DATE", *columns]) + extra
    return "\r\n".join([header, *rows]) + "\r\n"


def _write(tmp_path, name: str, text: str):
    file = tmp_path / name
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return tmp_path


def test_full_length_release_with_later_dates_booster_columns_and_blank_rows(tmp_path):
    rows = ['2020-12-14,"<10",30,0,5,0,0,0,0,0,0,0', "", ",,,,,,,,,,,", "2023-06-01,20,40,1,5,0,0,0,0,0,0,7"]
    table = dohmh_vaccination(_write(tmp_path, BY_BOROUGH_FILE, _borough_file(rows, ',"BK_COUNT_BIVALENT"')))
    assert table["date"].unique().tolist() == [pd.Timestamp("2020-12-14"), pd.Timestamp("2023-06-01")]
    bronx = table[table["borough"] == "Bronx"]
    assert bronx["people_fully"].tolist() == [0, 20]
    assert bronx["people_1plus"].tolist() == [30, 40]


@pytest.mark.parametrize(("rows", "message"), [
    (["12/14/2020,0,1,0,0,0,0,0,0,0,0"], r"DATE '12/14/2020' is not YYYY-MM-DD"),
    (["2020-12-14,0,1,0,0,0,0,0,0,0,0"] * 2, r"DATE '2020-12-14' appears twice"),
    (["2020-12-15,0,1,0,0,0,0,0,0,0,0", "2020-12-14,0,1,0,0,0,0,0,0,0,0"], r"must increase row by row"),
    (["2020-12-14,0,5,0,0,0,0,0,0,0,0", "2020-12-15,0,4,0,0,0,0,0,0,0,0"], r"'BX_COUNT_1PLUS_CUMULATIVE' falls from 5"),
    (["2020-12-14,0,1.5,0,0,0,0,0,0,0,0"], r"whole numbers >= 0, found '1.5'"),
    (["2020-12-14,9,3,0,0,0,0,0,0,0,0"], r"9 fully vaccinated but 3 with at least one dose"),
])
def test_mistakes_are_refused_with_what_is_wrong(tmp_path, rows, message):
    with pytest.raises(DataFileError, match=message):
        dohmh_vaccination(_write(tmp_path, BY_BOROUGH_FILE, _borough_file(rows)))


def test_missing_columns_and_unknown_grouping(tmp_path):
    with pytest.raises(DataFileError, match=r"missing column\(s\) \['COUNT_1PLUS_CUMULATIVE_0_4'"):
        dohmh_vaccination(_write(tmp_path, BY_AGE_FILE, "DATE,CITY_COUNT_1PLUS_CUMULATIVE\n2020-12-14,5\n"), by="age")
    with pytest.raises(ValueError, match="by must be 'borough' or 'age'"):
        dohmh_vaccination(tmp_path, by="zip")


def test_without_raw_data_the_shipped_tables_serve_the_model(monkeypatch):
    from populace.data import dohmh_variants, paths, shipped

    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    monkeypatch.setattr(paths, "_candidates", lambda: [])
    assert shipped.using_shipped()
    by_borough, by_age = dohmh_vaccination(by="borough"), dohmh_vaccination(by="age")
    assert by_borough["date"].min() == pd.Timestamp("2020-12-14")
    assert by_borough[by_borough["date"] == by_borough["date"].max()]["people_1plus"].sum() == 4_791_037
    assert set(by_age["age_band"]) == set(VACCINATION_AGE_BANDS)
    assert dohmh_variants()["sequenced"].iloc[0] == 618
