"""Importation: Poisson draws by inversion, the rate, both modes alike, the straight-through count, bad input."""

import math

import pytest
import torch
from covid_fixtures import layered_population

from populace.models.covid_nyc.disease import Stage, contact_scale_key
from populace.models.covid_nyc.importation import Importation, poisson_quantile
from populace.models.covid_nyc.model import CovidDisease
from populace.models.covid_nyc.params import CovidParams


@pytest.fixture(scope="module")
def population():
    return layered_population(3000, seed=2)


@pytest.mark.parametrize("mean", [0.3, 4.0, 40.0])
def test_poisson_quantile_inverts_the_poisson_cdf(mean):
    # on a fine grid of uniforms the draws' frequencies are the Poisson probabilities (within the grid's step)
    grid = 20_000
    draws = torch.tensor([poisson_quantile(mean, (i + 0.5) / grid) for i in range(grid)])
    for k in range(int(mean) + 4):
        pmf = math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1))
        assert float((draws == k).float().mean()) == pytest.approx(pmf, abs=2 / grid)


def test_poisson_quantile_uses_a_normal_approximation_for_large_means():
    assert poisson_quantile(10_000.0, 0.5) == 10_000
    assert poisson_quantile(10_000.0, 0.8413447) == pytest.approx(10_100, abs=1)  # mean + 1 sd
    assert poisson_quantile(0.0, 0.9) == 0


def _closed_model(population, rate: float) -> CovidDisease:
    """A model whose contacts are all closed (no transmission): every infection after day 0 is imported."""
    model = CovidDisease.from_population(population, CovidParams(importations_per_million_per_day=rate),
                                         initial_infected=1)
    return model


def _closed_world(model, seed, differentiable=False):
    world = model.initial_world(seed=seed, differentiable=differentiable)
    return world.with_env(**{contact_scale_key(name): 0.0 for name in model.transmission.contacts.names})


def test_imports_arrive_at_the_poisson_rate(population):
    rate, days, seeds = 2_000.0, 30, range(6)  # 6 imports a day expected in 3,000 agents
    model = _closed_model(population, rate)
    totals = [float(model.run(days, world=_closed_world(model, s), progress=False)["new_infections"][1:].sum())
              for s in seeds]
    expected = rate / 1e6 * population.n_agents * (days - 1)  # days 1..days-1 are recorded after day 0's step
    # drawn residents who were already infected (or drawn twice) are not re-infected: at most ~3% of the draws here
    assert sum(totals) / len(totals) == pytest.approx(expected * 0.985, abs=4 * math.sqrt(expected / len(seeds))
                                                      + 0.03 * expected)


def test_no_importation_by_default_and_at_rate_zero(population):
    model = _closed_model(population, 0.0)
    assert model.importation.rate is None
    assert model.importation.per_million_per_day == 0
    traj = model.run(20, world=_closed_world(model, 1), progress=False)
    assert float(traj["new_infections"][1:].sum()) == 0


def test_both_modes_import_into_the_same_agents(population):
    model = CovidDisease.from_population(population, CovidParams(beta_by_week=(0.1,),
                                                                 importations_per_million_per_day=1_000.0),
                                         initial_infected=3)
    fast = model.run(40, seed=3, progress=False)
    diff = model.run(40, seed=3, differentiable=True, progress=False)
    for name in fast.names:
        assert torch.equal(fast[name], diff[name].detach()), name
    assert torch.equal(fast.final_world.agents.infection_day, diff.final_world.agents.infection_day)
    assert float(fast["new_infections"].sum()) > 10  # imports and their onward transmission happened


def test_imports_save_an_epidemic_from_extinction(population):
    # a low beta: the seeded epidemic dies out in a closed population, and keeps being re-seeded in an open one
    def infections_in_last_month(rate):
        model = CovidDisease.from_population(population, CovidParams(beta_by_week=(0.03,),
                                                                     importations_per_million_per_day=rate),
                                             initial_infected=5)
        return sum(float(model.run(100, seed=s, progress=False)["new_infections"][-30:].sum()) for s in range(2))
    assert infections_in_last_month(0.0) == 0
    assert infections_in_last_month(300.0) > 0


def test_the_gradient_of_the_imports_is_their_count_and_matches_the_poisson_mean(population):
    # d(imported infections)/d log_rate = their count (straight-through), whose mean is d E[K]/d log_rate = E[K];
    # checked against the finite difference of the seed-averaged count (common random numbers)
    model = _closed_model(population, 500.0)
    seeds, h = range(25), 0.2
    grads, counts = [], []
    for s in seeds:
        total = model.run(10, world=_closed_world(model, s, True), differentiable=True,
                          progress=False)["new_infections"][1:].sum()
        (grad,) = torch.autograd.grad(total, model.importation.parametrizations.rate.original)
        grads.append(float(grad))
        counts.append(float(total.detach()))
    assert grads == pytest.approx(counts)  # exact per run
    shifted = []
    for step in (h, -h):
        with torch.no_grad():
            model.importation.parametrizations.rate.original += step
        shifted.append(sum(float(model.run(10, world=_closed_world(model, s), progress=False)["new_infections"][1:]
                                 .sum()) for s in seeds) / len(seeds))
        with torch.no_grad():
            model.importation.parametrizations.rate.original -= step
    finite_difference = (shifted[0] - shifted[1]) / (2 * h)
    assert sum(grads) / len(grads) == pytest.approx(finite_difference, rel=0.25)


def test_imported_agents_move_from_s_to_e(population):
    model = _closed_model(population, 50_000.0)
    world = _closed_world(model, 4)
    after = world.update(model.importation(world))
    new = after.agents.newly_infected & ~world.agents.newly_infected
    assert int(new.sum()) > 50
    assert bool((after.agents.stage[new] == Stage.E).all())
    assert bool((world.agents.stage[new] == Stage.S).all())
    assert bool((after.agents.infection_day[new] == world.step).all())


@pytest.mark.parametrize("rate", [-1.0, math.nan, math.inf])
def test_bad_rates_raise(rate):
    with pytest.raises(ValueError, match="per_million_per_day must be a finite number >= 0"):
        CovidParams(importations_per_million_per_day=rate)
    with pytest.raises(ValueError, match="per_million_per_day must be a finite number >= 0"):
        Importation(rate)
    with pytest.raises(ValueError, match="finite mean >= 0"):
        poisson_quantile(rate, 0.5)
