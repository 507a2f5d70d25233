"""AgentTable: shapes, dtypes, ids, immutability, Parquet round trips and bad input."""

import numpy as np
import pandas as pd
import pytest
import torch

from populace.core import AgentTable, PopulationFileError


def _table(n: int = 5) -> AgentTable:
    return AgentTable({
        "age": torch.arange(n, dtype=torch.uint8) * 10,
        "household": torch.arange(n, dtype=torch.int32) // 2,
        "income": torch.linspace(0, 1, n, dtype=torch.float32),
        "is_worker": torch.arange(n) % 2 == 0,
    })


def test_columns_ids_and_access():
    t = _table()
    assert t.n == 5
    assert t.columns == ("age", "household", "income", "is_worker", "id")
    assert t.ids.dtype == torch.int32
    assert t.ids.tolist() == [0, 1, 2, 3, 4]
    assert torch.equal(t.age, t["age"])
    assert t.nbytes() == 5 * (1 + 4 + 4 + 1 + 4)


def test_with_columns_returns_new_table_and_shares_the_rest():
    t = _table()
    u = t.with_columns(age=torch.zeros(5, dtype=torch.uint8))
    assert t.age.tolist() == [0, 10, 20, 30, 40]
    assert u.age.tolist() == [0] * 5
    assert u.income is t.income


def test_take_reorders_every_column_with_its_ids():
    t = _table()
    perm = torch.tensor([4, 2, 0, 1, 3])
    s = t.take(perm)
    assert s.ids.tolist() == [4, 2, 0, 1, 3]
    assert s.age.tolist() == [40, 20, 0, 10, 30]


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int16, torch.int32, torch.int64, torch.float32,
                                   torch.float64])
def test_parquet_round_trip_keeps_values_and_dtypes(tmp_path, dtype):
    values = (torch.arange(7) % 3).to(dtype)
    t = AgentTable({"x": values})
    back = AgentTable.from_parquet(t.to_parquet(tmp_path / "p.parquet"))
    assert back.x.dtype == dtype
    assert torch.equal(back.x, values)
    assert torch.equal(back.ids, t.ids)


def test_parquet_column_selection_and_pandas_round_trip(tmp_path):
    t = _table()
    path = t.to_parquet(tmp_path / "t.parquet")
    only = AgentTable.from_parquet(path, columns=["age", "id"])
    assert only.columns == ("age", "id")
    frame = t.to_pandas()
    assert list(frame.columns) == list(t.columns)
    assert torch.equal(AgentTable.from_pandas(frame).household, t.household)


@pytest.mark.parametrize(
    ("columns", "error", "match"),
    [
        ({}, ValueError, "at least one column"),
        ({"a": torch.zeros(3), "b": torch.zeros(4)}, ValueError, "same number of rows"),
        ({"a": torch.tensor(1.0)}, ValueError, "is a scalar"),
        ({"a": torch.zeros(3, dtype=torch.complex64)}, TypeError, "dtype torch.complex64"),
        ({"not a name": torch.zeros(3)}, ValueError, "Python identifiers"),
        ({"a": torch.zeros(3), "id": torch.tensor([0, 1, 1])}, ValueError, "unique; 1 are repeated"),
        ({"a": torch.zeros(2), "id": torch.tensor([-1, 0])}, ValueError, "ids must be >= 0"),
        ({"a": torch.zeros(2), "id": torch.tensor([0.0, 1.0])}, TypeError, "int32 or int64"),
    ],
)
def test_bad_tables_raise_specific_errors(columns, error, match):
    with pytest.raises(error, match=match):
        AgentTable(columns)


def test_unknown_column_lists_the_columns_there_are():
    with pytest.raises(KeyError, match=r"no column 'agee' \(it has: age, household"):
        _table()["agee"]
    with pytest.raises(AttributeError, match="no column 'agee'"):
        _table().agee  # noqa: B018


def test_with_columns_rejects_wrong_length():
    with pytest.raises(ValueError, match="'age' has 4 rows but the table has 5 agents"):
        _table().with_columns(age=torch.zeros(4, dtype=torch.uint8))


def test_file_that_is_not_parquet_is_refused(tmp_path):
    bogus = tmp_path / "people.parquet"
    bogus.write_text("id,age\n0,34\n")
    with pytest.raises(PopulationFileError, match="is not a Parquet file"):
        AgentTable.from_parquet(bogus)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        AgentTable.from_parquet(tmp_path / "missing.parquet")


def test_parquet_with_text_or_missing_values_is_refused(tmp_path):
    text = tmp_path / "text.parquet"
    pd.DataFrame({"borough": ["Bronx", "Queens"]}).to_parquet(text)
    with pytest.raises(PopulationFileError, match=r"'borough' has type (large_)?string"):
        AgentTable.from_parquet(text)
    holes = tmp_path / "holes.parquet"
    pd.DataFrame({"age": pd.array([3, None], dtype="Int64")}).to_parquet(holes)
    with pytest.raises(PopulationFileError, match="'age' has 1 missing values"):
        AgentTable.from_parquet(holes)
    with pytest.raises(KeyError, match=r"no column\(s\) \['sex'\]"):
        AgentTable.from_parquet(text, columns=["sex"])


def test_from_pandas_refuses_text_and_missing_values():
    with pytest.raises(TypeError, match="encode categories as integer codes"):
        AgentTable.from_pandas(pd.DataFrame({"borough": np.array(["Bronx"], dtype=object)}))
    with pytest.raises(ValueError, match="has 1 missing values"):
        AgentTable.from_pandas(pd.DataFrame({"age": [1.0, np.nan]}))
