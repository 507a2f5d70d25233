"""Reading a source file into a DataFrame, with a `DataFileError` that says what was expected and what was found.

Shared by the loaders: each checks the file's format (text CSV or xlsx workbook), that it has data, that the columns
it needs are there, and that count columns hold whole non-negative numbers, before touching any value.
"""

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl.utils.exceptions import InvalidFileException

from populace.data.errors import DataFileError

_SHOWN = 12  # how many found columns an error message lists


def _listed(names: Sequence[object]) -> str:
    shown = [str(n) for n in names[:_SHOWN]]
    return str(shown) if len(names) <= _SHOWN else f"{shown[:-1]} ... ({len(names)} columns)"


def require_columns(frame: pd.DataFrame, columns: Sequence[str], file: Path) -> None:
    """Raise `DataFileError` naming the missing, expected and found columns unless `frame` has all of `columns`."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataFileError(
            f"{file}: missing column(s) {missing}. Expected columns {_listed(list(columns))}; "
            f"found {_listed(list(frame.columns))}. Is this the right file (see SOURCES.md in the data directory)?"
        )


def read_csv(file: Path, *, columns: Sequence[str], encoding: str = "utf-8", **kwargs: object) -> pd.DataFrame:
    """The CSV `file` as a DataFrame (`pd.read_csv` with `kwargs`), checked to be text, non-empty, with `columns`."""
    with file.open("rb") as stream:
        head = stream.read(4096)
    if not head.strip():
        raise DataFileError(f"{file} is empty; expected a CSV file with columns {_listed(list(columns))}.")
    if b"\0" in head or head.startswith(b"PK\x03\x04"):
        raise DataFileError(f"{file} is not a text CSV file (it holds binary data, e.g. a spreadsheet or archive); "
                            f"expected a CSV file with columns {_listed(list(columns))}.")
    try:
        frame = pd.read_csv(file, encoding=encoding, **kwargs)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataFileError(f"{file} cannot be read as a CSV file ({error}); "
                            f"expected columns {_listed(list(columns))}.") from error
    require_columns(frame, columns, file)
    if frame.empty:
        raise DataFileError(f"{file} has a header but no data rows.")
    return frame


def read_xlsx(file: Path, *, sheet: str, columns: Sequence[str]) -> pd.DataFrame:
    """Sheet `sheet` of the xlsx workbook `file` (header on the first row), checked to be non-empty, with `columns`."""
    with file.open("rb") as stream:
        magic = stream.read(4)
    if magic != b"PK\x03\x04":
        what = "empty" if not magic else "not an xlsx workbook (an xlsx file is a zip archive)"
        raise DataFileError(f"{file} is {what}; expected sheet {sheet!r} with columns {_listed(list(columns))}.")
    try:
        with pd.ExcelFile(file, engine="openpyxl") as book:
            if sheet not in book.sheet_names:
                raise DataFileError(f"{file} has no sheet {sheet!r}; found sheets {book.sheet_names}.")
            frame = pd.read_excel(book, sheet_name=sheet)
    except (zipfile.BadZipFile, InvalidFileException, KeyError) as error:
        raise DataFileError(f"{file} cannot be read as an xlsx workbook ({error}).") from error
    require_columns(frame, columns, file)
    if frame.empty:
        raise DataFileError(f"{file}, sheet {sheet!r}, has a header but no data rows.")
    return frame


def unique_dates(column: pd.Series, file: Path, *, fmt: str, label: str, name: str = "date") -> pd.Series:
    """Date strings in `fmt` (`label` in messages, e.g. "MM/DD/YYYY") as datetime64, each once, with an error naming
    the column (`name`) and the first bad or repeated value."""
    dates = pd.to_datetime(column, format=fmt, errors="coerce")
    if dates.isna().any():
        raise DataFileError(f"{file}: {name} {column[dates.isna()].iloc[0]!r} is not {label}.")
    if dates.duplicated().any():
        raise DataFileError(f"{file}: {name} {column[dates.duplicated()].iloc[0]!r} appears twice.")
    return dates


def as_counts(frame: pd.DataFrame, columns: Sequence[str], file: Path, dtype: str = "int32") -> pd.DataFrame:
    """`frame[columns]` as integer counts, after checking that every value is a whole number >= 0."""
    values = frame[list(columns)].apply(pd.to_numeric, errors="coerce")
    array = values.to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(array) & (array >= 0) & (array == np.round(array)))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        value = frame[columns[col]].iloc[row]
        shown = value.item() if isinstance(value, np.generic) else value
        raise DataFileError(f"{file}: column {columns[col]!r} must hold whole numbers >= 0, found {shown!r} "
                            f"in data row {row} ({int(bad.sum())} bad value(s)).")
    return values.astype(dtype)
