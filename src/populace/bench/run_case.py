"""One benchmark case in this process: `python -m populace.bench.run_case NAME [--quick] [--agents N] [--days D]`.

Options: `--threads T` sets torch's threads. Prints one JSON line on stdout: the case's figures
(`populace.bench.cases.Figures`) with `status` "ok", `days`, `peak_gib` (this process's peak resident memory) and
`threads` (torch's, unless the case reports its own); or `status` "skipped" and the `reason` when the case cannot
run here (`CaseSkipped`). Any other error shows its traceback on stderr and exits with status 1.
`populace.bench.run` starts one such process per case.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from populace.bench.cases import CaseSkipped, find
from populace.manifest import peak_memory_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m populace.bench.run_case", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a case of populace.bench.cases.CASES")
    parser.add_argument("--quick", action="store_true", help="the case's small size (a smoke run)")
    parser.add_argument("--agents", type=int, default=None, help="agents (default: the case's size)")
    parser.add_argument("--days", type=int, default=None, help="days to simulate (default: the case's)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    case = find(args.name)
    days = None if case.days is None else args.days or case.days
    try:
        figures = case.measure(args.agents or (case.quick_size if args.quick else case.size), days)
    except CaseSkipped as reason:
        record: dict[str, object] = {"status": "skipped", "reason": str(reason)}
    else:
        record = {"status": "ok", "days": days, **figures, "peak_gib": peak_memory_bytes() / 2**30}
    record.setdefault("threads", torch.get_num_threads())
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
