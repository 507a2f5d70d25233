r"""COVID-NYC's calibration problem (`populace.calibrate.CalibrationProblem`): a `CovidNYC` model, its `Observation`,
the targets, and what is learned; the named loss terms of a run.

What is learned (the parameters with `requires_grad`, named as in `named_parameters()`: `model.` the model's,
`observation.` the observation's, `network.` the calibration network's):

- static: `observation.reference_ascertainment` and `observation.tests_slope` (the latter only with a test series),
  the model's initial infections (agents infected on day 0), its importation rate (infections imported from
  outside, when the model has importations), and the labour response (job loss at baseline and under lockdown,
  the effect of staying home, re-hiring, its reduction under lockdown and its duration dependence, the
  long-term unemployed's relative re-hiring rate): every parameter of the model outside
  its decision model;
- weekly: the transmission rate per week [W], either free (mode "free") or an output of a `CalibrationNetwork`
  whose weights are learned (mode "network");
- behaviour: with `WeeklyIsolationDecisions`, its weekly isolation shifts `isolate_logit_by_week` [W, R] (free, or
  the network's second output) and none of the heuristic's own parameters; with any other decision model (e.g.
  `populace.behavior.LLMDecisions` and its per-archetype logit offsets), all of its parameters (mode "free" only).

`Calibration` sets `requires_grad` accordingly on the model it is given (the heuristic's parameters, the test
slope without tests, the weekly tensors the network replaces, and `frozen` are switched off). Everything else (the
disease's natural history, the orders) is a buffer at its published or assumed value. A run gives reported cases
and deaths per borough per day (city scale: divided by the population's scale) and the unemployment rate per
borough per month; `terms` compares them with the targets (`populace.models.covid_nyc.targets`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from populace.behavior.interface import DecisionModel
from populace.calibrate.problem import trainable
from populace.calibrate.targets import Targets
from populace.core.parameters import load_values, unconstrained
from populace.core.runner import run
from populace.core.trajectory import Trajectory
from populace.models.covid_nyc.model import CovidNYC
from populace.models.covid_nyc.observe import (
    Observation,
    monthly_unemployment_rate,
    series_dates,
    series_from_trajectory,
)
from populace.models.covid_nyc.params import CovidParams
from populace.models.covid_nyc.schedules import (
    DAYS_PER_WEEK,
    CalibrationNetwork,
    WeeklyIsolationDecisions,
    attach_network,
    network_outputs,
)
from populace.models.covid_nyc.targets import (
    LossWeights,
    covid_targets,
    log_series_loss,
    months_of,
    rate_loss,
    region_order,
)
from populace.population.storage import Population

MODES = ("free", "network")
DEATH_SERIES = ("expected", "sampled")
"""What a run's `deaths` are: the expected deaths given the simulated infections (probability mass, the default) or
the sampled deaths (one draw of each fate). At a small scale the sampled count is mostly 0 on any day, which leaves
the log loss flat in beta; the expectation has the same seed mean and is > 0 wherever someone was infected."""
IMPORTATIONS_PER_MILLION_PER_DAY = 10.0
"""Starting rate of imported infections per million residents per day (assumption, learned by the fit): about 80 a
day citywide, a small share of NYC's summer-2020 infections."""
MODEL_PREFIX, OBSERVATION_PREFIX = "model.", "observation."
"""Prefixes of the names of learned tensors and of parameter draws (model's, observation's)."""
BETA_PARAMETER = "transmission.parametrizations.beta_by_week.original"
IMPORTATION_PARAMETER = "importation.parametrizations.rate.original"
WEEKLY_ISOLATION_PARAMETER = "behaviour.decision_model.isolate_logit_by_week"
LONG_TERM_REHIRE_PARAMETER = "labour.parametrizations.long_term_rehire_factor.original"
"""Keys in a parameter draw that `populace.models.covid_nyc.analysis.build` reads to shape the baseline model
(weeks of beta, importations, the weekly isolation shifts); what is learned is chosen by `requires_grad`, not by
these."""


def weeks_in(days: int) -> int:
    return max(1, math.ceil(days / DAYS_PER_WEEK))


