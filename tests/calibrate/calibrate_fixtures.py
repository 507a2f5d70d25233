"""A small calibration problem on a synthetic population: the simulator makes its own targets with known parameters."""

import datetime as dt
import functools
import math
from collections.abc import Callable, Sequence

import torch

from populace.behavior.interface import DecisionModel
from populace.calibrate import DateWindow, Targets, total_loss
from populace.core.parameters import unconstrained
from populace.models.covid_nyc.calibration import Calibration, calibration_model, weeks_in
from populace.models.covid_nyc.observe import Observation
from populace.models.covid_nyc.policy import nyc_2020_schedule
from populace.models.covid_nyc.schedules import CalibrationNetwork, network_features
from populace.models.covid_nyc.targets import LossWeights, covid_targets
from populace.population.storage import Population
from populace.population.synthetic import layered_synthetic_population

START = dt.date(2020, 3, 1)


def regional_population(n_agents: int, *, seed: int = 1) -> Population:
    """Synthetic agents in 5 regions of equal size with household, school, work (groups, weight 0.3) and community
    (random) layers, the layers the NYC orders name."""
    return layered_synthetic_population(n_agents, seed=seed, agents_per_zone=n_agents // 5)


def tests_per_day(days: int) -> torch.Tensor:
    """A synthetic test series that grows tenfold over the run (so the tests slope matters)."""
    return 2000 * torch.logspace(0, 1, days)


def small_calibration(*, n_agents: int = 1500, days: int = 35, mode: str = "free", beta: float = 0.25,
                      initial_infected: int = 20, importations_per_million_per_day: float = 500.0,
                      targets: Targets | None = None, seed: int = 1, frozen: tuple[str, ...] = (),
                      behaviour: Callable[[Sequence[str]], DecisionModel] | None = None) -> Calibration:
    """A calibration on `n_agents` synthetic agents from 2020-03-01; targets: zeros unless given (set them with
    `synthetic_targets`). Scale 1: counts are compared as they are. Importations: about 0.75 a day in 1,500 agents,
    so every run has some and their rate gets a gradient. Deaths are left out of the loss (weight 0):
    a few thousand agents have too few deaths in a few weeks for a useful signal. `behaviour`: a function of the
    region labels giving the decision model (default: `WeeklyIsolationDecisions`)."""
    population = regional_population(n_agents, seed=seed)
    window = DateWindow(START, START + dt.timedelta(days=days - 1))
    regions = tuple(population.manifest["codes"]["region"])
    if targets is None:
        months = tuple(window.months)
        targets = covid_targets(window, regions, torch.zeros(days, len(regions), dtype=torch.float64),
                                torch.zeros(days, len(regions), dtype=torch.float64), months,
                                torch.zeros(len(months), len(regions), dtype=torch.float64))
    weeks = weeks_in(days)
    model = calibration_model(population, start_date=START, weeks=weeks, beta_per_day=beta,
                              initial_infected=initial_infected,
                              importations_per_million_per_day=importations_per_million_per_day,
                              behaviour=None if behaviour is None else behaviour(regions))
    network = None
    if mode == "network":
        residents = torch.bincount(population.agents.region.long(), minlength=len(regions)).double()
        features = network_features(START, weeks, targets["cases"].values, nyc_2020_schedule(),
                                    residents_by_region=residents.tolist())
        network = CalibrationNetwork(features, log_beta_0=float(torch.log(torch.tensor(beta))),
                                     resident_share_by_region=(residents / residents.sum()).tolist())
    return Calibration(model, Observation(ascertainment=0.3), targets, scale=1.0, tests_per_day=tests_per_day(days),
                       mode=mode, network=network, checkpoint_days=7, weights=LossWeights(deaths=0.0),
                       frozen=frozen)


TRUTH = {"beta": 0.25, "ascertainment": 0.3, "lockdown_job_loss_per_week": 0.06, "rehire_per_week": 0.03}
"""Parameters of the synthetic targets (the rest at their defaults)."""


def synthetic_problem(*, n_agents: int = 1000, days: int = 28, mode: str = "free", start_beta: float = 0.35,
                      start_ascertainment: float = 0.1, start_rehire_per_week: float = 0.05,
                      truth_seeds: tuple[int, ...] = (100, 101, 102, 103), frozen: tuple[str, ...] = ()) -> Calibration:
    """A calibration whose targets the simulator made at `TRUTH` (mean over `truth_seeds`), started elsewhere:
    beta `start_beta`, ascertainment `start_ascertainment`, re-hiring `start_rehire_per_week` and the default
    lockdown job loss (0.03 a week)."""
    targets = truth_targets(n_agents, days, truth_seeds)
    problem = small_calibration(n_agents=n_agents, days=days, beta=start_beta, targets=targets, mode=mode,
                                frozen=frozen)
    set_values(problem, ascertainment=start_ascertainment, rehire_per_week=start_rehire_per_week)
    return problem


@functools.cache
def truth_targets(n_agents: int, days: int, truth_seeds: tuple[int, ...]) -> Targets:
    """The simulator's mean series at `TRUTH` (computed once per setting)."""
    truth = small_calibration(n_agents=n_agents, days=days, beta=TRUTH["beta"])
    set_values(truth, ascertainment=TRUTH["ascertainment"], rehire_per_week=TRUTH["rehire_per_week"],
               lockdown_job_loss_per_week=TRUTH["lockdown_job_loss_per_week"])
    return truth.synthetic_targets(truth_seeds)


def seed_loss(calibration: Calibration, seed: int, **options: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total loss, loss terms) of one run, as the fit computes them."""
    terms = calibration.loss_terms(seed, **options)
    return total_loss(calibration, terms), terms


def set_values(calibration: Calibration, *, ascertainment: float, rehire_per_week: float,
               lockdown_job_loss_per_week: float | None = None) -> None:
    with torch.no_grad():
        alpha = unconstrained(calibration.observation, "reference_ascertainment")
        alpha.fill_(math.log(ascertainment / (1 - ascertainment)))
        calibration.model.labour.parametrizations.rehire_per_week.original.fill_(math.log(rehire_per_week))
        if lockdown_job_loss_per_week is not None:
            calibration.model.labour.parametrizations.lockdown_job_loss_per_week.original.fill_(math.log(lockdown_job_loss_per_week))
