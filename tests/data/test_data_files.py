"""Reading source files: each way a file can be wrong gives a DataFileError saying what was expected and found."""

import pandas as pd
import pytest

from populace.data import DataFileError
from populace.data.files import as_counts, read_csv, read_xlsx


def test_csv_empty_binary_wrong_columns_and_header_only(tmp_path):
    file = tmp_path / "table.csv"
    file.write_text("")
    with pytest.raises(DataFileError, match=r"is empty; expected a CSV file with columns \['a', 'b'\]"):
        read_csv(file, columns=["a", "b"])
    pd.DataFrame({"a": [1]}).to_excel(file, index=False)  # an xlsx under a .csv name
    with pytest.raises(DataFileError, match=r"is not a text CSV file"):
        read_csv(file, columns=["a", "b"])
    file.write_text("x,y\n1,2\n")
    with pytest.raises(DataFileError, match=r"missing column\(s\) \['a', 'b'\]\. Expected .* found \['x', 'y'\]"):
        read_csv(file, columns=["a", "b"])
    file.write_text("a,b\n")
    with pytest.raises(DataFileError, match=r"has a header but no data rows"):
        read_csv(file, columns=["a", "b"])


def test_csv_with_bytes_invalid_in_its_encoding(tmp_path):
    file = tmp_path / "table.csv"
    file.write_bytes("a,b\nDo\u00f1a Ana,1\n".encode("latin-1"))
    with pytest.raises(DataFileError, match=r"cannot be read as a CSV file"):
        read_csv(file, columns=["a", "b"])
    assert read_csv(file, columns=["a", "b"], encoding="latin-1")["a"].iloc[0] == "Do\u00f1a Ana"


def test_xlsx_not_a_workbook_empty_no_sheet_wrong_columns(tmp_path):
    file = tmp_path / "book.xlsx"
    file.write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match=r"not an xlsx workbook"):
        read_xlsx(file, sheet="Data", columns=["a"])
    file.write_bytes(b"")
    with pytest.raises(DataFileError, match=r"is empty; expected sheet 'Data'"):
        read_xlsx(file, sheet="Data", columns=["a"])
    file.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataFileError, match=r"cannot be read as an xlsx workbook"):
        read_xlsx(file, sheet="Data", columns=["a"])
    pd.DataFrame({"x": [1]}).to_excel(file, sheet_name="Other", index=False)
    with pytest.raises(DataFileError, match=r"no sheet 'Data'; found sheets \['Other'\]"):
        read_xlsx(file, sheet="Data", columns=["a"])
    pd.DataFrame({"x": [1]}).to_excel(file, sheet_name="Data", index=False)
    with pytest.raises(DataFileError, match=r"missing column\(s\) \['a'\]\. Expected columns \['a'\]; found \['x'\]"):
        read_xlsx(file, sheet="Data", columns=["a"])


@pytest.mark.parametrize("bad", [-1, 2.5, "n/a", None])
def test_counts_must_be_whole_non_negative_numbers(tmp_path, bad):
    frame = pd.DataFrame({"n": [3, bad]}, dtype=object)
    with pytest.raises(DataFileError, match=r"column 'n' must hold whole numbers >= 0, found .* in data row 1"):
        as_counts(frame, ["n"], tmp_path / "t.csv")
    counts = as_counts(pd.DataFrame({"n": [3.0, 0.0]}), ["n"], tmp_path / "t.csv")
    assert counts["n"].dtype == "int32"
    assert counts["n"].tolist() == [3, 0]