def calibration_model(population: Population, *, start_date: dt.date | str, weeks: int,
                      beta_per_day: float = 0.12, initial_infected: int = 10,
                      importations_per_million_per_day: float = IMPORTATIONS_PER_MILLION_PER_DAY,
                      params: CovidParams | None = None, behaviour: DecisionModel | None = None,
                      parts: Mapping[str, Any] | None = None) -> CovidNYC:
    """`CovidNYC` on `population` with `weeks` weekly betas (all `beta_per_day`), importations, and `behaviour`
    (default `WeeklyIsolationDecisions` for `weeks` weeks and the population's regions); `parts`: further keyword
    arguments of `CovidNYC.from_population` (vaccination and variants: `nyc_2021_parts`)."""
    n_regions = len(population.manifest.get("codes", {}).get("region") or []) or int(population.agents.region.max()) + 1
    params = (params or CovidParams()).replace(beta_by_week=(beta_per_day,) * weeks,
                                               importations_per_million_per_day=importations_per_million_per_day)
    return CovidNYC.from_population(population, params, start_date=start_date, initial_infected=initial_infected,
                                    behaviour=behaviour or WeeklyIsolationDecisions(weeks, n_regions), **(parts or {}))


class Calibration(nn.Module):
    """The calibration problem: simulate, observe, compare (see the module docstring).

    Args:
        model: a `CovidNYC` built by `calibration_model` (weekly betas; `WeeklyIsolationDecisions` or another
            decision model, see the module docstring), starting on the targets' first day. Its parameters'
            `requires_grad` is set to what is learned.
        observation: the observation model whose parameters are learned.
        targets: the observed series on the training window (`covid_targets`, `load_targets`).
        scale: the population's fraction of the real one (simulated counts are divided by it).
        tests_per_day: tests per day from the first day [>= T] (drives ascertainment), or None (constant).
        weights: weights of the loss terms.
        mode: "free" or "network".
        network: the `CalibrationNetwork` (mode "network" only).
        checkpoint_days: time checkpointing of differentiable runs (bounded memory).
        frozen: names (as in `populace.calibrate.trainable`) to keep at their values instead of learning them.
        deaths: "expected" (default) or "sampled": which deaths the loss and the forecasts use (`DEATH_SERIES`).
    """

    def __init__(self, model: CovidNYC, observation: Observation, targets: Targets, *, scale: float,
                 tests_per_day: Tensor | None = None, weights: LossWeights | None = None, mode: str = "free",
                 network: CalibrationNetwork | None = None, checkpoint_days: int | None = 14,
                 frozen: Collection[str] = (), deaths: str = "expected"):
        super().__init__()
        if deaths not in DEATH_SERIES:
            raise ValueError(f"deaths must be one of {DEATH_SERIES}, got {deaths!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if (mode == "network") != (network is not None):
            raise ValueError("give a CalibrationNetwork exactly when mode='network'")
        if model.start_date != targets.window.start:
            raise ValueError(f"the model starts on {model.start_date} but the targets on {targets.window.start}; "
                             "build the model with start_date=targets.window.start")
        if not (0 < scale <= 1):
            raise ValueError(f"scale must be in (0, 1] (the population's fraction of the real one), got {scale}")
        decisions = model.behaviour.decision_model
        if mode == "network" and not isinstance(decisions, WeeklyIsolationDecisions):
            raise TypeError("mode 'network' drives WeeklyIsolationDecisions; build the model with calibration_model() "
                            "and no behaviour, or use mode 'free'")
        if tests_per_day is not None and (tests_per_day.dim() != 1 or tests_per_day.numel() < targets.window.days):
            raise ValueError(f"tests_per_day must be [days >= {targets.window.days}], got "
                             f"{list(tests_per_day.shape)}")
        self.network = network  # first, so its weights are named network.* (the model reaches them too, see below)
        self.model = model
        self.observation = observation
        if isinstance(decisions, WeeklyIsolationDecisions):  # the weekly shifts, not the heuristic's own parameters
            decisions.requires_grad_(False)
            decisions.isolate_logit_by_week.requires_grad_(mode == "free")
        observation.tests_slope.requires_grad_(tests_per_day is not None)
        if network is not None:  # the network's outputs replace the weekly tensors, whose stored values are ignored
            model.transmission.requires_grad_(False)
            attach_network(model, network)
        self.targets = targets
        self.scale = float(scale)
        self.register_buffer("tests_per_day", None if tests_per_day is None else tests_per_day.float())
        self.weights = weights or LossWeights()
        self.mode = mode
        self.deaths = deaths
        self.checkpoint_days = checkpoint_days
        self.regions = region_order(model.region_labels, targets)
        self.frozen = frozenset(frozen)
        learned = trainable(self)
        unknown = sorted(self.frozen - set(learned))
        if unknown:
            raise KeyError(f"cannot freeze {unknown}: not learned in mode {mode!r} (learned: {', '.join(learned)})")
        for name in self.frozen:
            learned[name].requires_grad_(False)

    @property
    def days(self) -> int:
        return self.targets.window.days

    @property
    def loss_weights(self) -> dict[str, float]:
        """The weights of `terms`' terms: unemployment's only when the targets have months."""
        weights = dataclasses.asdict(self.weights)
        if not len(months_of(self.targets)):
            del weights["unemployment"]
        return weights

    def simulate(self, seed: int, *, differentiable: bool = True, days: int | None = None,
                 months: Sequence[dt.date] | None = None) -> dict[str, Tensor]:
        """One run from the first day: `cases`, `deaths`, `infections` [T, R] (city scale, target region order) and
        `unemployment` [M, R] (%) on `months` (default: the targets'); `deaths` is `deaths_expected` or
        `deaths_sampled` (both given, reported deaths) as `self.deaths` says."""
        return self.series(self.trajectory(seed, differentiable=differentiable, days=days), months=months)

    def trajectory(self, seed: int, *, differentiable: bool = True, days: int | None = None) -> Trajectory:
        """The model's run over `days` (default: the targets' window), time-checkpointed when differentiable."""
        days = self.days if days is None else days
        if self.tests_per_day is not None and self.tests_per_day.numel() < days:
            raise ValueError(f"tests_per_day covers {self.tests_per_day.numel()} days, the run {days}")
        return run(self.model, days, seed=seed, differentiable=differentiable, progress=False,
                   checkpoint_steps=self.checkpoint_days if differentiable else None)

    def series(self, trajectory: Trajectory, *, months: Sequence[dt.date] | None = None) -> dict[str, Tensor]:
        """The observed series of a run (see `simulate`), through the observation model."""
        days = len(trajectory.steps) - 1
        tests = None if self.tests_per_day is None else self.tests_per_day[:days]
        order = self.regions
        observed = self.observation(trajectory, tests)
        labour = series_from_trajectory(trajectory, ["labour_force", "unemployed"])
        all_months, rate = monthly_unemployment_rate(labour["labour_force"], labour["unemployed"],
                                                     series_dates(trajectory))
        months = list(months_of(self.targets) if months is None else months)
        missing = [m for m in months if m not in all_months]
        if missing:
            raise ValueError(f"the run does not cover month(s) {missing}")
        rows = [all_months.index(m) for m in months]
        deaths = {"sampled": observed["deaths"][:, order] / self.scale,
                  "expected": observed["expected_deaths"][:, order] / self.scale}
        return {"cases": observed["reported_cases"][:, order] / self.scale,
                "deaths": deaths[self.deaths], "deaths_expected": deaths["expected"],
                "deaths_sampled": deaths["sampled"],
                "infections": observed["infections"][:, order] / self.scale,
                "unemployment": rate[rows][:, order]}

    def terms(self, simulated: dict[str, Tensor], targets: Targets | None = None) -> dict[str, Tensor]:
        """The loss terms of a run's series against the targets: `cases`, `deaths` and, with months, `unemployment`
        (module docstring of `targets`; weighted by `loss_weights`)."""
        targets = targets or self.targets
        terms = {"cases": log_series_loss(simulated["cases"], targets["cases"].values),
                 "deaths": log_series_loss(simulated["deaths"], targets["deaths"].values)}
        if len(months_of(targets)):
            terms["unemployment"] = rate_loss(simulated["unemployment"], targets["unemployment"].values)
        return terms

    def loss_terms(self, seed: int, *, differentiable: bool = True) -> dict[str, Tensor]:
        return self.terms(self.simulate(seed, differentiable=differentiable))

    @torch.no_grad()
    def synthetic_targets(self, seeds: Sequence[int]) -> Targets:
        """Targets made by the simulator itself at the current parameters (fast mode, mean over `seeds`), on the
        targets' window and months: data with known parameters, for recovery tests."""
        runs = [self.simulate(s, differentiable=False) for s in seeds]
        mean = {name: torch.stack([r[name] for r in runs]).mean(0).double() for name in ("cases", "deaths",
                                                                                           "unemployment")}
        t = self.targets
        return covid_targets(t.window, t.columns, mean["cases"], mean["deaths"], months_of(t), mean["unemployment"])

    @torch.no_grad()
    def draw(self) -> dict[str, Tensor]:
        """The learned (and `frozen`) quantities as plain tensors, the network evaluated, keyed `model.<name>` and
        `observation.<name>` as in their `state_dict`: load them with `load_draw` into a `calibration_model` and
        an `Observation`."""
        weights = self._network_weights()
        out = {name: p.detach().clone() for name, p in self.named_parameters()
               if (p.requires_grad or name in self.frozen) and id(p) not in weights}
        out.update({MODEL_PREFIX + name: value for name, value in network_outputs(self.model).items()})
        return out

    @torch.no_grad()
    def natural_values(self) -> dict[str, object]:
        """The fitted quantities in natural units, for a JSON summary."""
        model, obs = self.model, self.observation
        labour = model.labour
        decisions = model.behaviour.decision_model
        weights = self._network_weights()
        behaviour = {name: p.detach().tolist() for name, p in decisions.named_parameters()
                     if p.requires_grad and id(p) not in weights}
        behaviour.update({name: value.tolist() for name, value in network_outputs(decisions).items()})
        return {
            "ascertainment": float(obs.reference_ascertainment),
            "tests_slope": float(obs.tests_slope),
            "initial_infected_in_population": float(model.initial_infections),
            "initial_infected_city_scale": float(model.initial_infections) / self.scale,
            "importations_per_million_per_day": model.importation.per_million_per_day,
            "job_loss_per_week": float(labour.job_loss_per_week),
            "lockdown_job_loss_per_week": float(labour.lockdown_job_loss_per_week),
            "stay_home_job_loss_factor": float(labour.stay_home_job_loss_factor),
            "rehire_per_week": float(labour.rehire_per_week),
            "lockdown_rehire_reduction": float(labour.lockdown_rehire_reduction),
            "long_term_rehire_factor": float(labour.long_term_rehire_factor),
            "beta_by_week": [float(b) for b in model.transmission.beta_by_week],
            **behaviour,
            "regions": list(self.targets.columns),
        }

    def _network_weights(self) -> set[int]:
        return set() if self.network is None else {id(p) for p in self.network.parameters()}


@torch.no_grad()
def warm_start(target: Calibration, source: Calibration) -> None:
    """Start `target` from `source`'s learned values: a fit of the same problem on a population of another scale
    (coarse to fine: many cheap iterations on a small city, then a few on the large one).

    Every learned tensor is copied by name (`trainable`, the same in both); the initial infections, which count
    agents, are rescaled by target.scale / source.scale. The others are per agent, per contact or per resident
    (betas, rates, shifts, network weights), so they carry over as they are.
    """
    mine, theirs = trainable(target), trainable(source)
    if mine.keys() != theirs.keys():
        raise ValueError(f"the calibrations learn different tensors: {sorted(set(mine) ^ set(theirs))} are in only one "
                         "(build both with the same mode, behaviour and frozen names)")
    for name, value in theirs.items():
        if mine[name].shape != value.shape:
            raise ValueError(f"{name} has shape {list(value.shape)} in the source and {list(mine[name].shape)} in the "
                             "target: fit the same window (weeks) and regions")
        mine[name].copy_(value)
    if unconstrained(target.model, "initial_infections").requires_grad:
        rescale_initial_infections(target.model, target.scale / source.scale)


@torch.no_grad()
def rescale_initial_infections(model: nn.Module, ratio: float) -> None:
    """Multiply the model's initial infections, which count agents, by `ratio` (e.g. a city's scale over the scale
    of the fit it takes them from), in place on their stored log."""
    unconstrained(model, "initial_infections").add_(math.log(ratio))


def load_draw(draw: Mapping[str, Tensor], model: nn.Module, observation: nn.Module) -> None:
    """Copy fitted values into a model and an `Observation` (`populace.core.parameters.load_values`: by natural name
    or `state_dict` key).

    Keys `observation.<name>` go to `observation`; the others, bare or prefixed `model.` (as `Calibration.draw` and
    `load_parameter_draws` name them), to `model`. Keys left out keep their values; an unknown key or a wrong shape
    is an error naming it (build the model with `calibration_model`, the fit's decision model and as many weeks and
    regions as the fit).
    """
    observed = {name: value for name, value in draw.items() if name.startswith(OBSERVATION_PREFIX)}
    try:
        load_values(model, {name: value for name, value in draw.items() if name not in observed}, prefix=MODEL_PREFIX)
        load_values(observation, observed, prefix=OBSERVATION_PREFIX)
    except (KeyError, ValueError) as err:
        raise type(err)(f"{err.args[0]}; build the model with as many weeks and regions as the fit and its decision "
                        "model (populace.models.covid_nyc.calibration.calibration_model)") from None
