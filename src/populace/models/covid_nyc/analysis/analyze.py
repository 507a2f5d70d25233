"""`analyze`: a scenario from file to finished run folder (population, ensemble, tables, plots, report, manifest).

The run folder holds `scenario.yaml` (the file as given), `scenario.json` (as validated), `population/` (built once,
read by every worker), `members/` (see `ensemble`), `tables/`, `plots/`, `report.html` and `manifest.json`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from populace.core.errors import InputError
from populace.models.covid_nyc.analysis.build import build_population, is_nyc, read_parameter_draws
from populace.models.covid_nyc.analysis.ensemble import POPULATION_DIR, SCENARIO_FILE, ensemble_members, run_ensemble
from populace.models.covid_nyc.analysis.scenario import Scenario, load_scenario, scenario_json


def check_run_dir(scenario_path: str | Path, out: str | Path, *, resume: bool = False) -> Scenario:
    """The validated scenario, once `out` is known to be new, or (with `resume`) a run of the same scenario; checks
    the parameters file too. Changes nothing."""
    scenario_path = Path(scenario_path)
    scenario = load_scenario(scenario_path)
    draws = read_parameter_draws(scenario.parameters) if scenario.parameters else []
    ensemble_members(scenario, len(draws))  # enough draws?
    out = Path(out)
    stored = out / SCENARIO_FILE
    if stored.is_file():
        if not resume:
            raise FileExistsError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
        if stored.read_text() != scenario_json(scenario):
            raise InputError(f"{out} holds a run of a different scenario than {scenario_path}; choose another --out")
    elif resume and out.exists() and any(out.iterdir()):
        raise FileNotFoundError(f"{out} holds no scenario run to resume ({SCENARIO_FILE} is missing)")
    return scenario


def prepare(scenario_path: str | Path, out: str | Path, *, resume: bool = False,
            data_dir: str | None = None) -> Scenario:
    """`check_run_dir`, then set up `out`: the population (built once), the scenario file as given and as validated."""
    scenario = check_run_dir(scenario_path, out, resume=resume)
    scenario_path, out = Path(scenario_path), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / POPULATION_DIR / "manifest.json").is_file():
        population = build_population(scenario.population, data_dir=data_dir)
        population.save(out / POPULATION_DIR, overwrite=True)
    shutil.copyfile(scenario_path, out / f"scenario{scenario_path.suffix}")
    (out / SCENARIO_FILE).write_text(scenario_json(scenario))
    return scenario


def analyze(scenario_path: str | Path, out: str | Path, *, workers: int = 1, resume: bool = False,
            progress: bool | None = None, data_dir: str | None = None, executor: str = "local") -> dict[str, float]:
    """Run a scenario end to end into `out` (members on `executor`: "local" or "dask://HOST:PORT"); returns timings
    in seconds."""
    from populace.models.covid_nyc.analysis.plots import write_plots
    from populace.models.covid_nyc.analysis.report import write_report
    from populace.models.covid_nyc.analysis.tables import collect

    started = time.perf_counter()
    scenario = prepare(scenario_path, out, resume=resume, data_dir=data_dir)
    prepared = time.perf_counter()
    run_ensemble(out, workers=workers, resume=resume, progress=progress, data_dir=data_dir, executor=executor)
    simulated = time.perf_counter()
    tables = collect(out)
    labels = sorted(set(tables["daily_runs"]["region"]) - {"all"})
    write_plots(out, tables, scenario, with_data=is_nyc(labels), data_dir=data_dir)
    write_report(out)
    return {"prepare_seconds": prepared - started, "simulate_seconds": simulated - prepared,
            "report_seconds": time.perf_counter() - simulated}

