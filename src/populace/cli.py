"""The `populace` command line: `populace run sir ...`, `populace control ...`, `populace population ...`,
`populace bench ...`.

This module only assembles the commands. Each model owns its command (`populace/models/<model>/cli.py`, with an
`add_parser(subparsers)` that registers it) and is imported only when the command line chooses it, so that
`populace --help` loads no model, data loader or plotting library. Shared flags live in `populace.arguments`.

Errors: an `InputError` (a value the user gave is wrong; data and population file errors are ones) or a missing
file prints one line, `populace: error: ...`, and exits with status 2; any other exception is a bug and shows its
traceback. `populace --debug ...` shows the traceback of every error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from populace import arguments
from populace.core.errors import InputError
from populace.manifest import MANIFEST_NAME, cli_arguments
from populace.version import __version__

INPUT_ERRORS = (InputError, FileNotFoundError)
"""What `main` reports in one line (exit status 2) instead of a traceback."""


class LazyCommands(argparse._SubParsersAction):
    """Sub-commands whose parsers are built only when the command line chooses them.

    `add_lazy(name, help=..., module=...)` lists the command with its help; when it is chosen, `module` is imported
    and its `add_parser(subparsers)` registers the real parser (arguments, handler) in the listed one's place, with
    every other command the module registers (`analyze` and `report` share one). It swaps entries of argparse's
    own `_name_parser_map` and `_choices_actions` (stable since Python 3.2); `tests/test_cli.py` checks the swap.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.modules: dict[str, str] = {}  # command -> module whose add_parser builds it, until built

    def add_lazy(self, name: str, *, help: str, module: str) -> None:
        self.add_parser(name, help=help)
        self.modules[name] = module

    def build(self, name: str) -> None:
        """Replace command `name` (and the others of its module) by the parsers its module registers."""
        module = self.modules[name]
        listed = [command for command, owner in self.modules.items() if owner == module]
        for command in listed:
            del self.modules[command], self._name_parser_map[command]
        self._choices_actions = [action for action in self._choices_actions if action.dest not in listed]
        importlib.import_module(module).add_parser(self)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: list[str],
                 option_string: str | None = None) -> None:
        if values[0] in self.modules:
            self.build(values[0])
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="populace", description="Large Population Models in PyTorch.")
    parser.add_argument("--version", action="version", version=f"populace {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of every error (by default a bad input prints one line)")
    commands = parser.add_subparsers(dest="command", required=True, action=LazyCommands)
    run = commands.add_parser("run", help="run a model and write its trajectory, plot and manifest")
    models = run.add_subparsers(dest="model", required=True, action=LazyCommands)
    models.add_lazy("sir", help="SIR epidemic on a random contact network", module="populace.models.sir.cli")
    models.add_lazy("tax-policy", help="income-tax planners (US federal, Saez, gradient) over workers",
                    module="populace.models.tax.cli")
    models.add_lazy("covid-nyc", help="COVID-19 + labour in a synthetic New York City, compared with DOHMH and "
                    "NYS DOL", module="populace.models.covid_nyc.cli")
    models.add_lazy("commons", help="GovSim commons: groups share a pool", module="populace.models.commons.cli")
    models.add_lazy("cooperation", help="donor game with cultural evolution: societies give and inherit",
                    module="populace.models.cooperation.cli")
    models.add_lazy("social", help="OASIS-style social media: follows, feeds, posts, cascades",
                    module="populace.models.social.cli")
    control = commands.add_parser("control", help="train a controller through the simulator and compare it with "
                                  "baselines on held-out seeds")
    tasks = control.add_subparsers(dest="task", required=True, action=LazyCommands)
    tasks.add_lazy("predator-prey", help="steer a lattice predator-prey model to target levels",
                   module="populace.models.predator_prey.cli")
    tasks.add_lazy("covid-nyc", help="lockdown over time in NYC: deaths + lambda x unemployment",
                   module="populace.models.covid_nyc.control_cli")
    commands.add_lazy("calibrate", help="fit a model's parameters to real data by gradient descent",
                      module="populace.models.covid_nyc.calibrate_cli")
    _add_population_parser(commands)
    commands.add_lazy("analyze", help="run a scenario file: baseline and policies, K seeds each, tables, plots and "
                      "an HTML report", module="populace.models.covid_nyc.analysis.cli")
    commands.add_lazy("report", help="write the self-contained HTML report of an analysis run folder",
                      module="populace.models.covid_nyc.analysis.cli")
    commands.add_lazy("llm", help="ask a language model; manage the LLM answer cache", module="populace.llm.cli")
    commands.add_lazy("bench", help="run the standard benchmark set; print a table and JSON lines",
                      module="populace.bench.cli")
    return parser


