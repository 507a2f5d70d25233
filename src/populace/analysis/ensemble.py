"""Ensembles of a scenario: K members (seed, parameter draw), each a baseline run and one run per policy.

A member's baseline runs in chunks (`run(model, k, world=...)`) and saves, under `members/mNNNN/baseline/`, the
daily records of each chunk (Parquet), a snapshot of the world on every policy's branch date (`core.snapshot`) and a
rolling checkpoint every `checkpoint_days` days. A policy run starts from the baseline's snapshot on its branch date
(`interventions.branch_date`), so the shared past is computed once, and its records are the baseline's up to that day
and its own after. The counter-based RNG keys every draw on (seed, step, stream, agent id), so a chunked run, a run
resumed from a checkpoint and a policy run branched from a snapshot are each identical to one uninterrupted run.

Each finished run writes `members/mNNNN/<policy>.daily.parquet` (date, region, infections, reported_cases, deaths,
labour_force, unemployed: counts at the size of the city, i.e. divided by the population's scale) and
`<policy>.ages.parquet` (age_band, infections, deaths over the run), then the member writes `done.json`. With
`resume=True` finished members and runs are skipped and a baseline continues from its last checkpoint.

Members run in parallel processes (`ProcessPoolExecutor`, spawn) when `workers` > 1, or inline.
"""

from __future__ import annotations

import concurrent.futures as futures
import dataclasses
import datetime as dt
import json
import multiprocessing
import os
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from populace.analysis.build import baseline_models, is_nyc, population_scale, read_parameter_draws, region_labels
from populace.analysis.interventions import branch_date, policy_model
from populace.analysis.scenario import Policy, Scenario, slug
from populace.core.runner import run
from populace.core.snapshot import load_world, save_world
from populace.core.world import World
from populace.models.covid_nyc.disease import Stage
from populace.models.covid_nyc.model import CovidNYC
from populace.models.covid_nyc.observe import ONSET_OBSERVABLES, Observation, daily_tests_on
from populace.population.storage import Population

BASELINE = "baseline"
SCENARIO_FILE = "scenario.json"
POPULATION_DIR = "population"
MEMBERS_DIR = "members"
PARAMETERS_FILE = "parameters.json"
AGE_BANDS = ((0, 17, "0-17"), (18, 44, "18-44"), (45, 64, "45-64"), (65, 74, "65-74"), (75, 200, "75+"))
"""Age bands of the outputs (DOHMH's)."""
SERIES = ("new_infections", "new_deaths", *ONSET_OBSERVABLES, "labour_force", "unemployed")


@dataclasses.dataclass(frozen=True)
class Member:
    """One ensemble member: its seed, and the parameter draw it uses (None: the defaults or the single values)."""

    index: int
    seed: int
    draw: int | None

    @property
    def name(self) -> str:
        return f"m{self.index:04d}"


def ensemble_members(scenario: Scenario, n_draws: int) -> list[Member]:
    """Seeds first_seed, first_seed + 1, ...; member k uses draw k mod D of the first D = parameter_draws draws (with
    D = 0, draw 0 when the parameters file has draws, else none)."""
    used = scenario.ensemble.parameter_draws
    if used > n_draws:
        raise ValueError(f"ensemble.parameter_draws is {used} but the parameters file has {n_draws} draw(s)")
    return [Member(k, scenario.ensemble.first_seed + k, (k % used) if used else (0 if n_draws else None))
            for k in range(scenario.ensemble.seeds)]


def branch_steps(scenario: Scenario, model: CovidNYC) -> dict[str, int]:
    """{policy name: the step its run branches from the baseline}."""
    return {p.name: scenario.step_of(branch_date(model.policy.schedule, p, scenario.start, scenario.last_day))
            for p in scenario.policies}


