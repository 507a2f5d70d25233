"""`populace bench`: run the standard benchmark set (or some of it) and print JSON lines and a table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from populace import arguments
from populace.bench.cases import Case, select
from populace.core.errors import InputError


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register `bench` as a top-level command."""
    bench = commands.add_parser(
        "bench", help="run the standard benchmark set; print a table and JSON lines",
        description="Run benchmark cases, each in a fresh process (so each peak memory is its own). As each case "
        "ends, its JSON line (figures, machine, threads, torch version, git commit, date) is printed on stdout; "
        "a table follows at the end. Progress goes to stderr. Exit status 1 if a case failed.")
    bench.add_argument("--cases", nargs="+", metavar="NAME", default=["*"],
                       help="case names or shell globs, e.g. 'sir-static-*' (default: the whole standard set; "
                       "see --list)")
    bench.add_argument("--quick", action="store_true",
                       help="small sizes for a smoke run: 20k agents, NYC scale 0.001, 5 days (unless --days)")
    bench.add_argument("--threads", type=arguments.positive_int, default=None,
                       help="torch threads in each case (default: torch's, all cores)")
    bench.add_argument("--days", type=arguments.positive_int, default=None,
                       help="days every simulating case runs (default: each case's; 5 with --quick)")
    bench.add_argument("--json", type=Path, default=None, metavar="FILE",
                       help="also write the JSON lines to FILE (replaced)")
    bench.add_argument("--list", action="store_true", help="print the cases and exit")
    bench.set_defaults(handler=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    """`populace bench ...`: 0 if no case failed (skipped ones included), else 1."""
    from populace.bench.run import table

    try:
        cases = select(args.cases)
    except ValueError as err:
        raise InputError(str(err)) from err
    if args.list:
        print(_list(cases))
        return 0
    days = args.days or (5 if args.quick else None)
    records = _run(cases, quick=args.quick, days=days, threads=args.threads, json_file=args.json)
    print("\n" + table(records))
    return 1 if any(record["status"] == "failed" for record in records) else 0


def _run(cases: list[Case], *, quick: bool, days: int | None, threads: int | None,
         json_file: Path | None) -> list[dict[str, Any]]:
    """Run `cases` with `populace.bench.run.run_cases`, printing progress and each JSON line as it comes."""
    from populace.bench.run import run_cases

    sink = json_file.open("w") if json_file else None

    def started(i: int, case: Case) -> None:
        days_note = "" if case.days is None else f", {days or case.days} days"
        print(f"[{i + 1}/{len(cases)}] {case.name}: {case.size_label(quick)}{days_note}: {case.measures} ...",
              file=sys.stderr, flush=True)

    def ended(record: dict[str, Any]) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        if sink:
            sink.write(line + "\n")
            sink.flush()

    try:
        return run_cases(cases, quick=quick, days=days, threads=threads, on_start=started, on_record=ended)
    finally:
        if sink:
            sink.close()


def _list(cases: list[Case]) -> str:
    """One line per case: name, size (and the --quick size), mode, days, what it measures."""
    columns = [[case.name, case.size_label(), f"(quick {case.size_label(True)})", case.mode,
                "" if case.days is None else f"{case.days} days", case.measures] for case in cases]
    widths = [max(len(row[i]) for row in columns) for i in range(len(columns[0]) - 1)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
                     for row in columns)
