"""Control through the simulator: a policy (a `Controller` network of time and observed aggregates, or a
`Schedule`) sets a model's control variables within bounds each step (`Controlled`); an `Objective` scores the run
(tracking of target levels plus the cost of control); a `ControlProblem` trains the controller by gradient through
the differentiable simulator with `populace.calibrate.fit`; baselines (constant, bang-bang, gradient-free) and
held-out evaluation. See docs/control.md."""

from populace.control.baselines import bang_bang_schedules, constant_schedules, grid_search
from populace.control.comparison import Comparison, Plot, write_comparison
from populace.control.controlled import Controlled
from populace.control.controller import Controller, ControlVariable, Schedule
from populace.control.methods import MethodResult, evolution_method, fixed_method, gradient_method, grid_method
from populace.control.objective import ControlObjective, Objective
from populace.control.problem import HELD_OUT_SEEDS, ControlProblem, evaluate, scored_runs
from populace.control.storage import load_controller, save_controller

__all__ = ["HELD_OUT_SEEDS", "Comparison", "ControlObjective", "ControlProblem", "ControlVariable", "Controlled",
           "Controller", "MethodResult", "Objective", "Plot", "Schedule", "bang_bang_schedules", "constant_schedules",
           "evaluate", "evolution_method", "fixed_method", "gradient_method", "grid_method", "grid_search",
           "load_controller", "save_controller", "scored_runs", "write_comparison"]
