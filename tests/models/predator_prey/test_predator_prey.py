"""The lattice predator-prey model: its lattice, its per-step probabilities against their closed forms, both modes
sampling the same run, and the mean field's optimal control."""

import math

import pytest
import torch

from populace.control import ControlVariable, constant_schedules
from populace.models.predator_prey import REMOVAL, PredatorPrey, Site, torus_lattice
from populace.models.predator_prey.control_task import PredatorPreyTask
from populace.models.predator_prey.mean_field import mean_field_run, optimal_schedule
from populace.models.predator_prey.model import SITES

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_torus_gives_every_site_four_neighbours_of_weight_a_quarter():
    lattice = torus_lattice(5)
    assert lattice.degree("lattice").tolist() == [4] * 25
    one = torch.zeros(25)
    one[0] = 1.0  # site (0, 0): its neighbours are (0, 1), (1, 0), (0, 4), (4, 0) across the edges
    assert torch.nonzero(lattice.aggregate(one)).reshape(-1).tolist() == [1, 4, 5, 20]
    assert lattice.aggregate(one)[[1, 4, 5, 20]].tolist() == [0.25] * 4
    with pytest.raises(ValueError, match="side must be an int >= 3"):
        torus_lattice(2)


def _step(model: PredatorPrey, codes: torch.Tensor, removal: float, seed: int = 3) -> torch.Tensor:
    world = model.initial_world(seed=seed)
    world = world.update({"site": SITES.encode(codes, differentiable=False)}).with_env(**{REMOVAL: removal})
    return model(world).agents.site


def _even_sites(side: int) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    return ((rows % 2 == 0) & (cols % 2 == 0)).reshape(-1)


def test_an_empty_site_among_prey_becomes_prey_with_its_closed_form_probability():
    side, b = 100, 0.8
    model = PredatorPrey.lattice(side, prey_birth_per_step=b)
    even = _even_sites(side)  # 2,500 empty sites, each with 4 prey neighbours, no predator anywhere
    codes = torch.where(even, Site.EMPTY, Site.PREY).to(torch.uint8)
    after = _step(model, codes, removal=0.0)
    p = 1 - math.exp(-b)
    share = float((after[even] == Site.PREY).float().mean())
    assert share == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / int(even.sum())))  # 4 standard errors
    assert bool((after[~even] == Site.PREY).all())  # no predator: no prey eaten


def test_predation_and_death_with_removal_follow_their_closed_forms():
    side, a, d, r = 100, 1.2, 0.1, 0.5
    model = PredatorPrey.lattice(side, predation_per_step=a, p_predator_death=d)
    even = _even_sites(side)  # prey on 2,500 sites, each with 4 predator neighbours; predators elsewhere
    after = _step(model, torch.where(even, Site.PREY, Site.PREDATOR).to(torch.uint8), removal=r)
    eaten, p_eaten = float((after[even] == Site.PREDATOR).float().mean()), 1 - math.exp(-a)
    died, p_died = float((after[~even] == Site.EMPTY).float().mean()), 1 - (1 - d) * math.exp(-r)
    assert eaten == pytest.approx(p_eaten, abs=4 * math.sqrt(p_eaten * (1 - p_eaten) / 2500))
    assert died == pytest.approx(p_died, abs=4 * math.sqrt(p_died * (1 - p_died) / 7500))
    assert not bool((after[even] == Site.EMPTY).any())  # a predator born this step does not die in it


def test_fast_and_differentiable_runs_sample_the_same_trajectory():
    model = PredatorPrey.lattice(20)
    fast = model.run(25, seed=9, progress=False)
    relaxed = model.run(25, seed=9, differentiable=True, progress=False)
    for name in ("prey", "predators"):
        assert torch.allclose(fast[name], relaxed[name].detach(), atol=1e-6), name
    assert float(fast["predators"][-1]) > 0  # the run is not trivially extinct


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="fractions summing to at most 1"):
        PredatorPrey.lattice(5, initial_prey=0.8, initial_predators=0.3)
    with pytest.raises(ValueError, match="contacts are built for 25 sites but n_sites is 30"):
        PredatorPrey(torus_lattice(5), 30)


def test_the_mean_field_optimum_beats_every_constant_on_the_mean_field():
    task = PredatorPreyTask(side=10, steps=30)
    model, objective = task.model(), task.objective
    schedule, value = optimal_schedule(model, task.variable, objective, task.steps, iterations=150)
    assert bool((schedule.values >= 0).all() and (schedule.values <= task.max_removal).all())

    def cost(removal: torch.Tensor) -> float:
        terms = objective.terms(mean_field_run(model, removal), [task.variable])
        return float(terms["tracking"] + objective.control_weight * terms["control"])

    assert value == pytest.approx(cost(schedule.values[:, 0].double()), rel=1e-4)
    constants = [cost(torch.full((task.steps,), float(s.values[0, 0]), dtype=torch.float64))
                 for s in constant_schedules([task.variable], 41).values()]
    assert value < min(constants) - 0.05


def test_the_mean_field_has_one_control():
    with pytest.raises(ValueError, match="one control, 'predator_removal'"):
        optimal_schedule(PredatorPrey.lattice(5), ControlVariable("dose", 0, 1), PredatorPreyTask().objective, 5)
