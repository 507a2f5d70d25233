"""Where the raw data files live: one directory holding `nyc/`, `contacts/` and `epi/` (see its SOURCES.md).

The raw files are never part of the repository; Populace reads them where they are. The directory is, in order:
1. the `path` given (`data_dir=` of any loader);
2. the environment variable `POPULACE_DATA`;
3. `../shared/data` next to the current working directory;
4. `shared/data` next to the source checkout (the directory above the repository root, found from this file).
An explicit choice (1 or 2) that does not exist is an error, not a reason to look elsewhere.
"""

import os
from pathlib import Path

ENV_VAR = "POPULACE_DATA"
HOW_TO_FIX = (
    f"Point Populace at the folder holding nyc/, contacts/ and epi/: set the environment variable {ENV_VAR}, "
    "or pass data_dir= to the loader."
)


def _candidates() -> list[Path]:
    """The default places, in order: next to the working directory, then next to the source checkout."""
    repo_root = Path(__file__).resolve().parents[3]
    return [Path.cwd().parent / "shared" / "data", repo_root.parent / "shared" / "data"]


def default_data_dir() -> Path | None:
    """The first default data directory that exists (places 3 and 4 above), or None."""
    return next((candidate for candidate in _candidates() if candidate.is_dir()), None)


def _locate(path: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The data directory and how it was chosen (for error messages)."""
    if path is not None:
        chosen, how = Path(path), "data_dir="
    elif os.environ.get(ENV_VAR):
        chosen, how = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        found = default_data_dir()
        if found is not None:
            return found, f"default {found}"
        tried = _candidates()
        raise FileNotFoundError(
            f"No data directory found: data_dir= not given, ${ENV_VAR} not set, and none of "
            f"{[str(t) for t in tried]} exists. {HOW_TO_FIX}"
        )
    if not chosen.is_dir():
        raise FileNotFoundError(f"Data directory {chosen} (from {how}) does not exist or is not a directory. "
                                f"{HOW_TO_FIX}")
    return chosen, how


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The raw data directory: `path` if given, else `$POPULACE_DATA`, else `../shared/data` (see module docstring).

    Raises FileNotFoundError, naming every place tried and how to point Populace at the data, when none exists.
    """
    return _locate(path)[0]


def source_file(relative: str, path: str | os.PathLike[str] | None = None) -> Path:
    """The file `relative` (e.g. "nyc/census/cc-est2019-alldata-36.csv") inside the data directory.

    Raises FileNotFoundError naming the file, the directory searched and how it was chosen, and how to fix it.
    """
    root, how = _locate(path)
    file = root / relative
    if not file.is_file():
        raise FileNotFoundError(f"Data file {relative} not found in {root} (chosen by {how}): no {file}. "
                                f"{HOW_TO_FIX}")
    return file
