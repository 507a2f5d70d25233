"""The controller's gradient through the simulator against central finite differences.

On a deterministic model (logistic growth with harvesting, float64) the closed-loop gradient is exact: autograd
through the controller, the model and the controller's observations of the state matches the central difference
to 1e-6. On the stochastic lattice predator-prey model the straight-through "fired" gradient (what training uses)
has the finite difference's sign and is biased low: measured on this setting (20 x 20 lattice, 8 steps, seeds
0..39 with common random numbers, h = 0.05 on the output bias), straight-through / finite difference = 0.32, 95%
interval [0.03, 0.62] (docs/control.md has the figures with the stochastic derivative too).
"""

import pytest
import torch
from control_toy import Logistic

from populace.control import Controlled, Controller, ControlProblem, ControlVariable, Objective
from populace.gradients.compare import compare_estimators
from populace.models.predator_prey import PredatorPrey

HARVEST = ControlVariable("harvest", 0.0, 0.6)


def _logistic_problem() -> ControlProblem:
    controller = Controller([HARVEST], ["x"], hidden=6, depth=2, seed=5).double()
    with torch.no_grad():
        controller.layers[-1].weight.normal_(0, 1, generator=torch.Generator().manual_seed(3))
    return ControlProblem(Logistic(), controller, Objective({"x": 0.5}, scale=0.1, control_weight=2.0), steps=25)


def _loss(problem: ControlProblem) -> torch.Tensor:
    terms = problem.loss_terms(0)
    return terms["tracking"] + 2.0 * terms["control"]


def test_the_closed_loop_gradient_equals_the_central_difference_on_a_deterministic_model():
    problem = _logistic_problem()
    _loss(problem).backward()
    h = 1e-6
    for name, parameter in problem.policy.named_parameters():
        for index in [0, parameter.numel() - 1]:
            flat = parameter.data.view(-1)
            with torch.no_grad():
                flat[index] += h
                up = float(_loss(problem))
                flat[index] -= 2 * h
                down = float(_loss(problem))
                flat[index] += h
            assert float(parameter.grad.view(-1)[index]) == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8), \
                name


def test_on_the_lattice_the_straight_through_gradient_has_the_sign_of_the_difference_and_its_known_bias():
    variable = ControlVariable("predator_removal", 0.0, 1.0)
    objective = Objective({"prey": 0.4, "predators": 0.2})

    def make() -> Controlled:
        controller = Controller([variable], ["prey", "predators"], scale=[0.3, 0.3], hidden=4, depth=1, initial=0.3)
        return Controlled(PredatorPrey.lattice(20, p_predator_death=0.1), controller, horizon=8)

    def loss(trajectory):
        terms = objective.terms({n: trajectory[n] for n in trajectory.names}, [variable])
        return terms["tracking"] + terms["control"]

    figures = compare_estimators(make, loss, 8, seeds=range(40), wrt="policy.layers.2.bias", h=0.05,
                                 estimators=("straight-through",))
    reference = figures["finite difference"]
    assert reference.mean > 4 * reference.standard_error  # a clear positive derivative: more removal, more cost
    assert 0.15 < figures["straight-through"].ratio < 0.6  # the surrogate's known bias (0.32 here)
    assert figures["straight-through"].standard_error < reference.standard_error / 3  # and its lower noise
