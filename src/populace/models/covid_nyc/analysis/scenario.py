"""Scenario files: what to simulate, which policies to compare, how many runs (YAML or TOML, checked by pydantic).

A scenario starts from a baseline (the NYC 2020 orders and the heuristic behaviour, optionally with fitted
parameters) and lists policies, each a set of changes to the baseline from a date:

```yaml
name: lockdown timing
kind: counterfactual          # retrospective | counterfactual | prospective
population: {nyc: {scale: 0.001, seed: 1}}
start: 2020-03-01
end: 2020-06-30               # the last day of the past simulated (within the data)
ensemble: {seeds: 8}
policies:
  - name: lockdown a week earlier
    lockdown: {shift_days: -7}
  - name: more isolation from April
    from: 2020-04-01
    isolation_compliance: 1.5
```

Kinds: `retrospective` replays the past (no policies); `counterfactual` replays the same past with other policies
(at least one); `prospective` continues past `end` for `weeks_ahead` weeks (policies optional, dated up to the new
end). Every date must lie in the simulated window, and `end` within the DOHMH data (`DATA_COVERAGE`).
`load_scenario(path)` returns a `Scenario` or raises `ScenarioError` naming the field, the value and the fix.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from populace.analysis.policy import slug
from populace.core.errors import InputError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: TOML scenarios need 3.11; YAML works everywhere
    tomllib = None

DATA_COVERAGE = (dt.date(2020, 2, 29), dt.date(2021, 6, 30))
"""First and last day of the DOHMH daily cases table (`populace.data.dohmh_daily()`; a test checks this copy)."""

POLICY_CHANGES = ("lockdown", "schools", "work_from_home", "isolation_compliance", "stimulus")
"""The changes a policy can make (the fields of `Policy` besides name and from)."""


class ScenarioError(InputError):
    """A scenario file that cannot be read or does not validate; the message names each bad field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticPopulation(_Strict):
    agents: Annotated[int, Field(ge=100)] = 3000
    seed: Annotated[int, Field(ge=0)] = 1


class NYCPopulation(_Strict):
    scale: Annotated[float, Field(gt=0, le=1)] = 0.001
    seed: Annotated[int, Field(ge=0)] = 1


class PopulationSpec(_Strict):
    """Exactly one of: `nyc` (build the synthetic city), `path` (a saved population folder), `synthetic` (a small
    layered test population with no data behind it: region names are not boroughs, so no data is overlaid)."""

    nyc: NYCPopulation | None = None
    path: Path | None = None
    synthetic: SyntheticPopulation | None = None

    @model_validator(mode="after")
    def _one(self) -> PopulationSpec:
        given = [k for k in ("nyc", "path", "synthetic") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of nyc, path, synthetic (got {given or 'none'}), e.g. "
                             "population: {nyc: {scale: 0.001, seed: 1}}")
        return self


class LockdownChange(_Strict):
    """Move the lockdown order (default: the first order of highest lockdown intensity, NYC PAUSE) to `date`, or by
    `shift_days` (negative: earlier); `never: true` removes it and every later order (the reopenings)."""

    date: dt.date | None = None
    shift_days: int | None = None
    never: bool = False
    order: str | None = None

    @model_validator(mode="after")
    def _one(self) -> LockdownChange:
        given = [k for k in ("date", "shift_days") if getattr(self, k) is not None] + (["never"] if self.never else [])
        if len(given) != 1:
            raise ValueError(f"give exactly one of date, shift_days, never (got {given or 'none'}), e.g. "
                             "lockdown: {shift_days: -7} or lockdown: never")
        return self


class Stimulus(_Strict):
    """Scale the job-loss rates of `Labour` (lambda_0 and lambda_L) by `job_loss_factor` in [0, 1] from the date."""

    job_loss_factor: Annotated[float, Field(ge=0, le=1)]


