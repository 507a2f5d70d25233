"""Compact tables derived from the raw data and shipped inside the package, so the NYC models run on a fresh install.

The raw files (Census, City Planning, CouncilCount, Prem et al. contact matrices, DOHMH, NYS DOL; see
`../shared/data/SOURCES.md`) are not part of the repository. What the NYC population build and the COVID-19 model
need from them is small once read: each loader's tidy output, a few hundred rows. Those outputs are committed as
Parquet files under `populace/data/shipped/` (about 250 kB in all; `ATTRIBUTION.md` there names each source and its
terms), and each loader decorated with `@shipped_fallback` returns its file when no raw data directory exists:

- `data_dir=` given, or `$POPULACE_DATA` set, or a default directory found (`populace.data.paths`): the raw files,
  read and checked as always;
- none of these: the shipped table of the same call (same arguments), or FileNotFoundError naming the variants
  that are shipped and how to point Populace at the raw data.

`python -m populace.data [--data-dir DIR]` rebuilds the tables from the raw files; a test checks that the
committed ones equal what the loaders read from the raw files today.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from populace.data import paths

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
"""Where the compact tables live inside the installed package."""

Loader = TypeVar("Loader", bound=Callable[..., pd.DataFrame])


@dataclasses.dataclass(frozen=True)
class ShippedTable:
    """One shipped table: the loader call it reproduces and the file it is stored in."""

    loader: Callable[..., pd.DataFrame]
    arguments: Mapping[str, Any]
    """The loader's arguments other than data_dir, e.g. {"by_borough": True}."""
    file: Path

    def build(self, data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
        """The table read from the raw files."""
        return self.loader(data_dir=data_dir, **self.arguments)

    def read(self) -> pd.DataFrame:
        """The committed table."""
        return pd.read_parquet(self.file)


SHIPPED_TABLES: list[ShippedTable] = []
"""Every shipped table, registered by `shipped_fallback` when its loader's module is imported."""


def using_shipped(data_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when loaders called with this `data_dir` return shipped tables instead of reading raw files: no
    `data_dir`, no `$POPULACE_DATA` and no default data directory (`populace.data.paths`)."""
    return data_dir is None and not os.environ.get(paths.ENV_VAR) and paths.default_data_dir() is None


def shipped_fallback(*variants: Mapping[str, Any]) -> Callable[[Loader], Loader]:
    """Decorate a loader `f(..., data_dir=None, ...)`: ship its output for each argument set in `variants`.

    A call whose other arguments match a variant returns the shipped table when `using_shipped(data_dir)`.
    """

    def decorate(loader: Loader) -> Loader:
        signature = inspect.signature(loader)
        if "data_dir" not in signature.parameters:
            raise TypeError(f"{loader.__name__} has no data_dir parameter; only loaders of raw files can be shipped")
        tables = []
        for variant in variants:
            suffix = "".join(f"__{key}-{value}" for key, value in sorted(variant.items()))
            table = ShippedTable(loader, dict(variant), SHIPPED_DIR / f"{loader.__name__}{suffix}.parquet")
            tables.append(table)
            SHIPPED_TABLES.append(table)

        @functools.wraps(loader)
        def load(*args: Any, **kwargs: Any) -> pd.DataFrame:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            if not using_shipped(arguments.pop("data_dir")):
                return loader(*args, **kwargs)
            for table in tables:
                if table.arguments == arguments:
                    return table.read()
            shipped = "; ".join(str(dict(t.arguments)) for t in tables) or "none"
            raise FileNotFoundError(
                f"{loader.__name__}({arguments}) needs the raw data: no data directory was found and the package "
                f"ships this table only for the arguments {shipped}. {paths.HOW_TO_FIX}")

        return load  # type: ignore[return-value]

    return decorate


def data_files(relative: list[str], data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, list[Path]]:
    """The data directory and input files a run reads: the raw files `relative` inside it, or, when
    `using_shipped(data_dir)`, the shipped directory and every shipped table (for manifests and checksums)."""
    if using_shipped(data_dir):
        return SHIPPED_DIR, sorted(SHIPPED_DIR.glob("*.parquet"))
    return paths.data_dir(data_dir), [paths.source_file(name, data_dir) for name in relative]


def write_shipped_tables(data_dir: str | os.PathLike[str] | None = None, out: Path = SHIPPED_DIR) -> list[Path]:
    """Read every shipped table from the raw files and write it as Parquet into `out`; returns the files."""
    import populace.data  # noqa: F401  (imports every loader module, which registers its tables)

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in SHIPPED_TABLES:
        file = out / table.file.name
        table.build(data_dir).to_parquet(file, index=False, compression="zstd")
        written.append(file)
    return written
