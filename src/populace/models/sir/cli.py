"""`populace run sir`: SIR on a random contact network; writes trajectory.parquet, trajectory.png, manifest.json."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from populace import arguments
from populace.core.errors import InputError
from populace.manifest import RunManifest, cli_arguments
from populace.models.sir.model import SIR


def add_parser(models: argparse._SubParsersAction) -> None:
    """Register `sir` under `populace run`."""
    sir = models.add_parser(
        "sir", help="SIR epidemic on a random contact network", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    sir.add_argument("--agents", type=arguments.positive_int, default=100_000, help="number of agents")
    arguments.add_run_flags(sir, out=Path("populace-out/sir"))
    arguments.add_simulation_flags(sir, days=100, allow_zero_days=True)
    arguments.add_device_flag(sir)
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
    sir.set_defaults(handler=run_sir)


def run_sir(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.initial_infected > args.agents:
        raise InputError(
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
        try:
            model = SIR.random_network(
                args.agents,
                contacts_per_agent=args.contacts,
                network_seed=args.network_seed,
                beta_per_day=args.beta,
                infectious_days=args.infectious_days,
                initial_infected=args.initial_infected,
            )
        except ValueError as err:  # the constructor checks the values given on the command line
            raise InputError(str(err)) from err
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
