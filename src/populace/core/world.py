"""`World`: everything a model step reads: agent tables, shared environment values, the clock and the seed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Literal

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor

from populace import sampling
from populace.core import rng
from populace.core.agents import AgentTable
from populace.core.clock import StepLength
from populace.core.errors import SubstepOutputError
from populace.core.ops import flatnonzero

MAIN_TABLE = "agents"


@dataclasses.dataclass(frozen=True)
class World:
    """The state of a simulation at one step: immutable, so every update returns a new `World`.

    Attributes:
        tables: agent tables by name; most models have one, `"agents"` (`world.agents`).
        env: shared values that are not per agent (policy switches, case counts seen by agents), as tensors.
        step: steps since the start of the run (the clock).
        seed: seed of the run's counter-based random numbers.
        start_date: calendar date of step 0, when the model has one.
        step_length: the calendar time one step is (`StepLength`: day, week, month, year; default a day).
        differentiable: True when substeps must keep gradients (float states, straight-through draws).
    """

    tables: Mapping[str, AgentTable]
    env: Mapping[str, Tensor] = dataclasses.field(default_factory=dict)
    step: int = 0
    seed: int = 0
    start_date: dt.date | None = None
    differentiable: bool = False
    step_length: StepLength = StepLength.DAY

    def __post_init__(self) -> None:
        if not self.tables:
            raise ValueError("a World needs at least one agent table")
        for name, table in self.tables.items():
            if not isinstance(table, AgentTable):
                raise TypeError(f"table {name!r} must be an AgentTable, got {type(table).__name__}")
        devices = {str(t.device) for t in self.tables.values()}
        if len(devices) > 1:
            raise ValueError(f"all agent tables must be on one device, got {sorted(devices)}; use world.to(device)")
        if not isinstance(self.step_length, StepLength):
            raise TypeError(f"step_length must be a StepLength (e.g. StepLength.YEAR), got {self.step_length!r}")
        if self.step < 0:
            raise ValueError(f"step must be >= 0, got {self.step}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        for name, value in self.env.items():
            _check_env_value(name, value)

    @classmethod
    def of(cls, agents: AgentTable, **kwargs: object) -> World:
        """A world with one table, `"agents"`: `World.of(table, seed=1)`."""
        return cls(tables={MAIN_TABLE: agents}, **kwargs)  # type: ignore[arg-type]

    # ---- reading ----------------------------------------------------------------------------------------

    @property
    def agents(self) -> AgentTable:
        """The main agent table, `tables["agents"]`."""
        return self.table(MAIN_TABLE)

    def table(self, name: str) -> AgentTable:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"world has no agent table {name!r} (it has: {', '.join(self.tables)})") from None

    @property
    def device(self) -> torch.device:
        return next(iter(self.tables.values())).device

    @property
    def date(self) -> dt.date | None:
        """Calendar date of the current step, or None when the run has no start date."""
        return None if self.start_date is None else self.step_length.date(self.start_date, self.step)

    def uniform(self, stream: str, *, rows: Tensor | None = None, table: str = MAIN_TABLE, n: int | None = None,
                dtype: torch.dtype = torch.float32) -> Tensor:
        """Uniforms in (0, 1) for this step, one per agent ([N], or [N, n]), keyed on (seed, step, stream, id); for
        agents `rows` (int64 [M]) only, the same values as for everyone, indexed."""
        ids = self.table(table).ids
        return rng.uniform(self.seed, self.step, stream, ids if rows is None else ids[rows], n=n, dtype=dtype)

    def randint(self, stream: str, high: int, *, table: str = MAIN_TABLE, n: int | None = None) -> Tensor:
        """Integers in [0, high) for this step, one per agent ([N], or [N, n]), keyed like `uniform`."""
        return rng.randint(self.seed, self.step, stream, self.table(table).ids, high, n=n)

    def bernoulli(self, stream: str, p: Tensor, *, rows: Tensor | None = None, table: str = MAIN_TABLE,
                  gradient: Literal["identity", "fired"] = "identity", among: Tensor | None = None) -> Tensor:
        """x = 1[u < p] for every agent (p [N]) or for agents `rows` (int64 [M], p [M]), u this step's uniforms of
        `stream` (the same u whichever rows are drawn): bool in fast mode; in differentiable mode the straight-
        through float with surrogate `gradient` (`populace.sampling.bernoulli`); in a stochastic-derivative run
        (`populace.gradients`) the draw that run's coupling gives. `among` (like p: bool, or a 0/1 float in
        differentiable mode) marks the draws that count: x is 0 elsewhere, and those draws are never flipped in a
        stochastic-derivative run (a flip there would change nothing and only add variance). p is not
        range-checked."""
        coupling = sampling.active_coupling()
        if among is not None and rows is None and coupling is None and not self.differentiable:
            return self._bernoulli_among(stream, p, among, table)
        u = self.uniform(stream, rows=rows, table=table)
        if coupling is not None:
            return coupling.bernoulli(p, u, among=None if among is None else among.bool())
        return sampling.bernoulli(p, u, straight_through=self.differentiable, gradient=gradient, validate=False,
                                  among=among)

    def _bernoulli_among(self, stream: str, p: Tensor, among: Tensor, table: str) -> Tensor:
        """Fast mode's `bernoulli(..., among=)`: uniforms only for the agents among with p > 0 (the only ones that can
        draw 1), so a draw over a few infectious agents does not hash a uniform for every agent; the same x."""
        rows = flatnonzero(among.bool() & (p > 0))
        x = torch.zeros(among.shape, dtype=torch.bool, device=among.device)
        x[rows] = self.uniform(stream, rows=rows, table=table) < p[rows]
        return x

    def categorical(self, stream: str, probs: Tensor, *, rows: Tensor | None = None,
                    table: str = MAIN_TABLE) -> Tensor:
        """One option per agent from probs [N, K] (or [M, K] for agents `rows`) by inverse CDF on this step's
        uniforms of `stream`: int64 [N] in fast mode, a straight-through one-hot float [N, K] in differentiable
        mode (`populace.sampling.categorical`). probs are not range-checked."""
        if sampling.active_coupling() is not None and fwad.unpack_dual(probs).tangent is not None:
            raise NotImplementedError(f"draw {stream!r}: stochastic derivatives cover Bernoulli draws only, and these "
                                      "categorical probabilities move with the parameter; use the straight-through "
                                      "gradient (differentiable=True) for this model")
        return sampling.categorical(probs, self.uniform(stream, rows=rows, table=table),
                                    straight_through=self.differentiable, validate=False)

    # ---- changing (each returns a new World) ---------------------------------------------------------

    def update(self, columns: Mapping[str, Tensor], *, table: str = MAIN_TABLE) -> World:
        """Replace existing columns of a table (a substep's output). Unknown columns and wrong row counts fail."""
        current = self.table(table)
        for name, value in columns.items():
            if name not in current:
                raise SubstepOutputError(
                    f"update names column {name!r}, which table {table!r} does not have "
                    f"(it has: {', '.join(current.columns)}). Add new columns to the initial world instead"
                )
            if not isinstance(value, Tensor) or value.shape[:1] != (current.n,):
                shape = list(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise SubstepOutputError(f"column {name!r} must have {current.n} rows, got {shape}")
        return dataclasses.replace(self, tables={**self.tables, table: current.with_columns(columns)})

    def with_table(self, name: str, table: AgentTable) -> World:
        """A world with table `name` added or replaced by `table`, which may have another row count (rows appended
        to a table of posts, edges to a graph); `update` replaces columns and keeps the row count."""
        if not isinstance(table, AgentTable):
            raise TypeError(f"table {name!r} must be an AgentTable, got {type(table).__name__}")
        return dataclasses.replace(self, tables={**self.tables, name: table})

    def with_env(self, **values: Tensor | float) -> World:
        """A world with these environment values added or replaced."""
        new = {k: v if isinstance(v, Tensor) else torch.tensor(v, device=self.device) for k, v in values.items()}
        return dataclasses.replace(self, env={**self.env, **new})

    def advance(self, steps: int = 1) -> World:
        """The same state `steps` steps (of `step_length`) later."""
        return dataclasses.replace(self, step=self.step + steps)

    def to(self, device: str | torch.device) -> World:
        return dataclasses.replace(
            self,
            tables={k: t.to(device) for k, t in self.tables.items()},
            env={k: v.to(device) for k, v in self.env.items()},
        )


def as_date(value: dt.date | str, what: str) -> dt.date:
    """A calendar date from a `datetime.date` or an ISO string ("2020-03-01"); `what` names it in errors."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an ISO date such as '2020-03-01'") from None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"{what} must be a datetime.date or an ISO string such as '2020-03-01', got "
                        f"{type(value).__name__} ({value!r})")
    return value


def _check_env_value(name: str, value: Tensor) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"env value {name!r} must be a tensor, got {type(value).__name__}; "
                        "World.with_env converts plain numbers")
    if value.is_floating_point() and not bool(torch.isfinite(value.detach()).all()):
        raise ValueError(f"env value {name!r} contains NaN or infinite entries")
