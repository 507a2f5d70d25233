r"""Calibration targets: named observed series on a window of dates.

`Targets` maps names to `Series` on a `DateWindow` (e.g. "2020-03-01:2020-12-31"). Each row of a series covers a
period of days (a day, a month, a year ...), so series of different frequencies share one window: daily cases
[T, R] and monthly unemployment rates [M, R] side by side, or a tax model's yearly revenue. A row belongs to every
window its period touches (`Series.on`). `columns` labels the last dimension the series share, if any (e.g. the
regions), for per-column error tables. A model builds its targets from its data (e.g.
`populace.models.covid_nyc.targets.load_targets`) or from its own simulations (synthetic data with known parameters).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence

from torch import Tensor

from populace.core.world import as_date


@dataclasses.dataclass(frozen=True)
class DateWindow:
    """The days start..end, both included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_date(self.start, "start"))
        object.__setattr__(self, "end", as_date(self.end, "end"))
        if self.end < self.start:
            raise ValueError(f"a window must end on or after its start, got {self.start}:{self.end}")

    @classmethod
    def parse(cls, text: str) -> DateWindow:
        """'2020-03-01:2020-12-31' -> DateWindow(2020-03-01, 2020-12-31)."""
        parts = str(text).split(":")
        if len(parts) != 2:
            raise ValueError(f"a date window is START:END in ISO dates, e.g. 2020-03-01:2020-12-31; got {text!r}")
        return cls(parts[0].strip(), parts[1].strip())  # type: ignore[arg-type]

    @classmethod
    def month(cls, first: dt.date) -> DateWindow:
        """The calendar month starting on `first`."""
        return cls(first, first.replace(day=calendar.monthrange(first.year, first.month)[1]))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=k) for k in range(self.days)]

    @property
    def months(self) -> list[dt.date]:
        """First day of every month the window touches."""
        return sorted({d.replace(day=1) for d in self.dates})

    def touches(self, other: DateWindow) -> bool:
        """Whether the two windows share a day."""
        return self.start <= other.end and other.start <= self.end

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"


@dataclasses.dataclass(frozen=True)
class Series:
    """An observed series: row k of `values` [rows, ...] covers the days `periods[k]`."""

    periods: tuple[DateWindow, ...]
    values: Tensor

    def __post_init__(self) -> None:
        object.__setattr__(self, "periods", tuple(self.periods))
        if self.values.dim() == 0 or self.values.shape[0] != len(self.periods):
            raise ValueError(f"a series needs one row of values per period: {len(self.periods)} periods, values of "
                             f"shape {list(self.values.shape)}")

    @classmethod
    def daily(cls, start: dt.date, values: Tensor) -> Series:
        """One row per day from `start`."""
        days = [start + dt.timedelta(days=k) for k in range(values.shape[0])]
        return cls(tuple(DateWindow(d, d) for d in days), values)

    @classmethod
    def monthly(cls, months: Sequence[dt.date], values: Tensor) -> Series:
        """One row per calendar month, given by its first day."""
        return cls(tuple(DateWindow.month(m) for m in months), values)

    @property
    def starts(self) -> tuple[dt.date, ...]:
        """The first day of each row's period."""
        return tuple(p.start for p in self.periods)

    def rows_in(self, window: DateWindow) -> list[int]:
        """The rows whose period touches `window`."""
        return [k for k, p in enumerate(self.periods) if p.touches(window)]

    def on(self, window: DateWindow) -> Series:
        """The rows whose period touches `window`."""
        rows = self.rows_in(window)
        return Series(tuple(self.periods[k] for k in rows), self.values[rows])


class Targets(Mapping[str, Series]):
    """Named observed series on a window (module docstring): `targets["cases"].values` [T, R]."""

    def __init__(self, window: DateWindow, series: Mapping[str, Series], *, columns: Sequence[str] = ()):
        if not series:
            raise ValueError("targets need at least one series")
        for name, s in series.items():
            outside = [str(p) for p in s.periods if not p.touches(window)]
            if outside:
                raise ValueError(f"series {name!r} has rows outside the window {window}: {outside[:3]}")
            if columns and s.values.shape[-1] != len(columns):
                raise ValueError(f"series {name!r} has {s.values.shape[-1]} columns, the targets {len(columns)} "
                                 f"({', '.join(columns)})")
        self.window = window
        self.columns = tuple(columns)
        self._series = dict(series)

    def __getitem__(self, name: str) -> Series:
        try:
            return self._series[name]
        except KeyError:
            raise KeyError(f"the targets have no series {name!r} (they have: {', '.join(self._series)})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._series)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}: {list(s.values.shape)}" for n, s in self._series.items())
        return f"Targets({self.window}, {shapes})"

    def on(self, window: DateWindow) -> Targets:
        """The same series restricted to a sub-window (rows whose period touches it)."""
        if window.start < self.window.start or window.end > self.window.end:
            raise ValueError(f"window {window} is not inside the targets' window {self.window}")
        return Targets(window, {n: s.on(window) for n, s in self._series.items()}, columns=self.columns)
