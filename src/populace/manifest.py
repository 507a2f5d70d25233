"""Run manifests: every output directory says how it was made, so any result can be traced and rerun."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import platform
import resource
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import torch

from populace.version import __version__

if TYPE_CHECKING:
    import pandas as pd

MANIFEST_NAME = "manifest.json"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def peak_memory_bytes() -> int:
    """Peak resident (host) memory of this process so far, in bytes (Linux and macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def peak_cuda_memory_bytes() -> int:
    """Peak memory allocated by PyTorch on the current CUDA device, in bytes (0 without CUDA)."""
    return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else 0


def cli_arguments(args: argparse.Namespace) -> dict[str, object]:
    """A command's parsed arguments as JSON-ready values: paths as strings, the handler function left out."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if not callable(v)}


class RunManifest:
    """Context manager that writes `manifest.json` into an output directory when the run ends.

    The manifest lists the Populace, Python and PyTorch versions, the command and its arguments, the seeds,
    device and threads, the input files with their SHA-256, the output files, wall time and peak memory.
    It is written on failure too (with `"status": "failed"` and the error), so a crashed run leaves a trace.

    >>> with RunManifest(out_dir, arguments={"days": 100}, seeds={"run": 1}) as manifest:  # doctest: +SKIP
    ...     manifest.add_output(traj.to_parquet(out_dir / "trajectory.parquet"))
    """

    def __init__(self, out_dir: str | Path, *, arguments: Mapping[str, object], seeds: Mapping[str, int],
                 inputs: Iterable[str | Path] = (), device: str | torch.device = "cpu",
                 command: list[str] | None = None):
        self.out_dir = Path(out_dir)
        self.arguments = dict(arguments)
        self.seeds = dict(seeds)
        self.inputs = [Path(p) for p in inputs]
        self.device = str(device)
        self.command = list(sys.argv if command is None else command)
        self.outputs: list[Path] = []
        self.results: dict[str, object] = {}
        self._started = 0.0
        self._started_at = ""

    def add_output(self, path: str | Path) -> Path:
        self.outputs.append(Path(path))
        return Path(path)

    def add_table(self, frame: pd.DataFrame, path: str | Path) -> Path:
        """Write `frame` to Parquet at `path` (without its index) and record it as an output."""
        frame.to_parquet(path, index=False)
        return self.add_output(path)

    def __enter__(self) -> RunManifest:
        missing = [str(p) for p in self.inputs if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"input file(s) not found: {', '.join(missing)}")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._started = time.perf_counter()
        self._started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        record = self.as_dict(wall_seconds=time.perf_counter() - self._started)
        if exc is not None:
            record["status"] = "failed"
            record["error"] = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        (self.out_dir / MANIFEST_NAME).write_text(json.dumps(record, indent=2, default=str) + "\n")

    def as_dict(self, *, wall_seconds: float) -> dict[str, object]:
        return {
            "status": "completed",
            "populace_version": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "platform": platform.platform(),
            "command": self.command,
            "arguments": self.arguments,
            "seeds": self.seeds,
            "device": self.device,
            "threads": torch.get_num_threads(),
            "inputs": [file_entry(p) for p in self.inputs],
            "outputs": [file_entry(p) for p in self.outputs if p.is_file()],
            "results": self.results,
            "started_at": self._started_at,
            "wall_seconds": round(wall_seconds, 3),
            "peak_memory_bytes": peak_memory_bytes(),
            "peak_cuda_memory_bytes": peak_cuda_memory_bytes(),
        }


def file_entry(path: Path, recorded_as: str | None = None) -> dict[str, object]:
    """{"path", "bytes", "sha256"} of a file, its path recorded as `recorded_as` (default: as given)."""
    return {"path": str(path) if recorded_as is None else recorded_as, "bytes": path.stat().st_size,
            "sha256": sha256_of(path)}
