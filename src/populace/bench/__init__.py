"""`populace bench`: the standard benchmark set, each case in a fresh process, as a table and JSON lines.

- `populace.bench.cases`: the measurements (SIR static and daily redrawn contacts, fast and differentiable; the
  NYC COVID model; the NYC population build; population save and load) and `CASES`, the standard set;
- `populace.bench.run`: runs cases one per subprocess (`python -m populace.bench.run_case NAME`), so each peak
  memory is its own, and adds the machine, threads, torch version, git commit and date to each case's figures;
- `populace.bench.cli`: the `populace bench` command.

The scripts in `benchmarks/` print the same measurements with more detail and more knobs.
"""