def run_ensemble(run_dir: str | Path, *, workers: int = 1, resume: bool = False, progress: bool | None = None,
                 data_dir: str | None = None) -> list[Member]:
    """Run every member not finished yet (see the module docstring); returns the members."""
    run_dir = Path(run_dir)
    scenario = Scenario.model_validate_json((run_dir / SCENARIO_FILE).read_text())
    draws = read_parameter_draws(scenario.parameters) if scenario.parameters else []
    members = ensemble_members(scenario, len(draws))
    todo = [m for m in members if not (run_dir / MEMBERS_DIR / m.name / "done.json").is_file()]
    if not resume and len(todo) < len(members):
        raise FileExistsError(f"{run_dir} already holds finished runs; pass --resume to continue it or choose "
                              "another --out")
    bar = tqdm(total=len(members), initial=len(members) - len(todo), desc=scenario.name, unit="member",
               disable=None if progress is None else not progress)
    with bar:
        if workers <= 1 or len(todo) <= 1:
            for member in todo:
                run_member(str(run_dir), member, data_dir)
                bar.update()
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            context = multiprocessing.get_context("spawn")
            with futures.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=torch.set_num_threads,
                                             initargs=(threads,)) as pool:
                jobs = [pool.submit(run_member, str(run_dir), member, data_dir) for member in todo]
                for job in futures.as_completed(jobs):
                    job.result()
                    bar.update()
    return members


def run_member(run_dir: str, member: Member, data_dir: str | None = None) -> None:
    """Run one member's baseline and policies into `run_dir/members/<member>` (a process pool's task)."""
    root = Path(run_dir)
    scenario = Scenario.model_validate_json((root / SCENARIO_FILE).read_text())
    population = Population.load(root / POPULATION_DIR)
    draws = read_parameter_draws(scenario.parameters) if scenario.parameters else []
    draw = draws[member.draw] if member.draw is not None else None
    out = root / MEMBERS_DIR / member.name
    model, observation = baseline_models(scenario, population, draw)
    write_parameters(out / PARAMETERS_FILE, member, model, observation)
    labels = region_labels(population)
    dates = [scenario.start + dt.timedelta(days=d) for d in range(scenario.days)]
    tests = daily_tests_on(dates, data_dir=data_dir) if is_nyc(labels) else None
    context = _Outputs(scenario, labels, population_scale(population), observation, tests)
    branches = branch_steps(scenario, model)
    baseline, final = baseline_run(model, scenario, out / BASELINE, member.seed, set(branches.values()))
    context.write(out, BASELINE, baseline, final)
    for policy in scenario.policies:
        if (out / f"{slug(policy.name)}.daily.parquet").is_file():
            continue
        frame, final = policy_run(scenario, population, draw, policy, baseline, branches[policy.name],
                                  out / BASELINE)
        context.write(out, slug(policy.name), frame, final)
    (out / "done.json").write_text(json.dumps({"member": member.index, "seed": member.seed, "draw": member.draw,
                                               "branch_steps": branches}) + "\n")


def write_parameters(path: Path, member: Member, model: CovidNYC, observation: Observation) -> None:
    """The member's parameters (model, then `observation.`-prefixed), stored units, as JSON lists of numbers."""
    values = {prefix + name: value.detach().double().reshape(-1).tolist()
              for prefix, module in (("", model), ("observation.", observation))
              for name, value in module.named_parameters()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"seed": member.seed, "draw": member.draw, "values": values}, indent=1) + "\n")


