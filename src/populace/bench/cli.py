"""`populace bench`: run the standard benchmark set (or some of it) and print JSON lines and a table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from populace import arguments
from populace.bench.cases import CASES, PEER_CASES, Case, once_per_kind, select
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
                       help="small sizes for a smoke run: 20k agents, NYC scale 0.001, 5 days (unless --days), each "
                            "kind once (the sizes of a kind are one size)")
    bench.add_argument("--threads", type=arguments.positive_int, default=None,
                       help="torch threads in each case (default: torch's, all cores)")
    bench.add_argument("--days", type=arguments.positive_int, default=None,
                       help="days every simulating case runs (default: each case's; 5 with --quick)")
    bench.add_argument("--json", type=Path, default=None, metavar="FILE",
                       help="also write the JSON lines to FILE (replaced)")
    bench.add_argument("--list", action="store_true", help="print the cases and exit")
    bench.add_argument("--peers", action="store_true",
                       help="the comparison set instead: the same SIR setting in Populace, Covasim and Starsim "
                       "(pip install 'populace[peers]'), interleaved, --repeats rounds, then a table of the medians "
                       "and their ratios to Populace")
    bench.add_argument("--agents", type=arguments.positive_int, default=None,
                       help="agents in every case (default: each case's; 1M with --peers, 5,000 with --peers --quick)")
    bench.add_argument("--repeats", type=arguments.positive_int, default=3,
                       help="with --peers: rounds of the comparison set; the table shows medians (default 3)")
    bench.set_defaults(handler=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    """`populace bench ...`: 0 if no case failed (skipped ones included), else 1."""
    from populace.bench.run import table

    try:
        cases = select(args.cases, PEER_CASES if args.peers else CASES)
    except ValueError as err:
        raise InputError(str(err)) from err
    if args.list:
        print(_list(cases))
        return 0
    days = args.days or (5 if args.quick else None)
    if args.quick and not args.peers:
        cases = once_per_kind(cases)  # the sizes of a kind are one size in a smoke run
    if args.peers:
        from populace.bench.peers import ratio_table, schedule, summarize

        records = _run(schedule(cases, args.repeats), quick=args.quick, days=days, threads=args.threads,
                       json_file=args.json, agents=args.agents, round_size=len(cases))
        print("\n" + table(records))
        print(f"\nMedians of {args.repeats} interleaved runs; x Populace: the tool's figure over Populace's on the "
              f"same network (above 1: Populace is faster or smaller). Machine: {records[0]['machine']}.\n")
        print(ratio_table(summarize(records)))
    else:
        records = _run(cases, quick=args.quick, days=days, threads=args.threads, json_file=args.json,
                       agents=args.agents)
        print("\n" + table(records))
    return 1 if any(record["status"] == "failed" for record in records) else 0


def _run(cases: list[Case], *, quick: bool, days: int | None, threads: int | None, json_file: Path | None,
         agents: int | None = None, round_size: int | None = None) -> list[dict[str, Any]]:
    """Run `cases` with `populace.bench.run.run_cases`, printing progress and each JSON line as it comes
    (with `round_size`, each record also gets its `repeat`: its position // round_size)."""
    from populace.bench.run import run_cases

    sink = json_file.open("w") if json_file else None

    done = []

    def started(i: int, case: Case) -> None:
        days_note = "" if case.days is None else f", {days or case.days} days"
        size = f"{agents:,} agents" if agents else case.size_label(quick)
        print(f"[{i + 1}/{len(cases)}] {case.name}: {size}{days_note}: {case.measures} ...",
              file=sys.stderr, flush=True)

    def ended(record: dict[str, Any]) -> None:
        if round_size:
            record["repeat"] = len(done) // round_size
        done.append(record)
        line = json.dumps(record)
        print(line, flush=True)
        if sink:
            sink.write(line + "\n")
            sink.flush()

    try:
        return run_cases(cases, quick=quick, days=days, threads=threads, agents=agents, on_start=started,
                         on_record=ended)
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
