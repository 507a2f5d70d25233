"""`AgentTable`: a population as a struct of arrays, one named tensor per attribute, one row per agent."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import Tensor

from populace.core.errors import PopulationFileError

ID_COLUMN = "id"
"""The column that holds each agent's stable id (the key of its random numbers); added when missing."""

ALLOWED_DTYPES = (
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
)


class AgentTable(Mapping[str, Tensor]):
    """Named tensors with one row per agent: `table["age"]` or `table.age` is a tensor of shape [N, ...].

    A table is immutable: `with_columns` returns a new table that shares the unchanged tensors, so updating
    one column of a million agents copies nothing else. Every column lives on one device. The `id` column
    (int32, or int64 past 2**31 agents) numbers the agents; it is added as 0..N-1 when absent and keys the
    counter-based random numbers, so reordering the rows does not change any agent's draws.

    >>> t = AgentTable({"age": torch.tensor([34, 7], dtype=torch.uint8)})
    >>> t.n, t.columns
    (2, ('age', 'id'))
    """

    def __init__(self, columns: Mapping[str, Tensor | np.ndarray], *, validate: bool = True):
        cols = {name: _as_tensor(name, value) for name, value in columns.items()}
        if not cols:
            raise ValueError("an AgentTable needs at least one column, got none")
        n = _common_length(cols)
        if ID_COLUMN not in cols:
            first = next(iter(cols.values()))
            id_dtype = torch.int32 if n < 2**31 else torch.int64
            cols[ID_COLUMN] = torch.arange(n, dtype=id_dtype, device=first.device)
        _check_devices(cols)
        if validate:
            _check_ids(cols[ID_COLUMN])
        self._columns = cols
        self._n = n

    @property
    def n(self) -> int:
        """Number of agents (rows)."""
        return self._n

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._columns)

    @property
    def ids(self) -> Tensor:
        """Stable agent ids, [N]."""
        return self._columns[ID_COLUMN]

    @property
    def device(self) -> torch.device:
        return self.ids.device

    def __getitem__(self, name: str) -> Tensor:
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(
                f"agent table has no column {name!r} (it has: {', '.join(self._columns)}). "
                "Add it with table.with_columns(...)"
            ) from None

    def __getattr__(self, name: str) -> Tensor:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._columns[name]
        except KeyError:
            raise AttributeError(
                f"agent table has no column {name!r} (it has: {', '.join(self._columns)})"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __repr__(self) -> str:
        cols = ", ".join(f"{k}: {str(v.dtype).removeprefix('torch.')}{list(v.shape[1:]) or ''}"
                         for k, v in self._columns.items())
        return f"AgentTable(n={self._n}, {cols})"

    def with_columns(self, columns: Mapping[str, Tensor | np.ndarray] | None = None, **more: Tensor) -> AgentTable:
        """A new table with these columns added or replaced (each of length N)."""
        changes = {**(columns or {}), **more}
        new = {name: _as_tensor(name, value) for name, value in changes.items()}
        for name, value in new.items():
            if value.shape[0] != self._n:
                raise ValueError(
                    f"column {name!r} has {value.shape[0]} rows but the table has {self._n} agents"
                )
        return AgentTable({**self._columns, **new}, validate=ID_COLUMN in new)

    def drop(self, *names: str) -> AgentTable:
        """A new table without these columns (the id column cannot be dropped)."""
        for name in names:
            self[name]  # raises the informative KeyError
        if ID_COLUMN in names:
            raise ValueError("the id column cannot be dropped: it keys each agent's random numbers")
        return AgentTable({k: v for k, v in self._columns.items() if k not in names}, validate=False)

    def take(self, index: Tensor) -> AgentTable:
        """Rows `index` (int tensor) of every column, in that order, ids included."""
        return AgentTable({k: v[index] for k, v in self._columns.items()})

    def to(self, device: str | torch.device) -> AgentTable:
        return AgentTable({k: v.to(device) for k, v in self._columns.items()}, validate=False)

    def nbytes(self) -> int:
        """Memory held by the columns, in bytes."""
        return sum(v.element_size() * v.numel() for v in self._columns.values())

    # ---- Parquet / pandas -------------------------------------------------------------------------------

    def to_pandas(self) -> pd.DataFrame:
        """One DataFrame column per 1-D column (multi-dimensional columns are refused)."""
        return pd.DataFrame({name: _to_numpy(name, v) for name, v in self._columns.items()})

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame) -> AgentTable:
        """A table from a DataFrame of numeric / boolean columns (no missing values)."""
        cols: dict[str, Tensor] = {}
        for name in frame.columns:
            series = frame[name]
            if series.isna().any():
                raise ValueError(f"column {name!r} has {int(series.isna().sum())} missing values; "
                                 "fill or drop them before building the table")
            try:
                cols[str(name)] = torch.from_numpy(np.require(series.to_numpy(), requirements=["C", "W"]))
            except TypeError:
                raise TypeError(f"column {name!r} has dtype {series.dtype}, which is not numeric or boolean; "
                                "encode categories as integer codes") from None
        return cls(cols)

    def to_parquet(self, path: str | Path) -> Path:
        """Write the table to one Parquet file (dtypes kept); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: pa.array(_to_numpy(name, v)) for name, v in self._columns.items()}
        pq.write_table(pa.table(arrays), path)
        return path

    @classmethod
    def from_parquet(cls, path: str | Path, columns: list[str] | None = None) -> AgentTable:
        """Read a table written by `to_parquet` (or any Parquet file of numeric / boolean columns)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"population file {str(path)!r} does not exist")
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as err:
            raise PopulationFileError(
                f"{str(path)!r} is not a Parquet file ({err}). Write populations with AgentTable.to_parquet"
            ) from None
        if columns is not None:
            missing = [c for c in columns if c not in schema.names]
            if missing:
                raise KeyError(f"{str(path)!r} has no column(s) {missing} (it has: {', '.join(schema.names)})")
        table = pq.read_table(path, columns=columns)
        cols = {}
        for name, array in zip(table.column_names, table.columns, strict=True):
            if array.null_count:
                raise PopulationFileError(f"{str(path)!r}: column {name!r} has {array.null_count} missing values")
            values = array.to_numpy()
            if values.dtype == object:
                raise PopulationFileError(f"{str(path)!r}: column {name!r} has type {array.type}, which is not "
                                          "numeric or boolean; encode categories as integer codes")
            cols[name] = torch.from_numpy(np.require(values, requirements=["C", "W"]))
        return cls(cols)


