"""The `populace` command line: `populace run sir ...`, `populace run tax-policy ...`, `populace population ...`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

import populace
from populace import arguments
from populace.calibrate.cli import add_parser as add_calibrate_parser
from populace.llm.cli import add_parser as add_llm_parser
from populace.manifest import MANIFEST_NAME, RunManifest, cli_arguments
from populace.models.covid_nyc.analysis.cli import add_parser as add_analysis_parser
from populace.models.covid_nyc.cli import add_parser as add_covid_nyc_parser
from populace.models.sir import SIR
from populace.models.tax.cli import add_parser as add_tax_policy_parser
from populace.population.check import check_population


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="populace", description="Large Population Models in PyTorch.")
    parser.add_argument("--version", action="version", version=f"populace {populace.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a model and write its trajectory, plot and manifest")
    models = run.add_subparsers(dest="model", required=True)

    sir = models.add_parser(
        "sir", help="SIR epidemic on a random contact network", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    sir.add_argument("--agents", type=arguments.positive_int, default=100_000, help="number of agents")
    sir.add_argument("--days", type=arguments.non_negative_int, default=100, help="days to simulate")
    sir.add_argument("--seed", type=arguments.non_negative_int, default=1, help="seed of the run's random numbers")
    sir.add_argument("--out", type=arguments.output_dir, default=Path("populace-out/sir"), help="output directory")
    sir.add_argument(
        "--contacts",
        type=arguments.positive_float,
        default=20.0,
        help="mean contacts per agent (static Erdős–Rényi network)",
    )
    sir.add_argument("--network-seed", type=arguments.non_negative_int, default=0, help="seed of the contact network")
    sir.add_argument(
        "--beta", type=arguments.positive_float, default=0.03, help="infection hazard per day per infectious contact"
    )
    sir.add_argument("--infectious-days", type=float, default=5.0, help="mean days infectious (>= 1)")
    sir.add_argument("--initial-infected", type=arguments.positive_int, default=10, help="agents infectious on day 0")
    sir.add_argument(
        "--differentiable",
        action="store_true",
        help="run in differentiable mode (float states, straight-through draws)",
    )
    sir.add_argument("--device", type=arguments.device, default="cpu", help="torch device, e.g. cpu or cuda")
    sir.add_argument("--threads", type=arguments.positive_int, default=None, help="CPU threads (default: all cores)")
    sir.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sir.set_defaults(handler=run_sir)
    add_tax_policy_parser(models)
    add_covid_nyc_parser(models)
    add_calibrate_parser(commands)
    _add_population_parser(commands)
    add_analysis_parser(commands)
    add_llm_parser(commands)
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
    build.add_argument(
        "--scale", type=arguments.fraction, default=0.01, help="fraction of the real population, in (0, 1]"
    )
    build.add_argument(
        "--seed", type=arguments.non_negative_int, default=1, help="seed of the population's random draws"
    )
    build.add_argument("--data-dir", default=None, help="folder of the source tables (default: populace.data's)")
    build.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    build.set_defaults(handler=build_population_command)


def run_sir(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.initial_infected > args.agents:
        raise ValueError(
            f"--initial-infected ({args.initial_infected}) exceeds --agents ({args.agents}); lower it or add agents"
        )
    with RunManifest(
        args.out,
        arguments=cli_arguments(args),
        seeds={"run": args.seed, "network": args.network_seed},
        device=args.device,
        command=args.command_line,
    ) as manifest:
        started = time.perf_counter()
        model = SIR.random_network(
            args.agents,
            contacts_per_agent=args.contacts,
            network_seed=args.network_seed,
            beta_per_day=args.beta,
            infectious_days=args.infectious_days,
            initial_infected=args.initial_infected,
        )
        built = time.perf_counter()
        traj = model.run(
            args.days,
            seed=args.seed,
            differentiable=args.differentiable,
            device=args.device,
            progress=False if args.no_progress else None,
        )
        finished = time.perf_counter()
        table = manifest.add_output(traj.to_parquet(args.out / "trajectory.parquet"))
        figure = traj.plot(title=f"SIR, {args.agents:,} agents, {args.contacts:g} contacts each")
        figure.savefig(args.out / "trajectory.png", dpi=120)
        plot = manifest.add_output(args.out / "trajectory.png")
        attack_rate = float(traj["recovered"][-1] + traj["infectious"][-1]) / args.agents
        manifest.results.update(
            build_seconds=round(built - started, 3),
            seconds_per_day=round((finished - built) / max(args.days, 1), 4),
            final_attack_rate=attack_rate,
        )
    print(
        f"SIR: {args.agents:,} agents, {args.days} days, seed {args.seed}: "
        f"{attack_rate:.1%} ever infected, peak {int(traj['infectious'].max()):,} infectious"
    )
    per_day = f" ({(finished - built) / args.days * 1000:.0f} ms/day)" if args.days else ""
    print(f"built network in {built - started:.1f} s, simulated in {finished - built:.1f} s{per_day}")
    print(f"trajectory: {table}\nplot:       {plot}\nmanifest:   {args.out / 'manifest.json'}")
    return 0


def check_population_command(args: argparse.Namespace) -> int:
    """`populace population check DIR`: print each problem and exit 1, or a summary and exit 0."""
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
    try:
        return args.handler(args)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as err:
        print(f"populace: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
