"""`populace control predator-prey`: tune every method of the predator-prey control task
(`populace.models.predator_prey.control_task`), score them on held-out seeds, and write the learned controllers
(`controller.pt` + `controller.json`, and `controller_neural_network_es.*` for the gradient-free one; no pickle),
the tables (Parquet), the plots of state and control over time per method, a report page and a manifest
(`populace.control.write_comparison`).
`--resume` continues an interrupted gradient fit from `OUT/training/checkpoint.pt` (the other methods are tuned
again: they are deterministic given the seeds)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from populace import arguments
from populace.calibrate import FitSettings
from populace.control import HELD_OUT_SEEDS, Plot, write_comparison
from populace.core.errors import InputError
from populace.manifest import RunManifest, cli_arguments
from populace.models.predator_prey.control_task import PredatorPreyTask, tune_methods
from populace.models.predator_prey.model import REMOVAL


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
    parser.add_argument("--grid-seeds", type=arguments.positive_int, default=4,
                        help="runs per policy of the constant and bang-bang grids")
    arguments.add_control_training_flags(parser, out=Path("populace-out/control-predator-prey"), iterations=80,
                                         learning_rate=0.03, seeds_per_step=2, eval_seeds=20)
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
        description = (f"PredatorPrey on a {task.side} x {task.side} torus, predator death {task.p_predator_death:g} "
                       f"per step, {task.steps} steps; control: predator removal hazard in [0, "
                       f"{task.max_removal:g}]; targets prey {task.target_prey:g}, predators "
                       f"{task.target_predators:g} (scale 0.1), lambda {task.control_weight:g}; training seed "
                       f"{args.seed}, {args.iterations} gradient steps of {args.seeds_per_step} runs; held-out seeds "
                       f"{seeds[0]}..{seeds[-1]}.")
        targets = task.objective.targets
        plots = [Plot("state.png", {"prey": targets["prey"], "predators": targets["predators"]}, "fraction of sites",
                      "Prey and predators (fractions of sites) per method: median over held-out seeds, 90% band; "
                      "dashed: the targets"),
                 Plot("control.png", {REMOVAL: None}, "hazard per step",
                      "Predator removal hazard per step per method: median over held-out seeds, 90% band")]
        comparison = write_comparison(args.out, manifest, methods, task.problem, seeds,
                                      title="Predator-prey control", description=description, plots=plots)
        manifest.results["seconds"] = round(time.perf_counter() - started, 2)
    print(comparison.printed(description))
    return 0
