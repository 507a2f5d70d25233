"""`populace analyze SCENARIO.yaml` and `populace report RUN_DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from populace import arguments
from populace.analysis.executors import LOCAL, check_executor
from populace.manifest import RunManifest, cli_arguments
from populace.models.covid_nyc.analysis.scenario import Scenario


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register `analyze` and `report` as top-level commands."""
    analyze = commands.add_parser(
        "analyze", help="run a scenario file: baseline and policies, K seeds each, tables, plots and an HTML report",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    analyze.add_argument("scenario", type=Path, help="scenario file (.yaml or .toml); see docs/analysis.md")
    arguments.add_out_flag(analyze, default=None,
                           help="run folder (default: populace-out/analysis/<scenario file name>)")
    analyze.add_argument("--workers", type=arguments.positive_int, default=1,
                         help="parallel processes (1 runs inline); each gets cores / workers threads")
    analyze.add_argument("--executor", type=arguments.checked(check_executor), default=LOCAL,
                         help="where members run: local (inline or --workers processes) or dask://HOST:PORT, a Dask "
                              "scheduler whose workers see --out (pip install 'populace[dask]')")
    arguments.add_resume_flag(analyze, help="continue a killed run in --out")
    arguments.add_data_dir_flag(analyze)
    arguments.add_progress_flag(analyze)
    analyze.set_defaults(handler=analyze_command)
    report = commands.add_parser("report", help="write the self-contained HTML report of an analysis run folder")
    report.add_argument("run_dir", type=Path, help="folder written by `populace analyze`")
    report.add_argument("--out", type=Path, default=None, help="HTML file (default: RUN_DIR/report.html)")
    report.set_defaults(handler=report_command)


def analyze_command(args: argparse.Namespace) -> int:
    from populace.models.covid_nyc.analysis.analyze import analyze, check_run_dir
    from populace.models.covid_nyc.analysis.report import REPORT_NAME, write_report

    out = args.out or Path("populace-out/analysis") / args.scenario.stem
    try:  # before the manifest, which would otherwise overwrite a finished run's
        scenario = check_run_dir(args.scenario, out, resume=args.resume)
    except FileExistsError as err:
        raise SystemExit(f"populace: {err}") from None
    with RunManifest(out, arguments=cli_arguments(args), inputs=_inputs(scenario, args.data_dir),
                     seeds={"first": scenario.ensemble.first_seed, "members": scenario.ensemble.seeds},
                     command=args.command_line) as manifest:
        timings = analyze(args.scenario, out, workers=args.workers, resume=args.resume,
                          progress=False if args.no_progress else None, data_dir=args.data_dir,
                          executor=args.executor)
        manifest.results.update({k: round(v, 3) for k, v in timings.items()})
        for folder in ("tables", "plots"):
            for path in sorted((out / folder).glob("*")):
                manifest.add_output(path)
    write_report(out)  # again, now that the manifest lists the data files read
    metrics = pd.read_parquet(out / "tables" / "metrics.parquet")
    print(summary_table(metrics))
    print(f"report: {out / REPORT_NAME}\ntables: {out / 'tables'}\nplots:  {out / 'plots'}")
    return 0


def report_command(args: argparse.Namespace) -> int:
    from populace.models.covid_nyc.analysis.report import write_report

    print(write_report(args.run_dir, args.out))
    return 0


def summary_table(metrics: pd.DataFrame) -> str:
    """The main metrics, one row per policy, as aligned text for the terminal."""
    from populace.models.covid_nyc.analysis.tables import summary

    return "median [90% interval] over runs, city scale\n" + summary(metrics).to_string(index=False)


def _inputs(scenario: Scenario, data_dir: str | None) -> list[Path]:
    """The data files an NYC scenario reads (for the manifest); none for other populations."""
    if scenario.population.nyc is None:
        return []
    from populace.data.boroughs import BOROUGHS
    from populace.data.dohmh import DAILY_FILE, TESTS_FILE
    from populace.data.nysdol import nysdol_file
    from populace.data.paths import source_file
    from populace.population.nyc import SOURCE_FILES

    return [source_file(name, data_dir) for name in (*SOURCE_FILES, DAILY_FILE, TESTS_FILE,
                                                      *(nysdol_file(b) for b in BOROUGHS))]
