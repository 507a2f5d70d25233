"""Expected deaths given the infections (`expected_new_deaths`): the mass by hand, its schedule, its mean against the
sampled deaths, its gradient (the small-scale forecast: tests/calibrate/test_calibration_expected_deaths.py)."""

import math

import pytest
import torch

from populace.core import AgentTable, World
from populace.core.parameters import unconstrained
from populace.models.covid_nyc import CovidDisease, CovidParams, Stage
from populace.models.covid_nyc.disease import expected_deaths_by_region
from populace.network import ContactGraph
from populace.population.synthetic import synthetic_population


def onset_to_death_mean_sd(meanlog: float, sdlog: float) -> tuple[float, float]:
    """Mean and sd of max(1, round(X)), X ~ LN(meanlog, sdlog), from its pmf."""
    k = torch.arange(1, 5000, dtype=torch.float64)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    cdf = normal.cdf((torch.log(k + 0.5) - meanlog) / sdlog)
    pmf = torch.diff(torch.cat([torch.zeros(1, dtype=torch.float64), cdf]))
    mean = float((k * pmf).sum())
    return mean, math.sqrt(float((k**2 * pmf).sum()) - mean**2)


@pytest.mark.parametrize("differentiable", [False, True])
def test_expected_deaths_are_the_hand_computed_mass_of_the_day(differentiable):
    # Five agents, two regions; the record after day 12 (step 13) sums p_fatal over the infected agents whose
    # death would fall on day 12: region 0 agents 0 (0.3) and 1 (0.05), region 1 agent 3 (0.2); agent 2 dies on
    # day 11 if at all, agent 4 was never infected (S; its stale columns must not count).
    stage = torch.tensor([Stage.I, Stage.E, Stage.I, Stage.A, Stage.S], dtype=torch.uint8)
    if differentiable:
        stage = torch.nn.functional.one_hot(stage.long(), len(Stage)).float()
    table = AgentTable({"stage": stage, "region": torch.tensor([0, 0, 1, 1, 1], dtype=torch.uint8),
                        "p_fatal": torch.tensor([0.3, 0.05, 0.4, 0.2, 0.9]),
                        "death_day_if_fatal": torch.tensor([12, 12, 11, 12, 12], dtype=torch.int16)})
    world = World.of(table, seed=0, step=13, differentiable=differentiable)
    got = expected_deaths_by_region(world, 2)
    assert torch.allclose(got, torch.tensor([0.35, 0.2]), rtol=0, atol=1e-7)
    day_before = World.of(table, seed=0, step=12, differentiable=differentiable)
    assert torch.allclose(expected_deaths_by_region(day_before, 2), torch.tensor([0.0, 0.4]), rtol=0, atol=1e-7)


@pytest.fixture(scope="module")
def everyone_infected():
    # No contacts: all N agents are infected on day 0 and only progress; 250 days let every infection end.
    n = 10_000
    p = CovidParams()
    agents = AgentTable({"age": torch.arange(n, dtype=torch.int64).remainder(100).to(torch.uint8),
                         "region": torch.arange(n).remainder(2).to(torch.uint8)})
    model = CovidDisease(agents, ContactGraph(n, {}), p, initial_infected=n)
    return p, model, model.run(250, seed=7, progress=False)


def test_each_infection_carries_its_fatality_on_the_day_it_would_die(everyone_infected):
    p, model, traj = everyone_infected
    a = traj.final_world.agents
    band = torch.clamp(a.age.long() // 5, max=18)
    ifr = (1 - p.asymptomatic_fraction) * model.progression.p_death_if_symptomatic[band]
    assert torch.allclose(a.p_fatal.double(), ifr, rtol=1e-6, atol=0)
    assert torch.equal(a.death_day_if_fatal[a.is_fatal], a.end_day[a.is_fatal])  # the fatal draw's own death day
    # onset to death, drawn for every infection (fatal or not): the rounded LN mean within 4 standard errors
    mean, sd = onset_to_death_mean_sd(*p.onset_to_death_days_log_parameters)
    delays = (a.death_day_if_fatal - a.onset_day).double()
    assert float(delays.mean()) == pytest.approx(mean, abs=4 * sd / math.sqrt(a.n))
    # every death day falls inside the run: the recorded expectation adds up to sum_i p_fatal_i exactly, and the
    # sampled deaths lie within 4 standard errors sqrt(sum p (1 - p)) of it
    expected, sampled = traj["expected_new_deaths"].sum(), traj["new_deaths"].sum()
    assert float(expected) == pytest.approx(float(a.p_fatal.double().sum()), rel=1e-5)
    se = math.sqrt(float((a.p_fatal.double() * (1 - a.p_fatal.double())).sum()))
    assert abs(float(sampled) - float(expected)) < 4 * se


def test_expected_deaths_carry_the_gradient_of_the_infections():
    # Without contacts the only infections are the first ones, each of mass 1 + (l - stop_grad(l)), l = log
    # initial_infections: d(sum of expected deaths)/dl = sum of expected deaths (exactly, up to float rounding).
    n = 500
    agents = AgentTable({"age": torch.arange(n, dtype=torch.int64).remainder(100).to(torch.uint8),
                         "region": torch.zeros(n, dtype=torch.uint8)})
    model = CovidDisease(agents, ContactGraph(n, {}), CovidParams(), initial_infected=200)
    traj = model.run(120, seed=2, differentiable=True, progress=False)
    total = traj["expected_new_deaths"].sum()
    (grad,) = torch.autograd.grad(total, unconstrained(model, "initial_infections"))
    assert float(total.detach()) > 0
    assert float(grad) == pytest.approx(float(total.detach()), rel=1e-5)


def test_the_sampled_deaths_average_to_the_expected_deaths_over_seeds():
    # An epidemic through contacts (3,000 agents, 80 days, seeds 0-5). Given the infections, each infected agent's
    # death is Bernoulli(p_fatal) on its death day, so sampled - expected has mean 0 and variance
    # sum p_fatal (1 - p_fatal) over the agents whose death day falls in the run: the seed mean of the
    # differences within 4 standard errors of 0.
    population = synthetic_population(3000, contacts_per_agent=10, seed=0)
    model = CovidDisease.from_population(population, CovidParams(beta_by_week=(0.25,)), initial_infected=30)
    days, differences, variances = 80, [], []
    for seed in range(6):
        traj = model.run(days, seed=seed, progress=False)
        a = traj.final_world.agents
        counted = (a.death_day_if_fatal >= 0) & (a.death_day_if_fatal < days)
        p = a.p_fatal.double()[counted]
        differences.append(float(traj["new_deaths"].sum() - traj["expected_new_deaths"].sum()))
        variances.append(float((p * (1 - p)).sum()))
    assert sum(variances) > 1  # the epidemic had deaths to compare
    mean = sum(differences) / len(differences)
    assert abs(mean) < 4 * math.sqrt(sum(variances)) / len(differences)
