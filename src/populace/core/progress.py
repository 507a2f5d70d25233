"""`progress_bar`: the one tqdm bar of runs, fits and ensembles, shown or hidden by a `progress` flag."""

from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(total: int, *, desc: str, unit: str, progress: bool | None, initial: int = 0,
                 leave: bool = True) -> tqdm:
    """A tqdm bar over `total` items: shown when `progress` is True, hidden when False, and with None shown only on
    an interactive terminal (tqdm's `disable=None`). Use it as a context manager and `update(n)` it."""
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave,
                disable=None if progress is None else not progress)
