"""Differentiable mode and learned donation fractions: the gradient through a game with punishment against central
finite differences (float64), the training problem's protocol, and a short fit that raises the resources."""

import pytest
import torch
from torch import Tensor

from populace.calibrate import CalibrationProblem
from populace.models.cooperation import (
    Cooperation,
    DonorGameRules,
    Strategy,
    StrategyTable,
    reputation,
    tit_for_tat,
    unconditional,
)
from populace.models.cooperation.learned import DonationTraining, train_donations

STRATEGIES = [unconditional(0.4), tit_for_tat(0.1), reputation(0.6, high=0.7, low=-0.9),
              Strategy("mix", base=0.2, slope=0.3, bonus=0.2, threshold=0.6)]
RULES = DonorGameRules(agents_per_society=4, rounds=4, punishment=True, punishment_factor=3.0)


def _weighted_final(theta: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(L, dL / dtheta, final resources) for L = sum_i w_i R_i after one generation, w = (1, 2, ..., 8) over two
    societies (weights, so that moving resources between agents shows in L), in differentiable mode."""
    table = StrategyTable(STRATEGIES, trainable=True, dtype=torch.float64)
    with torch.no_grad():
        table.theta.copy_(theta)
    model = Cooperation(2, table, RULES, assignment=torch.tensor([0, 1, 2, 3, 3, 2, 1, 0]), temperature=0.1,
                        dtype=torch.float64)
    final = model.run(RULES.rounds, seed=0, differentiable=True, progress=False).final_world
    loss = (final.agents.resources * torch.arange(1, 9, dtype=torch.float64)).sum()
    loss.backward()
    return loss.detach(), table.theta.grad, final.agents.resources.detach()


def test_gradient_matches_central_finite_differences():
    theta = StrategyTable(STRATEGIES, dtype=torch.float64).theta.detach()
    _, grad, resources = _weighted_final(theta)
    assert int((resources < 0.01).sum()) == 3  # the reputation strategy's punishments hit the (smooth) floor
    assert float(grad.abs().sum()) > 0
    step = 1e-6
    for k in range(theta.numel()):
        up, down = theta.clone().reshape(-1), theta.clone().reshape(-1)
        up[k] += step
        down[k] -= step
        fd = (_weighted_final(up.reshape(theta.shape))[0] - _weighted_final(down.reshape(theta.shape))[0]) / (2 * step)
        assert grad.reshape(-1)[k].item() == pytest.approx(fd.item(), rel=1e-5, abs=1e-7), k


def test_training_problem_and_a_short_fit():
    table = StrategyTable(trainable=True)
    problem = DonationTraining(table, n_societies=2)
    assert isinstance(problem, CalibrationProblem)
    assert problem.model.assignment.tolist() == [0, 1, 2, 3] * 6
    terms = problem.loss_terms(0)
    terms["resources"].backward()
    assert table.theta.grad[:, 0].min().item() < 0  # giving more raises the society's total (m = 2 > 1)
    trained, history = train_donations(iterations=10)
    assert history["resources"].iloc[-1] < history["resources"].iloc[0]
    assert bool((trained.theta[:, 0] > StrategyTable().theta[:, 0]).all())  # every base fraction went up
    with pytest.raises(ValueError, match=r"StrategyTable\(\.\.\., trainable=True\)"):
        DonationTraining(StrategyTable())


def test_gradients_cross_selection_to_the_parents_theta():
    # generation 1 is played by survivors and their children, whose theta are gathered (and mutated) from the
    # parents': the gradient of generation 1's resources reaches theta through them
    rules = DonorGameRules(agents_per_society=4, rounds=4, generations=2)
    table = StrategyTable(STRATEGIES[:2], trainable=True, dtype=torch.float64)
    model = Cooperation(3, table, rules, dtype=torch.float64, assignment=torch.tensor([0, 1, 1, 0] * 3))
    traj = model.run(rules.steps, seed=1, differentiable=True, progress=False)
    traj["mean_resources"][-1].sum().backward()
    assert bool(torch.isfinite(table.theta.grad).all())
    assert float(table.theta.grad[:, 0].abs().min()) > 0
