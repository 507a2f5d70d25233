r"""The mean-field equations of `PredatorPrey` and their optimal control, to be applied to the agent-based model.

Mean field: every site sees the lattice's average, so the neighbour fractions are the densities x (prey) and
y (predators), e = 1 - x - y empty, and one step of the model moves, in expectation,

    x(t + 1) = x + e (1 - exp(-b x)) - x (1 - exp(-a y))
    y(t + 1) = y + x (1 - exp(-a y)) - y (1 - (1 - d) exp(-r(t)))

(the Euler-like map of the Lotka-Volterra-type ODE at the model's own step, with its rates b, a, d and the
control r). It ignores the lattice's spatial correlations (prey cluster, predators ride the cluster edges), so its
steady states differ from the agent-based model's: that gap is what applying its optimum to the ABM measures.

`optimal_schedule`: the direct method of optimal control on this map: r(t) = low + (high - low) sigmoid(theta_t)
for each step, theta minimising the task's objective J of the deterministic trajectory by Adam (exact gradients),
returned as a `Schedule` for the agent-based model.
"""

from __future__ import annotations

import torch
from torch import Tensor

from populace.control import ControlVariable, Objective, Schedule
from populace.models.predator_prey.model import REMOVAL, PredatorPrey


def mean_field_run(model: PredatorPrey, removal: Tensor) -> dict[str, Tensor]:
    """The mean-field trajectory under removal hazards r [T] (float64): {"prey", "predators", removal} [T + 1],
    laid out like a `Controlled` run's (row t + 1 holds step t's control, row 0 repeats the first)."""
    b = model.reproduction.prey_birth_per_step.detach().double()
    a = model.reproduction.predation_per_step.detach().double()
    d = model.death.p_predator_death.detach().double()
    x = torch.tensor(model.initial_prey, dtype=torch.float64)
    y = torch.tensor(model.initial_predators, dtype=torch.float64)
    prey, predators = [x], [y]
    for r in removal:
        born, eaten = (1 - x - y) * -torch.expm1(-b * x), x * -torch.expm1(-a * y)
        dies = y * (1 - (1 - d) * torch.exp(-r))
        x, y = x + born - eaten, y + eaten - dies
        prey.append(x)
        predators.append(y)
    return {"prey": torch.stack(prey), "predators": torch.stack(predators),
            REMOVAL: torch.cat([removal[:1], removal])}


def optimal_schedule(model: PredatorPrey, variable: ControlVariable, objective: Objective, steps: int, *,
                     iterations: int = 400, learning_rate: float = 0.1) -> tuple[Schedule, float]:
    """The removal schedule [steps] minimising J on the mean-field map (module docstring), and its J there."""
    if variable.name != REMOVAL:
        raise ValueError(f"the mean field of PredatorPrey has one control, {REMOVAL!r}; got {variable.name!r}")
    theta = torch.zeros(steps, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=learning_rate)

    def cost() -> Tensor:
        removal = variable.low + (variable.high - variable.low) * torch.sigmoid(theta)
        terms = objective.terms(mean_field_run(model, removal), [variable])
        return terms["tracking"] + objective.control_weight * terms["control"]

    for _ in range(iterations):
        optimizer.zero_grad()
        cost().backward()
        optimizer.step()
    with torch.no_grad():
        removal = variable.low + (variable.high - variable.low) * torch.sigmoid(theta)
        value = float(cost())
    return Schedule([variable], removal.float().clamp(variable.low, variable.high).unsqueeze(1)), value
