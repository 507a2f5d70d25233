"""Where an ensemble's members run: inline, in local processes, or on a Dask cluster.

`--executor local` (the default) runs members inline, or in `workers` spawned processes; `--executor
dask://HOST:PORT` submits them to the Dask scheduler at that address (`distributed.Client(...).get_executor()`, a
`concurrent.futures.Executor`), whose workers must import this Populace and see the run folder (one machine, or a
shared file system). Members are idempotent and each writes its own files, so any executor gives the same folder.
Dask is an optional extra: `pip install 'populace[dask]'`.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import multiprocessing
import os
import re
from collections.abc import Iterator

import torch

from populace.core.errors import InputError

LOCAL = "local"
DASK_SCHEME = "dask://"
_ADDRESS = re.compile(r"^dask://(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")


def check_executor(spec: str) -> str:
    """`spec` if it is "local" or "dask://HOST:PORT" (port 1-65535), else an InputError that says which forms work
    (a ValueError, so argparse reports it as a bad --executor)."""
    match = _ADDRESS.match(spec)
    if spec == LOCAL or (match and 0 < int(match["port"]) < 65536):
        return spec
    raise InputError(f"the executor must be 'local' or 'dask://HOST:PORT' (e.g. dask://127.0.0.1:8786), got {spec!r}")


@contextlib.contextmanager
def member_executor(spec: str, workers: int) -> Iterator[futures.Executor | None]:
    """The executor members are submitted to (None: run them inline), per `spec` (module docstring)."""
    spec = check_executor(spec)
    if spec == LOCAL:
        if workers <= 1:
            yield None
            return
        threads = max(1, (os.cpu_count() or 1) // workers)
        with futures.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=torch.set_num_threads, initargs=(threads,)) as pool:
            yield pool
        return
    try:
        from distributed import Client
    except ImportError as missing:
        raise InputError(f"--executor {spec} needs Dask's distributed scheduler: pip install 'populace[dask]'") \
            from missing
    address = "tcp://" + spec.removeprefix(DASK_SCHEME)
    try:
        client = Client(address, timeout="10s")
    except OSError as unreachable:
        raise InputError(f"no Dask scheduler answers at {address}: {unreachable}") from unreachable
    with client:
        yield client.get_executor()
