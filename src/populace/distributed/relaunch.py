"""`--nproc K` on one machine: the same command again under torchrun, K processes, each a rank (`--distributed`).

torchrun (`python -m torch.distributed.run`, shipped with torch) starts K copies of `populace ...` with
`--distributed` in place of `--nproc K`, on a free local port (`--standalone`), one thread per process unless
`--threads` says otherwise; the exit status is the launch's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

DISTRIBUTED_FLAG = "--distributed"


def without_flag(argv: Sequence[str], flag: str) -> list[str]:
    """`argv` without `flag` and its value (given as `flag VALUE` or `flag=VALUE`)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            out.append(arg)
    return out


def torchrun_command(argv: Sequence[str], nproc: int) -> list[str]:
    """The torchrun command line that runs `populace *argv` (its `--nproc` dropped) on `nproc` local ranks."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "populace", *without_flag(argv, "--nproc"), DISTRIBUTED_FLAG]


def relaunch(argv: Sequence[str], nproc: int) -> int:
    """Run `populace *argv` on `nproc` processes of this machine under torchrun; its exit status."""
    environment = {"OMP_NUM_THREADS": "1", **os.environ}
    return subprocess.run(torchrun_command(argv, nproc), env=environment, check=False).returncode
