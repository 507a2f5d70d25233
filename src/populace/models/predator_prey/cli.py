"""`populace control predator-prey`: tune every method of the predator-prey control task
(`populace.models.predator_prey.control_task`), score them on held-out seeds, and write the learned controllers
(`controller.pt` + `controller.json`, and `controller_es.*` for the gradient-free one; no pickle), the tables
(Parquet, `outputs`), the plots of state and control over time per method, a report page and a manifest.
`--resume` continues an interrupted gradient fit from `OUT/training/checkpoint.pt` (the other methods are tuned
again: they are deterministic given the seeds)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from populace import arguments
from populace.calibrate import FitSettings
from populace.control import HELD_OUT_SEEDS, evaluate, save_controller, trajectories
from populace.core.errors import InputError
from populace.manifest import RunManifest, cli_arguments
from populace.models.predator_prey.control_task import PredatorPreyTask, tune_methods
from populace.models.predator_prey.outputs import (
    PLOTS,
    format_summary,
    methods_frame,
    summary_frame,
    write_plots,
    write_report,
)


def add_parser(tasks: argparse._SubParsersAction) -> None:
    """Register `predator-prey` under `populace control`."""
    parser = tasks.add_parser("predator-prey", help="steer a lattice predator-prey model to target levels",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = PredatorPreyTask()
    parser.add_argument("--side", type=arguments.positive_int, default=defaults.side, help="lattice side (sites)")
    parser.add_argument("--steps", type=arguments.positive_int, default=defaults.steps, help="steps T of a run")
    parser.add_argument("--death", type=arguments.fraction, default=defaults.p_predator_death,
                        help="predator death probability per step without control")
    parser.add_argument("--target-prey", type=arguments.fraction, default=defaults.target_prey,
                        help="target fraction of sites with prey")
    parser.add_argument("--target-predators", type=arguments.fraction, default=defaults.target_predators,
                        help="target fraction of sites with predators")
    parser.add_argument("--max-removal", type=arguments.positive_float, default=defaults.max_removal,
                        help="upper bound of the control (removal hazard per step)")
    parser.add_argument("--control-weight", type=arguments.non_negative_float, default=defaults.control_weight,
                        help="lambda: weight of the control cost in J")
    parser.add_argument("--iterations", type=arguments.positive_int, default=80, help="gradient steps (Adam)")
    parser.add_argument("--learning-rate", type=arguments.positive_float, default=0.03, help="Adam's learning rate")
    parser.add_argument("--seeds-per-step", type=arguments.positive_int, default=2,
                        help="runs averaged per gradient step (and per ES evaluation)")
    parser.add_argument("--grid-seeds", type=arguments.positive_int, default=4,
                        help="runs per policy of the constant and bang-bang grids")
    parser.add_argument("--eval-seeds", type=arguments.positive_int, default=20, help="held-out seeds per method")
    arguments.add_run_flags(parser, out=Path("populace-out/control-predator-prey"),
                            seed_help="seed of the training runs and of the controller's initial weights")
    arguments.add_resume_flag(parser, help="continue the gradient fit from OUT/training/checkpoint.pt")
    arguments.add_progress_flag(parser)
    parser.set_defaults(handler=run_predator_prey)


def run_predator_prey(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.eval_seeds > len(HELD_OUT_SEEDS):
        raise InputError(f"--eval-seeds is at most {len(HELD_OUT_SEEDS)} (the held-out seeds), got {args.eval_seeds}")
    try:
        task = PredatorPreyTask(side=args.side, steps=args.steps, p_predator_death=args.death,
                                target_prey=args.target_prey, target_predators=args.target_predators,
                                max_removal=args.max_removal, control_weight=args.control_weight)
        settings = FitSettings(iterations=args.iterations, learning_rate=args.learning_rate,
                               seeds_per_step=args.seeds_per_step, seed=args.seed, checkpoint_every=5)
        task.model()  # the lattice and the model check their values
    except ValueError as err:
        raise InputError(str(err)) from None
    seeds = list(HELD_OUT_SEEDS)[:args.eval_seeds]
    with RunManifest(args.out, arguments=cli_arguments(args), seeds={"training": args.seed},
                     command=args.command_line) as manifest:
        started = time.perf_counter()
        methods = tune_methods(task, settings, out=args.out, resume=args.resume, grid_seeds=args.grid_seeds,
                               progress=False if args.no_progress else None)
        for name, file in (("neural network (gradient)", "controller"), ("neural network (ES)", "controller_es")):
            for path in save_controller(methods[name].policy, args.out / file):
                manifest.add_output(path)
        evaluation, runs = [], []
        for name, method in methods.items():
            problem = task.problem(method.policy)
            evaluation.append(evaluate(problem, seeds).assign(method=name))
            runs.append(trajectories(problem, seeds).assign(method=name))
        evaluation_table = pd.concat(evaluation, ignore_index=True)[["method", "seed", "tracking", "control",
                                                                     "objective"]]
        runs_table = pd.concat(runs, ignore_index=True)
        runs_table = runs_table[["method", *[c for c in runs_table.columns if c not in ("method", "period")]]]
        summary = summary_frame(evaluation_table)
        table_of_methods = methods_frame(evaluation_table, {n: (m.simulator_runs, m.seconds, m.chosen) for n, m in
                                                            methods.items()})
        tables = {"evaluation.parquet": evaluation_table, "summary.parquet": summary,
                  "methods.parquet": table_of_methods, "trajectories.parquet": runs_table,
                  "training.parquet": methods["neural network (gradient)"].record,
                  "es_history.parquet": methods["neural network (ES)"].record,
                  "constant_grid.parquet": methods["constant (grid)"].record,
                  "bang_bang_grid.parquet": methods["bang-bang (grid)"].record}
        for file, frame in tables.items():
            manifest.add_table(frame, args.out / file)
        for path in write_plots(runs_table, args.out, task.objective.targets):
            manifest.add_output(path)
        description = (f"PredatorPrey on a {task.side} x {task.side} torus, predator death {task.p_predator_death:g} "
                       f"per step, {task.steps} steps; control: predator removal hazard in [0, "
                       f"{task.max_removal:g}]; targets prey {task.target_prey:g}, predators "
                       f"{task.target_predators:g} (scale 0.1), lambda {task.control_weight:g}; training seed "
                       f"{args.seed}, {args.iterations} gradient steps of {args.seeds_per_step} runs; held-out seeds "
                       f"{seeds[0]}..{seeds[-1]}.")
        manifest.add_output(write_report(args.out, description=description, summary=summary,
                                         methods=table_of_methods))
        manifest.results.update(seconds=round(time.perf_counter() - started, 2),
                                methods=table_of_methods.to_dict(orient="records"))
    print(description)
    print(format_summary(summary).to_string(index=False))
    print(table_of_methods.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    for name in ("controller.pt", "controller.json", *tables, *PLOTS, "report.html", "manifest.json"):
        print(f"{name:22s} {args.out / name}")
    return 0
