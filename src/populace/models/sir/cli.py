"""`populace run sir`: SIR on a random contact network; writes trajectory.parquet, trajectory.png, manifest.json.

`--nproc K` runs the same command on K processes of this machine (torchrun, `populace.distributed.relaunch`);
`--distributed` makes this process one rank of a launch by torchrun, `srun` or `mpirun` (`PartitionedSIR`, CPU):
rank 0 writes the outputs, which equal the one-process run's (bit-identical daily counts).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from populace import arguments
from populace.core.errors import InputError
from populace.core.trajectory import Trajectory
from populace.manifest import RunManifest, cli_arguments
from populace.models.sir.model import SIR

if TYPE_CHECKING:
    from populace.distributed import ProcessEnv


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
    sir.add_argument("--nproc", type=arguments.positive_int, default=1,
                     help="processes on this machine (torchrun; the same outputs as one process)")
    sir.add_argument("--distributed", action="store_true",
                     help="this process is one rank of a torchrun / srun / mpirun launch (rank 0 writes the outputs)")
    sir.set_defaults(handler=run_sir)


def run_sir(args: argparse.Namespace) -> int:
    if args.initial_infected > args.agents:
        raise InputError(
            f"--initial-infected ({args.initial_infected}) exceeds --agents ({args.agents}); lower it or add agents"
        )
    if (args.nproc > 1 or args.distributed) and torch.device(args.device).type != "cpu":
        raise InputError(f"--nproc and --distributed run on CPU processes (gloo); drop --device {args.device}")
    if args.nproc > 1:
        if args.distributed:
            raise InputError("--nproc starts its own ranks; give either --nproc or --distributed")
        from populace.distributed.relaunch import relaunch

        return relaunch(args.command_line[1:], args.nproc)
    if args.threads or args.distributed:
        torch.set_num_threads(args.threads or 1)
    with _ranks(args.distributed) as env:
        if env is not None and env.rank != 0:
            _simulate(args, env)
            return 0
        return _run_and_write(args, env)


@contextlib.contextmanager
def _ranks(distributed: bool) -> Iterator[ProcessEnv | None]:
    """This process's rank under a launcher (the process group set up, and torn down after), or None."""
    if not distributed:
        yield None
        return
    import torch.distributed as dist  # imported here, as below: `populace` itself does not load torch.distributed

    from populace.distributed import init_process_group

    try:
        env = init_process_group()
    except ValueError as err:  # not started by a launcher, or its variables are wrong
        raise InputError(f"--distributed: {err}") from err
    try:
        yield env
    finally:
        dist.destroy_process_group()


def _simulate(args: argparse.Namespace, env: ProcessEnv | None) -> tuple[Trajectory, float]:
    """Build and run the model (on this rank's agents under a launcher); the trajectory and the build seconds."""
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
    if env is None:
        built = time.perf_counter()
        return model.run(args.days, seed=args.seed, differentiable=args.differentiable, device=args.device,
                         progress=False if args.no_progress else None), built - started

    from populace.distributed import Partition
    from populace.models.sir.distributed import PartitionedSIR

    local = PartitionedSIR(model, Partition.even(args.agents, env.world_size))
    built = time.perf_counter()
    return local.run(args.days, seed=args.seed, differentiable=args.differentiable, progress=False), built - started


def _run_and_write(args: argparse.Namespace, env: ProcessEnv | None) -> int:
    with RunManifest(
        args.out,
        arguments=cli_arguments(args),
        seeds={"run": args.seed, "network": args.network_seed},
        device=args.device,
        command=args.command_line,
    ) as manifest:
        started = time.perf_counter()
        traj, build_seconds = _simulate(args, env)
        built = started + build_seconds
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
            processes=1 if env is None else env.world_size,
        )
    processes = "" if env is None else f", {env.world_size} processes"
    print(
        f"SIR: {args.agents:,} agents, {args.days} days, seed {args.seed}{processes}: "
        f"{attack_rate:.1%} ever infected, peak {int(traj['infectious'].max()):,} infectious"
    )
    per_day = f" ({(finished - built) / args.days * 1000:.0f} ms/day)" if args.days else ""
    print(f"built network in {built - started:.1f} s, simulated in {finished - built:.1f} s{per_day}")
    print(f"trajectory: {table}\nplot:       {plot}\nmanifest:   {args.out / 'manifest.json'}")
    return 0
