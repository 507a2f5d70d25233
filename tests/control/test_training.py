"""Training a controller through the simulator: it beats the best constant control on held-out seeds, and an
interrupted fit resumed from its checkpoint is the uninterrupted one exactly."""

import torch

from populace.calibrate import FitSettings, fit, iteration_seeds
from populace.control import HELD_OUT_SEEDS, ControlProblem, Schedule, constant_schedules, evaluate, grid_search
from populace.models.predator_prey.control_task import PredatorPreyTask


def test_a_trained_controller_beats_the_best_constant_control_on_held_out_seeds():
    task = PredatorPreyTask(side=16, steps=30)
    problem = task.problem(task.controller(seed=0))
    held_out = list(HELD_OUT_SEEDS)[:8]
    fit(problem, FitSettings(iterations=40, learning_rate=0.05, seeds_per_step=1, checkpoint_every=40),
        progress=False)
    best, _ = grid_search(problem, constant_schedules([task.variable], 11), seeds=[0, 1])
    assert best == "predator_removal=0.3"  # the grid's best on the training seeds
    constant = evaluate(problem.with_policy(Schedule.constant([task.variable], [0.3])), held_out)["objective"]
    trained = evaluate(problem, held_out)["objective"]
    # measured: mean J 0.77 trained, 1.85 best constant (the untrained controller's too: it starts at 0.3 r_max)
    assert trained.mean() < 0.6 * constant.mean()
    assert (trained < constant).all()  # on every held-out seed


def _small_problem() -> ControlProblem:
    task = PredatorPreyTask(side=10, steps=10)
    return task.problem(task.controller(seed=3))


def test_a_resumed_fit_is_the_uninterrupted_one(tmp_path):
    settings = FitSettings(iterations=4, learning_rate=0.05, seeds_per_step=2, seed=5, checkpoint_every=2)
    straight = _small_problem()
    whole = fit(straight, settings, out=tmp_path / "whole", progress=False)
    interrupted = _small_problem()
    fit(interrupted, FitSettings(**{**settings.__dict__, "iterations": 2}), out=tmp_path / "parts", progress=False)
    resumed = _small_problem()  # a fresh process: the controller at its initial weights, restored from the file
    history = fit(resumed, settings, out=tmp_path / "parts", resume=True, progress=False)
    assert history["loss"].tolist() == whole["loss"].tolist()
    assert history["loss"].iloc[0] != history["loss"].iloc[-1]  # it did train
    for (name, a), (_, b) in zip(straight.policy.state_dict().items(), resumed.policy.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name


def test_the_held_out_seeds_are_none_that_training_draws():
    drawn = {seed for run_seed in (0, 1, 2, 1999) for iteration in (0, 1, 9999)
             for seed in iteration_seeds(run_seed, iteration, 16)}
    assert drawn.isdisjoint(HELD_OUT_SEEDS)
    assert max(iteration_seeds(1999, 9999, 16)) < min(HELD_OUT_SEEDS)  # the bound of HELD_OUT_SEEDS' docstring
