"""DOHMH weekly variants of sequenced cases: the real file (Alpha, Iota, then Delta) and full-length quirks."""

import pandas as pd
import pytest

from populace.data import DataFileError, dohmh_variants
from populace.data.variants import VARIANTS, VARIANTS_FILE


@pytest.mark.needs_data
def test_weekly_counts_of_the_real_file():
    table = dohmh_variants()
    assert len(table) == 26
    assert table["week_ending"].iloc[0] == pd.Timestamp("2021-01-02")
    assert table["week_ending"].iloc[-1] == pd.Timestamp("2021-06-26")
    assert (table[list(VARIANTS)].sum(axis=1) == table["sequenced"]).all()
    first, april, last = table.iloc[0], table.iloc[14], table.iloc[-1]  # weeks ending 01-02, 04-10, 06-26
    assert (first["sequenced"], first["alpha"], first["iota"], first["delta"]) == (618, 4, 36, 0)
    assert (april["alpha"], april["iota"]) == (786, 875)  # 3 + 33 Iota in week 1: both B.1.526 columns
    assert last["delta"] == 72
    assert last["delta"] / last["sequenced"] == pytest.approx(0.402, abs=1e-3)


HEADER = ('"Sequence week","B.1.526 +E484K count","B.1.526 +E484K  percent","B.1.526 no E484K count",'
          '"B.1.1.7 count","P.1 count","B.1.617.2 count","KP.2 count","Other count","incomplete"')


def _write(tmp_path, rows: list[str]):
    file = tmp_path / VARIANTS_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode())
    return tmp_path


def test_full_length_file_with_new_lineages_blank_rows_and_incomplete_weeks(tmp_path):
    rows = ["01/02/2021,1,0,2,3,4,0,0,10,", ",,,,,,,,,", "05/18/2024,0,0,0,0,0,1,6,2,*"]
    table = dohmh_variants(_write(tmp_path, rows))
    assert table["week_ending"].tolist() == [pd.Timestamp("2021-01-02"), pd.Timestamp("2024-05-18")]
    assert table[["sequenced", "other", "alpha", "iota", "delta"]].values.tolist() == [[20, 14, 3, 3, 0],
                                                                                       [9, 8, 0, 0, 1]]
    assert table["is_incomplete"].tolist() == [False, True]


@pytest.mark.parametrize(("rows", "message"), [
    (["2021-01-02,1,0,2,3,4,0,0,10,"], r"'2021-01-02' is not MM/DD/YYYY"),
    (["01/03/2021,1,0,2,3,4,0,0,10,"], r"'01/03/2021' is not a Saturday"),
    (["01/09/2021,1,0,2,3,4,0,0,10,", "01/02/2021,1,0,2,3,4,0,0,10,"], r"must increase row by row"),
    (["01/02/2021,1,0,-2,3,4,0,0,10,"], r"'B.1.526 no E484K count' must hold whole numbers >= 0, found '-2'"),
])
def test_mistakes_are_refused(tmp_path, rows, message):
    with pytest.raises(DataFileError, match=message):
        dohmh_variants(_write(tmp_path, rows))
