"""Process-group set-up from a launcher's environment: torchrun, SLURM (`srun`) or Open MPI (`mpirun`).

| launcher | rank | world size | local rank |
|---|---|---|---|
| torchrun | RANK | WORLD_SIZE | LOCAL_RANK |
| SLURM (srun) | SLURM_PROCID | SLURM_NTASKS | SLURM_LOCALID |
| Open MPI (mpirun) | OMPI_COMM_WORLD_RANK | OMPI_COMM_WORLD_SIZE | OMPI_COMM_WORLD_LOCAL_RANK |

torchrun's variables win when several launchers' are set (torchrun started by srun). Every launcher needs
MASTER_ADDR and MASTER_PORT: torchrun sets them; under SLURM or Open MPI export them in the job script.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping

import torch.distributed as dist

LAUNCHERS = {
    "torchrun": ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
    "slurm": ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    "openmpi": ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
}


@dataclasses.dataclass(frozen=True)
class ProcessEnv:
    """Where this process sits in a job: rank in [0, world_size), local rank on its machine, rendezvous address."""

    launcher: str
    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProcessEnv:
        """Read the launcher's variables from `environ` (default `os.environ`); ValueError says what is missing."""
        env = os.environ if environ is None else environ
        for launcher, (rank_var, size_var, local_var) in LAUNCHERS.items():
            if rank_var in env:
                rank, size = _int(env, rank_var, launcher), _int(env, size_var, launcher)
                local = _int(env, local_var, launcher) if local_var in env else 0
                break
        else:
            raise ValueError("no launcher variables found (torchrun: RANK and WORLD_SIZE; SLURM: SLURM_PROCID and "
                             "SLURM_NTASKS; Open MPI: OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE). Start the "
                             "processes with `torchrun --nproc-per-node K ...`, `srun` or `mpirun`")
        if size < 1 or not 0 <= rank < size:
            raise ValueError(f"{launcher}: rank must lie in [0, world size) and the world size be >= 1, got rank "
                             f"{rank} of {size} ({rank_var}, {size_var})")
        if local < 0:
            raise ValueError(f"{launcher}: local rank must be >= 0, got {local} ({local_var})")
        missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not env.get(v)]
        if missing:
            raise ValueError(f"{launcher}: {' and '.join(missing)} not set; rank 0's host and a free port are the "
                             "rendezvous, e.g. export MASTER_ADDR=$(scontrol show hostnames $SLURM_JOB_NODELIST "
                             "| head -n 1) MASTER_PORT=29500")
        port = _int(env, "MASTER_PORT", launcher)
        if not 1 <= port <= 65535:
            raise ValueError(f"{launcher}: MASTER_PORT must be a port in [1, 65535], got {port}")
        return cls(launcher, rank, size, local, env["MASTER_ADDR"], port)

    @property
    def init_method(self) -> str:
        """The TCP rendezvous URL, `tcp://MASTER_ADDR:MASTER_PORT`."""
        host = f"[{self.master_addr}]" if ":" in self.master_addr else self.master_addr
        return f"tcp://{host}:{self.master_port}"


def init_process_group(env: ProcessEnv | None = None, *, backend: str = "gloo",
                       timeout: dt.timedelta = dt.timedelta(minutes=5)) -> ProcessEnv:
    """Join the default process group described by `env` (default: `ProcessEnv.from_env()`); returns `env`.

    gloo runs on CPU anywhere; pass backend="nccl" for GPUs (one per rank, `env.local_rank`).
    """
    env = ProcessEnv.from_env() if env is None else env
    if not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed; install a build with it")
    if dist.is_initialized():
        raise RuntimeError("a default process group is already initialized; call init_process_group once per "
                           "process, or torch.distributed.destroy_process_group() first")
    dist.init_process_group(backend, init_method=env.init_method, rank=env.rank, world_size=env.world_size,
                            timeout=timeout)
    return env


def _int(env: Mapping[str, str], name: str, launcher: str) -> int:
    value = env.get(name)
    if value is None:
        raise ValueError(f"{launcher}: {name} is not set")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{launcher}: {name} must be an integer, got {value!r}") from None
