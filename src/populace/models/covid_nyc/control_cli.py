"""`populace control covid-nyc`: lockdown intensity (and, with `--controls lockdown testing`, testing) over time
on the NYC COVID-19 + labour model from calibrated 2020 parameters (`populace.models.covid_nyc.control_task`): a
controller trained through the differentiable simulator, the same network searched by a (1+1)-ES with as many
simulator runs, the best constant policy, the actual 2020 orders and no lockdown, scored on held-out seeds; the
learned controllers (state_dict + JSON), Parquet tables, plots of state and control over time per method, a report
page and a manifest (`populace.control.write_comparison`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from populace import arguments
from populace.calibrate import FitSettings, iteration_seeds
from populace.control import (
    HELD_OUT_SEEDS,
    Plot,
    Schedule,
    constant_schedules,
    evolution_method,
    fixed_method,
    gradient_method,
    grid_method,
    write_comparison,
)
from populace.core.errors import InputError
from populace.manifest import RunManifest, cli_arguments
from populace.models.covid_nyc.control_task import CONTROLS, TEST_WEIGHT, CovidControlTask, actual_orders

DRAWS = Path("docs/calibration-2020-draws.parquet")


def add_parser(tasks: argparse._SubParsersAction) -> None:
    """Register `covid-nyc` under `populace control`."""
    parser = tasks.add_parser("covid-nyc", help="lockdown over time in NYC: deaths + lambda x unemployment",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    arguments.add_scale_flag(parser)
    arguments.add_population_seed_flag(parser)
    parser.add_argument("--days", type=arguments.positive_int, default=120, help="days from 2020-03-01")
    parser.add_argument("--draws", type=Path, default=DRAWS, help="calibrated parameter draws (Parquet)")
    parser.add_argument("--draw", type=arguments.non_negative_int, default=0, help="which draw of --draws")
    parser.add_argument("--unemployment-weight", type=arguments.non_negative_float, default=5.0,
                        help="lambda: deaths per 100,000 worth one unemployed person-month per 100 residents")
    parser.add_argument("--controls", nargs="+", choices=list(CONTROLS), default=["lockdown"],
                        help="the control variables: lockdown intensity, and the testing rate (tests per resident "
                             "per day, in [0, 0.1]; positives isolate for 10 days)")
    parser.add_argument("--test-weight", type=arguments.non_negative_float, default=TEST_WEIGHT,
                        help="mu: deaths per 100,000 worth one test per 100,000 residents (with testing)")
    parser.add_argument("--grid-levels", type=arguments.positive_int, default=11,
                        help="constant lockdown levels tried, evenly in [0, 1]")
    parser.add_argument("--testing-levels", type=arguments.positive_int, default=5,
                        help="constant testing rates tried, evenly in [0, 0.1] (with testing; x --grid-levels)")
    parser.add_argument("--grid-seeds", type=arguments.positive_int, default=2, help="runs per constant level")
    arguments.add_data_dir_flag(parser)
    arguments.add_control_training_flags(parser, out=Path("populace-out/control-covid-nyc"), iterations=20,
                                         learning_rate=0.05, seeds_per_step=1, eval_seeds=8)
    parser.set_defaults(handler=run_covid_control)


def city_columns(frame: pd.DataFrame, residents: int, controls: tuple[str, ...] = ("lockdown",)) -> pd.DataFrame:
    """The trajectory columns the plots show: deaths and symptomatic per 100,000 residents, unemployment %, the
    controls (with testing, also the day's tests and the agents isolating after a positive test per 100,000)."""
    unemployed = frame.filter(like="unemployed[").sum(axis=1)
    labour_force = frame.filter(like="labour_force[").sum(axis=1)
    columns = {"seed": frame["seed"], "step": frame["step"], "deaths_per_100k": frame["dead"] / residents * 1e5,
               "symptomatic_per_100k": frame["symptomatic"] / residents * 1e5,
               "unemployment_percent": unemployed / labour_force * 100}
    if "testing" in controls:
        columns["tests_per_100k"] = frame["tests"] / residents * 1e5
        columns["test_isolated_per_100k"] = frame["test_isolated"] / residents * 1e5
    return pd.DataFrame({**columns, **{name: frame[name] for name in controls}})


def run_covid_control(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.eval_seeds > len(HELD_OUT_SEEDS):
        raise InputError(f"--eval-seeds is at most {len(HELD_OUT_SEEDS)} (the held-out seeds), got {args.eval_seeds}")
    if args.grid_levels < 2:
        raise InputError(f"--grid-levels must be >= 2 (both bounds), got {args.grid_levels}")
    if "testing" in args.controls and args.testing_levels < 2:
        raise InputError(f"--testing-levels must be >= 2 (both bounds), got {args.testing_levels}")
    if "lockdown" not in args.controls:
        raise InputError(f"--controls must include lockdown (testing is a second control), got {args.controls}")
    from populace.population.nyc import build_nyc  # the data loaders, only when the command runs

    seeds = list(HELD_OUT_SEEDS)[:args.eval_seeds]
    settings = FitSettings(iterations=args.iterations, learning_rate=args.learning_rate,
                           seeds_per_step=args.seeds_per_step, seed=args.seed, checkpoint_every=2)
    with RunManifest(args.out, arguments=cli_arguments(args), seeds={"training": args.seed,
                                                                     "population": args.population_seed},
                     inputs=[args.draws] if args.draws.is_file() else [], command=args.command_line) as manifest:
        started = time.perf_counter()
        city = build_nyc(scale=args.scale, seed=args.population_seed, data_dir=args.data_dir)
        controls = tuple(dict.fromkeys(args.controls))
        task = CovidControlTask(city, args.draws, scale=args.scale, draw=args.draw, days=args.days,
                                unemployment_weight=args.unemployment_weight, controls=controls,
                                test_weight=args.test_weight)
        variables = task.variables
        none = Schedule.constant(variables, [v.low for v in variables])
        testing = "testing" in controls
        levels = [args.grid_levels if v.name == "lockdown" else args.testing_levels for v in variables]
        grid_problem = task.problem(none)
        methods = {
            "neural network (gradient)": gradient_method(task.problem(task.controller(args.seed)), settings,
                                                         out=args.out / "training", resume=args.resume,
                                                         progress=False if args.no_progress else None),
            "neural network (ES)": evolution_method(task.problem(task.controller(args.seed)), settings, sigma=0.3),
            "constant (grid)": grid_method(grid_problem, constant_schedules(variables, levels),
                                           iteration_seeds(args.seed, 0, args.grid_seeds)),
            "actual 2020 orders" + (", no testing" if testing else ""):
                fixed_method(actual_orders(task.start_date, args.days, variables)),
            "no lockdown" + (", no testing" if testing else ""): fixed_method(none),
        }
        control = "lockdown intensity in [0, 1] (1: NYC PAUSE)" + (
            " and testing rate in [0, 0.1] tests per resident per day (positives isolate 10 days)" if testing else "")
        tests = f" + {args.test_weight:g} x tests per 100,000 residents" if testing else ""
        description = (f"CovidNYC on a synthetic NYC at scale {args.scale:g} ({city.agents.n:,} agents), "
                       f"{args.days} days from 2020-03-01, draw {args.draw} of {args.draws}; control: {control}; "
                       f"J = deaths per 100,000 + {args.unemployment_weight:g} x unemployed person-months per 100 "
                       f"residents{tests}; training seed {args.seed}, {args.iterations} gradient steps of "
                       f"{args.seeds_per_step} runs; held-out seeds {seeds[0]}..{seeds[-1]}.")
        plots = [Plot("state.png", {"deaths_per_100k": None, "symptomatic_per_100k": None,
                                    "unemployment_percent": None}, "per 100,000 residents / %",
                      "Deaths and symptomatic per 100,000 residents, unemployment % per method: median over "
                      "held-out seeds, 90% band"),
                 Plot("control.png", dict.fromkeys(controls), "lockdown intensity" if not testing else "control",
                      ("Lockdown intensity" if not testing else "Controls") +
                      " per method: median over held-out seeds, 90% band")]
        if testing:
            plots.append(Plot("testing.png", {"tests_per_100k": None, "test_isolated_per_100k": None},
                              "per 100,000 residents", "Tests a day and agents isolating after a positive test per "
                              "100,000 residents, per method: median over held-out seeds, 90% band"))
        comparison = write_comparison(args.out, manifest, methods, task.problem, seeds,
                                      title="NYC COVID-19: " + (" and ".join(controls)) + " control",
                                      description=description, plots=plots,
                                      columns=lambda frame: city_columns(frame, city.agents.n, controls))
        manifest.results["seconds"] = round(time.perf_counter() - started, 2)
    print(comparison.printed(description))
    return 0
