"""COVID-NYC's plug into the generic ensemble runner (`populace.analysis.ensemble`): a scenario file's run folder as
a `Study` of `CovidNYCScenarios`.

A run folder (set up by `analyze.prepare`) holds `scenario.json` and `population/`; `study(run_dir)` reads them into
a `Study` whose members are the scenario's seeds and parameter draws and whose policies are the scenario's. The
runner writes, per member and run, `members/mNNNN/<policy>.daily.parquet` (date, region, infections,
reported_cases, deaths, labour_force, unemployed: counts at the size of the city, i.e. divided by the population's
scale) and `<policy>.ages.parquet` (age_band, infections, deaths over the run), with `parameters.json` (the model's
and the observation model's parameters, stored units) and `done.json`.

A policy run branches from the baseline on its branch date (`interventions.branch_date`: the first day its orders,
behaviour or labour market can differ).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from populace.analysis import ensemble as runner
from populace.analysis.ensemble import Member, Study
from populace.core.errors import InputError
from populace.core.parameters import load_values
from populace.core.world import World
from populace.models.covid_nyc.analysis.build import (
    baseline_models,
    is_nyc,
    population_scale,
    read_parameter_draws,
    region_labels,
)
from populace.models.covid_nyc.analysis.interventions import branch_date, policy_model
from populace.models.covid_nyc.analysis.scenario import Policy, Scenario
from populace.models.covid_nyc.calibration import OBSERVATION_PREFIX
from populace.models.covid_nyc.disease import Stage
from populace.models.covid_nyc.model import CovidNYC
from populace.models.covid_nyc.observe import ONSET_OBSERVABLES, Observation, daily_tests_on
from populace.population.storage import Population

SCENARIO_FILE = "scenario.json"
POPULATION_DIR = "population"
AGE_BANDS = ((0, 17, "0-17"), (18, 44, "18-44"), (45, 64, "45-64"), (65, 74, "65-74"), (75, 200, "75+"))
"""Age bands of the outputs (DOHMH's)."""
SERIES = ("new_infections", "new_deaths", *ONSET_OBSERVABLES, "labour_force", "unemployed")


@dataclasses.dataclass(frozen=True)
class CovidNYCScenarios:
    """The `ScenarioModel` of a COVID-NYC scenario: the baseline `CovidNYC` on the population saved in
    `population_dir`, its policies applied by `interventions.policy_model`, tables "daily" and "ages"."""

    scenario: Scenario
    population_dir: str
    data_dir: str | None = None
    tables = ("daily", "ages")

    @property
    def population(self) -> Population:
        return _population(self.population_dir)

    def build(self, draw: Mapping[str, Tensor] | None) -> CovidNYC:
        return baseline_models(self.scenario, self.population, draw)[0]

    def apply(self, model: CovidNYC, policy: Policy) -> CovidNYC:
        return policy_model(model, policy)

    def branch_step(self, model: CovidNYC, policy: Policy) -> int:
        s = self.scenario
        return s.step_of(branch_date(model.policy.schedule, policy, s.start, s.last_day))

    def observe(self, records: pd.DataFrame, final: World, draw: Mapping[str, Tensor] | None
                ) -> dict[str, pd.DataFrame]:
        labels = region_labels(self.population)
        tests = _daily_tests(self.scenario.start, self.scenario.days, self.data_dir) if is_nyc(labels) else None
        daily, ages = run_tables(records, labels, final, self.observation(draw), tests,
                                 population_scale(self.population))
        return {"daily": daily, "ages": ages}

    def observation(self, draw: Mapping[str, Tensor] | None) -> Observation:
        """The observation model of a member (the draw's `observation.` values loaded)."""
        observation = Observation()
        load_values(observation, {k: v for k, v in (draw or {}).items() if k.startswith(OBSERVATION_PREFIX)},
                    prefix=OBSERVATION_PREFIX)
        return observation

    def parameter_values(self, model: CovidNYC, draw: Mapping[str, Tensor] | None) -> dict[str, list[float]]:
        """The model's parameters, then the observation model's (prefixed `observation.`), stored units."""
        return {prefix + name: value.detach().double().reshape(-1).tolist()
                for prefix, module in (("", model), (OBSERVATION_PREFIX, self.observation(draw)))
                for name, value in module.named_parameters()}


@functools.lru_cache(maxsize=1)
def _population(folder: str) -> Population:
    """The population of a run folder, read once per process."""
    return Population.load(folder)


@functools.lru_cache(maxsize=1)
def _daily_tests(start: dt.date, days: int, data_dir: str | None) -> torch.Tensor:
    return daily_tests_on([start + dt.timedelta(days=d) for d in range(days)], data_dir=data_dir)


def ensemble_members(scenario: Scenario, n_draws: int) -> list[Member]:
    """The scenario's members (`populace.analysis.ensemble.ensemble_members`), checking the parameters file has
    enough draws."""
    e = scenario.ensemble
    if e.parameter_draws > n_draws:
        raise InputError(f"ensemble.parameter_draws is {e.parameter_draws} but the parameters file has {n_draws} "
                         "draw(s)")
    return runner.ensemble_members(e.seeds, e.first_seed, e.parameter_draws, n_draws)


def study(run_dir: str | Path, data_dir: str | None = None) -> Study:
    """The `Study` of a prepared run folder: its scenario, population and parameter draws."""
    run_dir = Path(run_dir)
    scenario = Scenario.model_validate_json((run_dir / SCENARIO_FILE).read_text())
    draws = read_parameter_draws(scenario.parameters) if scenario.parameters else []
    ensemble_members(scenario, len(draws))
    e = scenario.ensemble
    return Study(scenario.name, CovidNYCScenarios(scenario, str(run_dir / POPULATION_DIR), data_dir), scenario.days,
                 scenario.policies, seeds=e.seeds, first_seed=e.first_seed, draws=tuple(draws),
                 parameter_draws=e.parameter_draws, checkpoint_steps=scenario.checkpoint_days)


def branch_steps(scenario: Scenario, model: CovidNYC) -> dict[str, int]:
    """{policy name: the step its run branches from the baseline}."""
    spec = CovidNYCScenarios(scenario, "")
    return {p.name: spec.branch_step(model, p) for p in scenario.policies}


def run_ensemble(run_dir: str | Path, *, workers: int = 1, resume: bool = False, progress: bool | None = None,
                 data_dir: str | None = None, executor: str = "local") -> list[Member]:
    """Run every member of the run folder's scenario not finished yet (inline, in processes or on Dask:
    `populace.analysis.executors`); returns the members."""
    return runner.run_ensemble(run_dir, study(run_dir, data_dir), workers=workers, resume=resume, progress=progress,
                               executor=executor)


def run_member(run_dir: str, member: Member, data_dir: str | None = None) -> None:
    """Run one member of the run folder's scenario (see `populace.analysis.ensemble.run_member`)."""
    runner.run_member(run_dir, study(run_dir, data_dir), member)


def run_tables(frame: pd.DataFrame, labels: list[str], final: World, observation: Observation,
               tests: torch.Tensor | None, scale: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(daily by region, totals by age band) of one run from its daily records, at the size of the city."""
    series = {name: torch.tensor(frame[[f"{name}[{r}]" for r in labels]].to_numpy()[1:], dtype=torch.float64)
              for name in SERIES}  # [T, R]: the records after each day, row t on the day of record t + 1
    with torch.no_grad():
        cases = observation.double().reported_cases(series[ONSET_OBSERVABLES[0]], series[ONSET_OBSERVABLES[1]],
                                                    None if tests is None else tests.double())
        deaths = observation.reported_deaths(series["new_deaths"])
    dates = pd.to_datetime(frame["date"].iloc[1:].to_numpy())
    values = {"infections": series["new_infections"], "reported_cases": cases, "deaths": deaths,
              "labour_force": series["labour_force"], "unemployed": series["unemployed"]}
    daily = pd.DataFrame({"date": dates.repeat(len(labels)), "region": labels * len(dates)})
    for name, value in values.items():
        daily[name] = value.numpy().reshape(-1) / scale
    a = final.agents
    age = a.age.long()
    infected = a.infection_day >= 0
    dead = (a.stage.argmax(-1) if a.stage.dim() == 2 else a.stage.long()) == Stage.D
    rows = [(label, float((infected & (age >= lo) & (age <= hi)).sum()) / scale,
             float((dead & (age >= lo) & (age <= hi)).sum()) / scale) for lo, hi, label in AGE_BANDS]
    return daily, pd.DataFrame(rows, columns=["age_band", "infections", "deaths"])
