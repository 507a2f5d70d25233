r"""The NYC COVID-19 control task: set the lockdown intensity (and testing) over time to minimise deaths + lambda x
unemployment, starting from the calibrated 2020 parameters (`populace control covid-nyc`, docs/control.md).

The control is one number a day, the lockdown intensity L(t) in [0, 1]. `LockdownOrders` (in place of the model's
dated `Policy`) turns it into the orders the model reads, interpolating between no orders (L = 0) and New York
State on PAUSE (L = 1, the 2020-03-22 state of `nyc_2020_schedule`): each layer's contact scale
c_l = 1 - L (1 - c_l^PAUSE) (school 1 - L, work 1 - 0.7 L, community 1 - 0.6 L, household 1), the work-from-home
fraction w = L w^PAUSE and the labour market's lockdown L. The actual 2020 orders are the schedule of their
lockdown values (`actual_orders`: 0, 0.3 from 2020-03-16, 1 from 03-22, 0.8 from 06-08, ...): PAUSE exactly,
the reopening phases approximately (phase 1's work scale is 0.44 here, 0.45 in the schedule, its community scale
0.52, not 0.45).

With `controls=("lockdown", "testing")` a second control joins it: the testing rate p(t) in [0, 0.1], the daily
probability that a resident is tested (`world.env["testing"]`, read by the model's `Testing` substep: positives
isolate for 10 days). The upper bound tests a tenth of the city a day, about ten times New York City's 2020 peak
(near 1% of the residents a day). The actual 2020 orders then come with no testing (p = 0): the model's
observation of 2020 testing is in its ascertainment, not in isolations.

Objective (`DeathsAndUnemployment`), over the T days, per resident of the synthetic city:

    deaths       = D(T) / N x 100,000                           (deaths per 100,000 residents by day T)
    unemployment = sum_{t=1..T} U(t) / N x 100 / 30.4           (unemployed person-months per 100 residents)
    J = deaths + lambda unemployment
      [+ mu tests,  tests = sum_{t=1..T} tests(t) / N x 100,000    (tests per 100,000 residents, with testing)]

mu = `TEST_WEIGHT` = 1e-4 (a choice, as lambda = 5 is): a death costs as much as 10,000 tests, e.g. a death
valued at $1M (what lambda = 5 makes it if an unemployed person-month costs $5,000) and a test at $100 (Medicare's
payment for a high-throughput COVID-19 PCR test from April 2020). Testing 1% of the residents a day for 120 days
costs 12 in J.

The model is `calibration_model` with a calibrated draw loaded (weekly beta, importations, isolation shifts,
labour rates: `populace.calibrate.load_parameter_draws`, e.g. docs/calibration-2020-draws.parquet), its initial
infections rescaled from the draw's scale to this one; its parameters are frozen, only the controller learns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from populace.calibrate import load_parameter_draws
from populace.calibrate.uncertainty import draws_metadata
from populace.control import Controller, ControlProblem, ControlVariable, Schedule
from populace.core.errors import InputError
from populace.core.world import World
from populace.models.covid_nyc.calibration import calibration_model, load_draw, weeks_in
from populace.models.covid_nyc.disease import contact_scale_key
from populace.models.covid_nyc.model import CovidNYC
from populace.models.covid_nyc.observe import Observation
from populace.models.covid_nyc.policy import (
    LOCKDOWN_KEY,
    NYC_LAYERS,
    TESTING_KEY,
    WORK_FROM_HOME_KEY,
    nyc_2020_schedule,
)
from populace.population.storage import Population

LOCKDOWN = ControlVariable(LOCKDOWN_KEY, 0.0, 1.0, unit="intensity (1: NYC PAUSE)")
TESTING = ControlVariable(TESTING_KEY, 0.0, 0.1, unit="tests per resident per day")
CONTROLS = {"lockdown": LOCKDOWN, "testing": TESTING}
"""The control variables a task can choose, by name."""
TEST_WEIGHT = 1e-4
"""mu: the weight of a test per 100,000 residents, in deaths per 100,000 (module docstring)."""
PAUSE = dt.date(2020, 3, 22)
DAYS_PER_MONTH = 365.25 / 12
OBSERVED = ("exposed", "symptomatic")


class LockdownOrders(nn.Module):
    r"""The orders in force under lockdown intensity L = `world.env["lockdown"]` (module docstring): contact scales
    c_l = 1 - L (1 - c_l^PAUSE), work from home w = L w^PAUSE, lockdown L, as 0-dim tensors (with L's gradient)."""

    def __init__(self, layers: Sequence[str] = NYC_LAYERS):
        super().__init__()
        pause = nyc_2020_schedule(layers=layers).state_on(PAUSE)
        self.layers = tuple(layers)
        self.register_buffer("closed_by_pause", torch.tensor([1 - pause.contact_scale[layer] for layer in layers]))
        self.work_from_home_at_pause = pause.work_from_home_fraction

    def extra_repr(self) -> str:
        return f"layers={list(self.layers)}"

    def forward(self, world: World) -> dict[str, Tensor]:
        level = world.env[LOCKDOWN_KEY].float()
        scale = 1 - level * self.closed_by_pause.to(world.device)
        return {**{contact_scale_key(layer): scale[k] for k, layer in enumerate(self.layers)},
                WORK_FROM_HOME_KEY: level * self.work_from_home_at_pause, LOCKDOWN_KEY: level}


def actual_orders(start: dt.date, days: int, variables: Sequence[ControlVariable] = (LOCKDOWN,)) -> Schedule:
    """The lockdown values of New York City's 2020 orders (`nyc_2020_schedule`), day by day from `start`; every
    other control of `variables` (testing) at its lower bound."""
    schedule = nyc_2020_schedule()
    levels = [[schedule.state_on(start + dt.timedelta(days=k)).lockdown if v.name == LOCKDOWN_KEY else v.low
               for v in variables] for k in range(days)]
    return Schedule(variables, levels)


@dataclasses.dataclass(frozen=True)
class DeathsAndUnemployment:
    """J = deaths per 100,000 + lambda x unemployed person-months per 100 residents [+ mu x tests per 100,000
    residents, when `test_weight` mu is given] (module docstring)."""

    n_residents: int
    unemployment_weight: float = 5.0
    test_weight: float | None = None

    def __post_init__(self) -> None:
        for name in ("unemployment_weight", "test_weight"):
            value = getattr(self, name)
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")

    @property
    def weights(self) -> dict[str, float]:
        tests = {} if self.test_weight is None else {"tests": self.test_weight}
        return {"deaths": 1.0, "unemployment": self.unemployment_weight, **tests}

    def terms(self, series: Mapping[str, Tensor], variables: Sequence[ControlVariable]) -> dict[str, Tensor]:
        deaths = series["dead"][-1] / self.n_residents * 1e5
        unemployed = series["unemployed"][1:].sum()  # [T, R] summed: person-days
        out = {"deaths": deaths, "unemployment": unemployed / self.n_residents * 100 / DAYS_PER_MONTH}
        if self.test_weight is not None:
            out["tests"] = series["tests"][1:].sum() / self.n_residents * 1e5  # tests per 100,000 over the T days
        return out

    def total(self, terms: Mapping[str, Tensor | float]) -> float:
        return sum(w * float(terms[name]) for name, w in self.weights.items())


class CovidControlTask:
    """The task on a built synthetic city (module docstring): fresh models with the draw loaded, problems, the
    controller both trained methods start from."""

    def __init__(self, city: Population, draws: str | Path, *, scale: float, draw: int = 0, days: int = 120,
                 start_date: dt.date = dt.date(2020, 3, 1), unemployment_weight: float = 5.0,
                 controls: Sequence[str] = ("lockdown",), test_weight: float = TEST_WEIGHT):
        unknown = [name for name in controls if name not in CONTROLS]
        if unknown or "lockdown" not in controls or len(set(controls)) != len(controls):
            raise InputError(f"controls must name lockdown, and testing at most once besides, got {list(controls)}")
        path = Path(draws)
        if not path.is_file():
            raise InputError(f"calibration draws {path} not found; pass --draws with the draws.parquet of "
                             "`populace calibrate covid-nyc --ensemble M` (docs/calibration-2020-draws.parquet is the "
                             "committed one)")
        fitted = load_parameter_draws(path)
        if not 0 <= draw < len(fitted):
            raise InputError(f"--draw must be in 0..{len(fitted) - 1} (the file holds {len(fitted)} draws), got {draw}")
        self.draw = fitted[draw]
        self.draw_scale = float(draws_metadata(path).get("scale", scale))
        self.weeks = int(self.draw["model.transmission.parametrizations.beta_by_week.original"].numel())
        if weeks_in(days) > self.weeks:
            raise InputError(f"the draws hold {self.weeks} weekly betas, too few for {days} days; lower --days to at "
                             f"most {7 * self.weeks}")
        self.city, self.scale, self.days, self.start_date = city, scale, days, start_date
        self.variables = tuple(CONTROLS[name] for name in controls)
        self.objective = DeathsAndUnemployment(city.agents.n, unemployment_weight,
                                               test_weight if TESTING in self.variables else None)

    def model(self) -> CovidNYC:
        """`calibration_model` with the draw loaded, its initial infections at this scale, `LockdownOrders`."""
        model = calibration_model(self.city, start_date=self.start_date, weeks=self.weeks)
        load_draw(self.draw, model, Observation())
        model.initial_infections = model.initial_infections.detach() * self.scale / self.draw_scale
        model.policy = LockdownOrders(model.transmission.contacts.names)
        return model

    def problem(self, policy: nn.Module) -> ControlProblem:
        return ControlProblem(self.model(), policy, self.objective, steps=self.days, checkpoint_steps=14)

    def controller(self, seed: int = 0) -> Controller:
        """2 tanh layers of 16 over (t / T, exposed, symptomatic as shares of 1% of the residents), starting at
        the middle of each control's range (L = 0.5; testing 0.05)."""
        one_percent = 0.01 * self.city.agents.n
        return Controller(self.variables, OBSERVED, scale=[one_percent, one_percent], hidden=16, depth=2,
                          initial=0.5, seed=seed)
