"""The baselines' grids hold what they say, and the grid search finds the known optimum of a deterministic task."""

import pytest
import torch
from control_toy import Logistic

from populace.control import (
    ControlProblem,
    ControlVariable,
    Objective,
    Schedule,
    bang_bang_schedules,
    constant_schedules,
    grid_search,
)

HARVEST = ControlVariable("harvest", 0.0, 0.5)


def test_the_grid_search_finds_the_steady_state_harvest():
    # x' = x + g x (1 - x) - u x stays at x = 0.5 exactly when u = g (1 - 0.5) = 0.25 (g = 0.5)
    problem = ControlProblem(Logistic(growth=0.5, initial=0.5), Schedule.constant([HARVEST], [0.0]),
                             Objective({"x": 0.5}, control_weight=0.0), steps=20)
    best, table = grid_search(problem, constant_schedules([HARVEST], 11), seeds=[0])
    assert best == "harvest=0.25"
    assert table["objective"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert table["objective"].is_monotonic_increasing
    assert len(table) == 11


def test_constant_grids_cover_every_combination_of_levels():
    grid = constant_schedules([HARVEST, ControlVariable("dose", 1.0, 2.0)], 3)
    assert list(grid) == [f"harvest={h}, dose={d}" for h in ("0", "0.25", "0.5") for d in ("1", "1.5", "2")]
    assert grid["harvest=0.25, dose=2"].values.tolist() == [[0.25, 2.0]]


def test_bang_bang_schedules_switch_between_the_bounds():
    grid = bang_bang_schedules([HARVEST], 6, [3, 6])
    assert list(grid)[:4] == ["harvest high k % 3 < 1", "harvest high k % 3 >= 2", "harvest high k % 3 < 2",
                              "harvest high k % 3 >= 1"]
    assert grid["harvest high k % 3 < 1"].values[:, 0].tolist() == [0.5, 0, 0, 0.5, 0, 0]
    assert grid["harvest high k % 6 >= 4"].values[:, 0].tolist() == [0, 0, 0, 0, 0.5, 0.5]  # one switch, late
    assert len([n for n in grid if "% 6" in n]) == 2 * 5  # on = 1..5, high first or last
    with pytest.raises(ValueError, match="periods must be >= 2 steps"):
        bang_bang_schedules([HARVEST], 6, [1])
    assert all(torch.equal(torch.unique(s.values), torch.tensor([0.0, 0.5])) for s in grid.values())