def _as_tensor(name: str, value: Tensor | np.ndarray) -> Tensor:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"column names must be Python identifiers (for table.{name}), got {name!r}")
    tensor = value if isinstance(value, Tensor) else torch.as_tensor(np.asarray(value))
    if tensor.dtype not in ALLOWED_DTYPES:
        raise TypeError(f"column {name!r} has dtype {tensor.dtype}; allowed: "
                        f"{', '.join(str(d).removeprefix('torch.') for d in ALLOWED_DTYPES)}")
    if tensor.dim() == 0:
        raise ValueError(f"column {name!r} is a scalar; a column needs one row per agent (shape [N, ...]). "
                         "Keep shared values in World.env instead")
    return tensor


def _common_length(cols: Mapping[str, Tensor]) -> int:
    lengths = {name: v.shape[0] for name, v in cols.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"all columns need the same number of rows, got {lengths}")
    return next(iter(lengths.values()))


def _check_devices(cols: Mapping[str, Tensor]) -> None:
    devices = {str(v.device) for v in cols.values()}
    if len(devices) > 1:
        raise ValueError(f"all columns must be on one device, got {sorted(devices)}; use table.to(device)")


def _check_ids(ids: Tensor) -> None:
    if ids.dim() != 1 or ids.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"the {ID_COLUMN!r} column must be int32 or int64 of shape [N], "
                        f"got {ids.dtype} {list(ids.shape)}")
    if ids.numel() == 0:
        return
    if int(ids.min()) < 0:
        raise ValueError(f"agent ids must be >= 0, got min {int(ids.min())}")
    if torch.unique(ids).numel() != ids.numel():
        raise ValueError(f"agent ids must be unique; {ids.numel() - torch.unique(ids).numel()} are repeated")


def _to_numpy(name: str, value: Tensor) -> np.ndarray:
    if value.dim() != 1:
        raise ValueError(f"column {name!r} has shape {list(value.shape)}; only [N] columns can be written "
                         "to a DataFrame or Parquet. Split it into one column per component")
    if value.dtype == torch.bfloat16:
        value = value.float()
    return value.detach().cpu().numpy()
