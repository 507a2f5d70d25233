"""The `populace` command line: `populace run sir ...`, `populace run tax-policy ...`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import populace
from populace.manifest import RunManifest, cli_arguments
from populace.models.sir import SIR
from populace.models.tax.cli import add_parser as add_tax_policy_parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="populace", description="Large Population Models in PyTorch.")
    parser.add_argument("--version", action="version", version=f"populace {populace.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a model and write its trajectory, plot and manifest")
    models = run.add_subparsers(dest="model", required=True)

    sir = models.add_parser("sir", help="SIR epidemic on a random contact network",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sir.add_argument("--agents", type=_positive_int, default=100_000, help="number of agents")
    sir.add_argument("--days", type=_non_negative_int, default=100, help="days to simulate")
    sir.add_argument("--seed", type=_non_negative_int, default=1, help="seed of the run's random numbers")
    sir.add_argument("--out", type=Path, default=Path("populace-out/sir"), help="output directory")
    sir.add_argument("--contacts", type=_positive_float, default=20.0,
                     help="mean contacts per agent (static Erdős–Rényi network)")
    sir.add_argument("--network-seed", type=_non_negative_int, default=0, help="seed of the contact network")
    sir.add_argument("--beta", type=_positive_float, default=0.03,
                     help="infection hazard per day per infectious contact")
    sir.add_argument("--infectious-days", type=float, default=5.0, help="mean days infectious (>= 1)")
    sir.add_argument("--initial-infected", type=_positive_int, default=10, help="agents infectious on day 0")
    sir.add_argument("--differentiable", action="store_true",
                     help="run in differentiable mode (float states, straight-through draws)")
    sir.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    sir.add_argument("--threads", type=_positive_int, default=None, help="CPU threads (default: torch's)")
    sir.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sir.set_defaults(handler=run_sir)
    add_tax_policy_parser(models, positive_int=_positive_int, non_negative_int=_non_negative_int,
                          positive_float=_positive_float)
    return parser


def run_sir(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.initial_infected > args.agents:
        raise SystemExit(f"populace: --initial-infected ({args.initial_infected}) exceeds --agents ({args.agents})")
    with RunManifest(args.out, arguments=cli_arguments(args), seeds={"run": args.seed, "network": args.network_seed},
                     device=args.device, command=args.command_line) as manifest:
        started = time.perf_counter()
        model = SIR.random_network(args.agents, contacts_per_agent=args.contacts, network_seed=args.network_seed,
                                   beta_per_day=args.beta, infectious_days=args.infectious_days,
                                   initial_infected=args.initial_infected)
        built = time.perf_counter()
        traj = model.run(args.days, seed=args.seed, differentiable=args.differentiable, device=args.device,
                         progress=False if args.no_progress else None)
        finished = time.perf_counter()
        table = manifest.add_output(traj.to_parquet(args.out / "trajectory.parquet"))
        figure = traj.plot(title=f"SIR, {args.agents:,} agents, {args.contacts:g} contacts each")
        figure.savefig(args.out / "trajectory.png", dpi=120)
        plot = manifest.add_output(args.out / "trajectory.png")
        attack_rate = float(traj["recovered"][-1] + traj["infectious"][-1]) / args.agents
        manifest.results.update(build_seconds=round(built - started, 3),
                                seconds_per_day=round((finished - built) / max(args.days, 1), 4),
                                final_attack_rate=attack_rate)
    print(f"SIR: {args.agents:,} agents, {args.days} days, seed {args.seed}: "
          f"{attack_rate:.1%} ever infected, peak {int(traj['infectious'].max()):,} infectious")
    print(f"built network in {built - started:.1f} s, simulated in {finished - built:.1f} s "
          f"({(finished - built) / max(args.days, 1) * 1000:.0f} ms/day)")
    print(f"trajectory: {table}\nplot:       {plot}\nmanifest:   {args.out / 'manifest.json'}")
    return 0


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