def baseline_run(model: CovidNYC, scenario: Scenario, folder: Path, seed: int,
                 snapshot_steps: set[int]) -> tuple[pd.DataFrame, World]:
    """The baseline's daily records and final world, run in chunks with snapshots (resumes from `folder`)."""
    total = scenario.days
    stops = sorted({*snapshot_steps, *range(scenario.checkpoint_days, total, scenario.checkpoint_days), total})
    checkpoint = folder / "checkpoint"
    world = load_world(checkpoint) if (checkpoint / "world.json").is_file() else None
    if world is None:
        world = model.initial_world(seed=seed)
        if 0 in snapshot_steps:
            save_world(world, folder / "snapshots" / "step-00000")
    for stop in stops:
        if stop <= world.step:
            continue
        start = world.step
        traj = run(model, stop - start, world=world, progress=False)
        frame = traj.to_pandas()
        chunk = frame if start == 0 else frame.iloc[1:]
        _write_parquet(chunk, folder / "chunks" / f"{start:05d}-{stop:05d}.parquet")
        world = traj.final_world
        if stop in snapshot_steps:
            save_world(world, folder / "snapshots" / f"step-{stop:05d}")
        save_world(world, checkpoint)
    chunks = sorted((folder / "chunks").glob("*.parquet"))
    frame = pd.concat([pd.read_parquet(p) for p in chunks if int(p.stem.split("-")[1]) <= total], ignore_index=True)
    if frame["step"].tolist() != list(range(total + 1)):
        raise RuntimeError(f"{folder}: the saved chunks do not cover steps 0..{total} once each; delete the folder "
                           "and run again")
    return frame, world


def policy_run(scenario: Scenario, population: Population, draw: dict | None, policy: Policy, baseline: pd.DataFrame,
               step: int, folder: Path) -> tuple[pd.DataFrame, World]:
    """A policy's daily records and final world: the baseline's up to `step`, then its own from the snapshot."""
    model, _ = baseline_models(scenario, population, draw)
    model = policy_model(model, policy)
    world = load_world(folder / "snapshots" / f"step-{step:05d}")
    traj = run(model, scenario.days - step, world=world, progress=False)
    frame = pd.concat([baseline[baseline["step"] <= step], traj.to_pandas().iloc[1:]], ignore_index=True)
    return frame, traj.final_world


@dataclasses.dataclass
class _Outputs:
    scenario: Scenario
    labels: list[str]
    scale: float
    observation: Observation
    tests: torch.Tensor | None

    def write(self, folder: Path, name: str, frame: pd.DataFrame, final: World) -> None:
        daily, ages = run_tables(frame, self.labels, final, self.observation, self.tests, self.scale)
        _write_parquet(ages, folder / f"{name}.ages.parquet")
        _write_parquet(daily, folder / f"{name}.daily.parquet")  # last: its presence marks the run done


def run_tables(frame: pd.DataFrame, labels: list[str], final: World, observation: Observation,
               tests: torch.Tensor | None, scale: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(daily by region, totals by age band) of one run from its daily records, at the size of the city."""
    series = {name: torch.tensor(frame[[f"{name}[{r}]" for r in labels]].to_numpy()[1:], dtype=torch.float64)
              for name in SERIES}  # [T, R]: row t is the day steps[t + 1] - 1
    with torch.no_grad():
        cases = observation.double().reported_cases(series[ONSET_OBSERVABLES[0]], series[ONSET_OBSERVABLES[1]],
                                                    None if tests is None else tests.double())
        deaths = observation.reported_deaths(series["new_deaths"])
    dates = pd.to_datetime(frame["date"].iloc[:-1].to_numpy())
    values = {"infections": series["new_infections"], "reported_cases": cases, "deaths": deaths,
              "labour_force": series["labour_force"], "unemployed": series["unemployed"]}
    daily = pd.DataFrame({"date": dates.repeat(len(labels)), "region": labels * len(dates)})
    for name, value in values.items():
        daily[name] = value.numpy().reshape(-1) / scale
    a = final.agents
    age = a.age.long()
    infected = a.infection_day >= 0
    dead = (a.stage.argmax(-1) if a.stage.dim() == 2 else a.stage.long()) == Stage.D
    rows = [(label, float((infected & (age >= lo) & (age <= hi)).sum()) / scale,
             float((dead & (age >= lo) & (age <= hi)).sum()) / scale) for lo, hi, label in AGE_BANDS]
    return daily, pd.DataFrame(rows, columns=["age_band", "infections", "deaths"])


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)
