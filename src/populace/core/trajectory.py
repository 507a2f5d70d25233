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

    Memory is bounded by design: it grows with steps x observables, not with the number of agents, and
    `max_records` caps the steps kept (recording past it raises, with the fix). In differentiable runs the
    recorded tensors keep their autograd history, so a loss on them back-propagates into the model.

    Attributes:
        steps: the step of each record.
        start_date: calendar date of step 0, or None.
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
    def dates(self) -> list[dt.date] | None:
        """The calendar date of each record (by `step_length`), or None without a start date."""
        if self.start_date is None:
            return None
        return [self.step_length.date(self.start_date, s) for s in self.steps]

    def to_pandas(self) -> pd.DataFrame:
        """One row per record: `step` (and `date`), then one column per observable or `name[group]`."""
        frame: dict[str, object] = {"step": self.steps}
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
        x = frame["date"] if "date" in frame else frame["step"]
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
