"""`Trajectory`: the recorded history of a run, as aggregates per step (never copies of agent state)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from populace.core.clock import StepLength

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from populace.core.world import World


class Trajectory:
    """Named observables recorded step by step: `traj["infectious"]` is a tensor [T] (or [T, G] per group).

    Dating convention: a record observes the world after a period (one step: a day, a year ...). The runner records
    the world it starts from, at step s0 (usually 0), then the world after each period p = s0, s0 + 1, ...; the
    world after period p has clock `step` p + 1. So each row holds

        period = step - 1,   date = the first day of the period (`StepLength.date(start_date, period)`),
        stocks (agents susceptible, employed ...) at the end of the period,
        flows (new infections, a year's tax revenue ...) during the period,

    and a model's `observe` reports as flows what its substeps wrote while stepping the world (e.g. an agent column
    `newly_infected` set by the day's transmission). The first row, the world the run starts from, is the end of
    the period before it (period s0 - 1, dated one step before the start): its stocks are the initial state, its
    flows what the initial world says (zero, or the model's seeding). A tax run starting in 2018 therefore has rows
    2017 (the untaxed economy), 2018 (the first year's revenue), ...; a daily run's infections of day d are on the
    row of day d.

    Memory is bounded by design: it grows with steps x observables, not with the number of agents, and
    `max_records` caps the steps kept (recording past it raises, with the fix). In differentiable runs the
    recorded tensors keep their autograd history, so a loss on them back-propagates into the model.

    Attributes:
        steps: the world's step (clock) at each record: the periods completed since step 0.
        start_date: calendar date of step 0 (the first day of period 0), or None.
        step_length: the calendar time of one step (rows are dated by it).
        labels: group labels of the per-group observables.
        final_world: the world after the last step (set by the runner).
    """

    def __init__(self, *, labels: Mapping[str, Sequence[str]] | None = None, start_date: dt.date | None = None,
                 step_length: StepLength = StepLength.DAY, max_records: int = 100_000):
        if max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {max_records}")
        self.labels = {k: list(v) for k, v in (labels or {}).items()}
        self.start_date = start_date
        self.step_length = step_length
        self.max_records = max_records
        self.steps: list[int] = []
        self.final_world: World | None = None
        self._values: dict[str, list[Tensor]] = {}

    def record(self, step: int, values: Mapping[str, Tensor]) -> None:
        """Append the observables of one step (the same names and shapes every time)."""
        if len(self.steps) >= self.max_records:
            raise RuntimeError(f"trajectory is full ({self.max_records} records); pass a larger max_records "
                               "or record less often (record_every)")
        if self._values and set(values) != set(self._values):
            raise ValueError(f"step {step} records {sorted(values)}, earlier steps {sorted(self._values)}")
        for name, value in values.items():
            value = torch.as_tensor(value)
            if value.dim() > 1:
                raise ValueError(f"observable {name!r} must be a scalar or a [G] vector, got {list(value.shape)}")
            groups = self.labels.get(name)
            if groups is not None and value.shape != (len(groups),):
                raise ValueError(f"observable {name!r} has labels for {len(groups)} groups, got {list(value.shape)}")
            self._values.setdefault(name, []).append(value)
        self.steps.append(step)

    def head(self, records: int) -> Trajectory:
        """A new trajectory holding the first `records` records of this one (the same tensors, not copies)."""
        head = Trajectory(labels=self.labels, start_date=self.start_date, step_length=self.step_length,
                          max_records=self.max_records)
        head.steps = self.steps[:records]
        head._values = {name: values[:records] for name, values in self._values.items()}
        return head

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._values)

    def __len__(self) -> int:
        return len(self.steps)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __getitem__(self, name: str) -> Tensor:
        """All records of one observable, stacked: [T] or [T, G]."""
        if name not in self._values:
            raise KeyError(f"trajectory has no observable {name!r} (it has: {', '.join(self._values)})")
        return torch.stack(self._values[name])

    @property
    def periods(self) -> list[int]:
        """The period each record closes: step - 1 (the first record of a run from step 0 closes period -1)."""
        return [s - 1 for s in self.steps]

    @property
    def dates(self) -> list[dt.date] | None:
        """The first day of each record's period (by `step_length`), or None without a start date."""
        if self.start_date is None:
            return None
        return [self.step_length.date(self.start_date, p) for p in self.periods]

    def to_pandas(self) -> pd.DataFrame:
        """One row per record: `step`, `period` (and `date`, the period's first day), then one column per observable
        or `name[group]` (see the class docstring for what a row covers)."""
        frame: dict[str, object] = {"step": self.steps, "period": self.periods}
        if self.dates is not None:
            frame["date"] = pd.to_datetime(self.dates).as_unit("ms")  # the unit Parquet keeps: round trips equal
        for name in self._values:
            values = self[name].detach().cpu()
            if values.dim() == 1:
                frame[name] = values.numpy()
            else:
                groups = self.labels.get(name) or [str(g) for g in range(values.shape[1])]
                for g, label in enumerate(groups):
                    frame[f"{name}[{label}]"] = values[:, g].numpy()
        return pd.DataFrame(frame)

    def to_parquet(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.to_pandas().to_parquet(path, index=False)
        return path

    def plot(self, names: Sequence[str] | None = None, *, title: str | None = None, ylabel: str = "agents") -> Figure:
        """A line plot of the chosen observables (default: all) against step or date; returns the Figure."""
        from matplotlib.figure import Figure
        from matplotlib.ticker import StrMethodFormatter

        names = list(names or self.names)
        frame = self.to_pandas()
        x = frame["date"] if "date" in frame else frame["period"]
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
        for name in names:
            self[name]  # raises the informative KeyError
            for column in [c for c in frame.columns if c == name or c.startswith(f"{name}[")]:
                ax.plot(x, frame[column], label=column)
        ax.set_xlabel("date" if "date" in frame else self.step_length.value)
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.grid(alpha=0.3)
        ax.legend()
        if title:
            ax.set_title(title)
        return fig
