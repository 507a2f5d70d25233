"""Gradient estimators on the predator-prey control task: the controller's derivative through the lattice ABM by
each estimator against the central finite difference, with its bias, spread and cost.

    python benchmarks/control.py                           # 40 seeds, 8 paths, the task of docs/control.md
    python benchmarks/control.py --seeds 100 --steps 20 --side 20

The controller is the one training starts from (`PredatorPreyTask.controller`: r = 0.3 r_max everywhere at
first); the derivative is taken along its output bias (the logit of the control level), the loss is the task's
J = tracking + lambda control. Each estimator runs every seed (common random numbers); the finite difference uses
the same seed at theta +- h. The method comparison itself is `populace control predator-prey`.
"""

from __future__ import annotations

import argparse
import platform

import torch

from populace.arguments import positive_float, positive_int
from populace.control import Controlled
from populace.core.trajectory import Trajectory
from populace.gradients.compare import compare_estimators
from populace.models.predator_prey.control_task import PredatorPreyTask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=positive_int, default=40, help="lattice side")
    parser.add_argument("--steps", type=positive_int, default=60, help="steps of a run")
    parser.add_argument("--seeds", type=positive_int, default=40, help="seeds per estimator")
    parser.add_argument("--paths", type=positive_int, default=8, help="alternative paths of the stochastic derivative")
    parser.add_argument("--h", type=positive_float, default=0.05, help="finite-difference step on the output bias")
    parser.add_argument("--threads", type=positive_int, default=1, help="CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = PredatorPreyTask(side=args.side, steps=args.steps)
    objective, variable = task.objective, task.variable

    def make() -> Controlled:
        return Controlled(task.model(), task.controller(seed=0), horizon=task.steps)

    def loss(trajectory: Trajectory) -> torch.Tensor:
        terms = objective.terms({name: trajectory[name] for name in trajectory.names}, [variable])
        return terms["tracking"] + objective.control_weight * terms["control"]

    wrt = {"policy.layers.4.bias": torch.ones(1)}
    figures = compare_estimators(make, loss, task.steps, seeds=range(args.seeds), wrt=wrt, h=args.h, paths=args.paths)
    print(f"predator-prey control, {args.side} x {args.side} lattice, {args.steps} steps: dJ / d(output bias) over "
          f"{args.seeds} seeds, {args.paths} paths, h {args.h}; {torch.get_num_threads()} thread(s), "
          f"{platform.machine()}, torch {torch.__version__}")
    print(f"{'estimator':<22} {'mean':>9} {'se':>8} {'ratio':>6} {'95% interval':>16} {'sd/gradient':>11} "
          f"{'s/gradient':>10}")
    for name, f in figures.items():
        low, high = f.ratio_interval
        interval = "" if name == "finite difference" else f"[{low:.2f}, {high:.2f}]"
        print(f"{name:<22} {f.mean:>9.4f} {f.standard_error:>8.4f} {f.ratio:>6.3f} {interval:>16} {f.sd:>11.4f} "
              f"{f.seconds_per_gradient:>10.3f}")


if __name__ == "__main__":
    main()