def _add_population_parser(commands: argparse._SubParsersAction) -> None:
    population = commands.add_parser("population", help="build, check populations (folders of Parquet files)")
    actions = population.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="validate a population folder against the population schema")
    check.add_argument("directory", type=Path, help="population folder (holds manifest.json, agents.parquet ...)")
    check.set_defaults(handler=check_population_command)
    build = actions.add_parser(
        "build",
        help="build a synthetic population and save it as Parquet",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    build.add_argument("place", choices=["nyc"], help="which population to build")
    build.add_argument(
        "--out", type=arguments.output_dir, required=True, help="output folder (must not exist, see --overwrite)"
    )
    arguments.add_scale_flag(build, of="the real population")
    build.add_argument(
        "--seed", type=arguments.non_negative_int, default=1, help="seed of the population's random draws"
    )
    arguments.add_data_dir_flag(build)
    build.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    build.set_defaults(handler=build_population_command)


def check_population_command(args: argparse.Namespace) -> int:
    """`populace population check DIR`: print each problem and exit 1, or a summary and exit 0."""
    from populace.population.check import check_population

    problems = check_population(args.directory)
    if problems:
        for problem in problems:
            print(problem)
        print(f"{args.directory}: {len(problems)} problem(s); see docs/population-schema.md", file=sys.stderr)
        return 1
    print(f"{args.directory}: valid population: {_summary(json.loads((args.directory / MANIFEST_NAME).read_text()))}")
    return 0


def build_population_command(args: argparse.Namespace) -> int:
    """`populace population build nyc --out DIR`: build with populace.population.nyc.build_nyc, save as Parquet."""
    from populace.population.nyc import build_nyc  # imported here: it pulls in the data loaders

    if args.out.exists() and not args.overwrite:
        raise SystemExit(f"populace: {args.out} already exists; choose another --out or pass --overwrite")
    started = time.perf_counter()
    population = build_nyc(scale=args.scale, seed=args.seed, data_dir=args.data_dir)
    built = time.perf_counter()
    population.manifest.update(
        seed=args.seed,
        scale=args.scale,
        command=args.command_line,
        arguments=cli_arguments(args),
        build_seconds=round(built - started, 3),
    )
    population.save(args.out, overwrite=args.overwrite)
    manifest = json.loads((args.out / MANIFEST_NAME).read_text())
    print(f"{args.place} at scale {args.scale:g}, seed {args.seed}: {_summary(manifest)}")
    print(f"built in {built - started:.1f} s, saved in {time.perf_counter() - built:.1f} s to {args.out}")
    return 0


def _summary(manifest: dict[str, Any]) -> str:
    """One line of counts from a population manifest."""
    counts = manifest["counts"]
    layers = ", ".join(f"{name} {entry['edges']:,}" for name, entry in manifest["layers"].items())
    return (
        f"{counts['agents']:,} agents, {counts['zones']:,} zones, {counts['households']:,} households; "
        f"contacts (directed) by layer: {layers or 'none'}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = ["populace", *argv]
    if args.debug:
        return args.handler(args)
    try:
        return args.handler(args)
    except INPUT_ERRORS as err:
        print(f"populace: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
