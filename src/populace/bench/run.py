"""Run benchmark cases, each in a fresh process, and report them as JSON lines and a table.

`run_cases` starts `python -m populace.bench.run_case NAME ...` (`case_command`) for one case after the other,
with this checkout's `populace` first on PYTHONPATH, so each case's peak memory is its own. Each case's record
is its figures plus `case`, `mode`, `status` ("ok", "skipped" with a `reason`, "failed" with an `error`: the
last line of its stderr), and the context: `machine`, `threads`, `torch`, `commit` (`git rev-parse HEAD` of the
checkout, None outside one) and `date` (UTC, when the case started). The keys of `RECORD_KEYS` are in every
record (None where they do not apply).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import populace
from populace.bench.cases import Case

RECORD_KEYS = ("case", "agents", "mode", "days", "seconds_per_day", "build_s", "total_s", "peak_gib", "status",
               "machine", "threads", "torch", "commit", "date")
"""The keys of every record; figures a case does not have (a failed case's, a build's seconds per day) are None."""

SOURCE_ROOT = Path(populace.__file__).resolve().parents[1]
"""The folder holding the `populace` package that runs the cases (`src/` in a checkout)."""


def machine() -> str:
    """The CPU model (from /proc/cpuinfo on Linux, else `platform.processor()`), cores and OS, in one line."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def git_commit() -> str | None:
    """`git rev-parse HEAD` of the checkout `populace` runs from, or None (not a git checkout, or no git)."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=SOURCE_ROOT, capture_output=True, text=True,
                              check=False)
    except OSError:
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def case_command(case: Case, *, quick: bool, days: int | None, threads: int | None,
                 agents: int | None = None) -> list[str]:
    """The command line of the process that runs `case` (`populace.bench.run_case`)."""
    command = [sys.executable, "-m", "populace.bench.run_case", case.name]
    if quick:
        command.append("--quick")
    if agents is not None:
        command += ["--agents", str(agents)]
    if days is not None:
        command += ["--days", str(days)]
    if threads is not None:
        command += ["--threads", str(threads)]
    return command


def run_case(case: Case, *, quick: bool, days: int | None, threads: int | None,
             context: dict[str, Any], agents: int | None = None) -> dict[str, Any]:
    """Run `case` in a fresh process and return its record (see the module docstring); never raises for the
    case's own errors: a process that exits non-zero, or prints no JSON line, gives status "failed"."""
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SOURCE_ROOT),
                                                                     os.environ.get("PYTHONPATH")]))}
    options = {"agents": agents} if agents is not None else {}
    done = subprocess.run(case_command(case, quick=quick, days=days, threads=threads, **options), capture_output=True,
                          text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        result = json.loads(lines[-1])
    else:
        stderr = [line for line in done.stderr.splitlines() if line.strip()]
        error = stderr[-1].strip() if stderr else f"exit status {done.returncode}, no output"
        result = {"status": "failed", "error": error, "threads": threads or torch.get_num_threads()}
    record = dict.fromkeys(RECORD_KEYS)
    record.update(case=case.name, mode=case.mode, **context, date=started)
    record.update(result)
    return record


def run_cases(cases: list[Case], *, quick: bool = False, days: int | None = None, threads: int | None = None,
              agents: int | None = None, on_start: Callable[[int, Case], None] = lambda i, case: None,
              on_record: Callable[[dict[str, Any]], None] = lambda record: None) -> list[dict[str, Any]]:
    """Run `cases` one after the other, each with `run_case`; `on_start(i, case)` is called as case i (from 0)
    starts and `on_record(record)` as it ends; `agents` replaces every case's size. Returns the records in order."""
    context = {"machine": machine(), "torch": torch.__version__, "commit": git_commit()}
    records = []
    for i, case in enumerate(cases):
        on_start(i, case)
        records.append(run_case(case, quick=quick, days=days, threads=threads, context=context, agents=agents))
        on_record(records[-1])
    return records


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(records: list[dict[str, Any]]) -> str:
    """The records as a Markdown table: case, agents, mode, days, s/day, build s, load s, total s, peak GiB, and a
    note (the reason a case was skipped or the error it failed with)."""
    rows = [["case", "agents", "mode", "days", "s/day", "build s", "load s", "total s", "peak GiB", "note"]]
    for r in records:
        note = {"ok": "", "skipped": f"skipped: {r.get('reason')}", "failed": f"failed: {r.get('error')}"}
        rows.append([r["case"], "-" if r["agents"] is None else f"{r['agents']:,}", r["mode"],
                     "-" if r["days"] is None else str(r["days"]), _number(r["seconds_per_day"], 4),
                     _number(r["build_s"], 2), _number(r.get("load_s"), 2), _number(r["total_s"], 2),
                     _number(r["peak_gib"], 2), note[r["status"]]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {1, 3, 4, 5, 6, 7, 8}
    lines = ["| " + " | ".join(cell.rjust(w) if i in right else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))) + " |" for row in rows]
    lines.insert(1, "|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                                   for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)