class Policy(_Strict):
    """One policy compared with the baseline: its changes hold from `from` (lockdown carries its own date)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    name: Annotated[str, Field(min_length=1)]
    start: dt.date | None = Field(None, alias="from")
    lockdown: LockdownChange | None = None
    schools: Literal["open", "closed"] | None = None
    work_from_home: Annotated[float, Field(ge=0, le=1)] | None = None
    isolation_compliance: Annotated[float, Field(ge=0)] | None = None
    stimulus: Stimulus | None = None

    @field_validator("lockdown", mode="before")
    @classmethod
    def _never(cls, value: Any) -> Any:
        return {"never": True} if value == "never" else value

    @model_validator(mode="after")
    def _changes(self) -> Policy:
        changes = [k for k in POLICY_CHANGES if getattr(self, k) is not None]
        if not changes:
            raise ValueError(f"policy {self.name!r} changes nothing; give at least one of {', '.join(POLICY_CHANGES)}")
        dated = [k for k in changes if k != "lockdown"]
        if dated and self.start is None:
            raise ValueError(f"policy {self.name!r}: {', '.join(dated)} need(s) a start date, from: YYYY-MM-DD")
        return self


class Ensemble(_Strict):
    seeds: Annotated[int, Field(ge=1, le=10_000)] = 4
    first_seed: Annotated[int, Field(ge=0)] = 1
    parameter_draws: Annotated[int, Field(ge=0)] = 0


class ModelSpec(_Strict):
    initial_infected: Annotated[int, Field(ge=1)] = 10
    beta_by_week: tuple[Annotated[float, Field(gt=0)], ...] | None = None


class Scenario(_Strict):
    """A validated scenario file (see the module docstring)."""

    name: Annotated[str, Field(min_length=1)]
    kind: Literal["retrospective", "counterfactual", "prospective"]
    population: PopulationSpec
    start: dt.date = dt.date(2020, 3, 1)
    end: dt.date
    weeks_ahead: Annotated[int, Field(ge=0)] = 0
    model: ModelSpec = ModelSpec()
    parameters: Path | None = None
    ensemble: Ensemble = Ensemble()
    checkpoint_days: Annotated[int, Field(ge=1)] = 14
    policies: tuple[Policy, ...] = ()

    @model_validator(mode="after")
    def _window(self) -> Scenario:
        first, last = DATA_COVERAGE
        if not first <= self.start < self.end:
            raise ValueError(f"start {self.start} must be on or after {first} (the first day of the data) and before "
                             f"end {self.end}")
        if self.end > last:
            raise ValueError(f"end {self.end} is past the data (DOHMH cases end on {last}); to simulate later days "
                             "use kind: prospective with weeks_ahead")
        if self.kind == "prospective" and self.weeks_ahead < 1:
            raise ValueError("a prospective scenario needs weeks_ahead >= 1 (weeks simulated past end)")
        if self.kind != "prospective" and self.weeks_ahead:
            raise ValueError(f"weeks_ahead is for prospective scenarios; a {self.kind} one stops at end")
        if self.kind == "retrospective" and self.policies:
            raise ValueError("a retrospective scenario replays the past and takes no policies; use kind: "
                             "counterfactual to compare policies")
        if self.kind == "counterfactual" and not self.policies:
            raise ValueError("a counterfactual scenario needs at least one policy under policies:")
        names = [slug(p.name) for p in self.policies]
        if len(set(names)) != len(names) or "baseline" in names:
            raise ValueError(f"policy names must differ in their letters or digits (they name files) and not be "
                             f"'baseline', got {[p.name for p in self.policies]}")
        for i, policy in enumerate(self.policies):
            dates = [("from", policy.start)]
            if policy.lockdown is not None:
                dates.append(("lockdown.date", policy.lockdown.date))
            for field, date in dates:
                if date is not None and not self.start <= date <= self.last_day:
                    raise ValueError(f"policies[{i}] ({policy.name!r}): {field} {date} is outside the simulated "
                                     f"window {self.start} to {self.last_day}")
        return self

    @property
    def last_day(self) -> dt.date:
        """The last day simulated: `end`, plus `weeks_ahead` weeks for a prospective scenario."""
        return self.end + dt.timedelta(weeks=self.weeks_ahead)

    @property
    def days(self) -> int:
        """Days simulated, `start` to `last_day` inclusive."""
        return (self.last_day - self.start).days + 1

    def step_of(self, date: dt.date) -> int:
        return (date - self.start).days


def parse_scenario(data: Any, *, source: str = "scenario", base_dir: Path | None = None) -> Scenario:
    """A `Scenario` from parsed YAML/TOML data; relative paths are taken from `base_dir`."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a mapping of fields (name, kind, population, ...), got "
                            f"{type(data).__name__}")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(f"{source}: " + "; ".join(_describe(e) for e in err.errors())) from None
    if base_dir is not None:
        updates = {}
        if scenario.parameters is not None and not scenario.parameters.is_absolute():
            updates["parameters"] = base_dir / scenario.parameters
        path = scenario.population.path
        if path is not None and not path.is_absolute():
            updates["population"] = scenario.population.model_copy(update={"path": base_dir / path})
        scenario = scenario.model_copy(update=updates)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (.yaml, .yml or .toml)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"scenario file {str(path)!r} does not exist")
    if path.suffix not in (".yaml", ".yml", ".toml"):
        raise ScenarioError(f"{path}: scenario files are .yaml, .yml or .toml, got {path.suffix or 'no suffix'!r}")
    if path.suffix == ".toml" and tomllib is None:
        raise ScenarioError(f"{path}: reading TOML needs Python 3.11 or later; write the scenario as YAML")
    text = path.read_text()
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as err:  # tomllib.TOMLDecodeError is a ValueError
        raise ScenarioError(f"{path} is not valid {path.suffix[1:].upper()}: {err}") from None
    return parse_scenario(data, source=str(path), base_dir=path.parent.resolve())


def scenario_json(scenario: Scenario) -> str:
    """The scenario as JSON (by field names, `from` for policy starts), to store with a run."""
    return json.dumps(scenario.model_dump(mode="json", by_alias=True, exclude_none=True), indent=1)


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: dict) -> str:
    loc = list(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        field = loc[-1]
        where = _location(tuple(loc[:-1])) or "scenario"
        if len(loc) == 3 and loc[0] == "policies":
            return (f"{where}: unknown policy {field!r}; a policy can change: {', '.join(POLICY_CHANGES)} "
                    "(besides name and from)")
        return f"{where}: unknown field {field!r}; check its spelling in docs/analysis.md"
    where = _location(tuple(loc))
    if kind == "missing":
        return f"{where}: missing (required)"
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}{shown}" if where else message
