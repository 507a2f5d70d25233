"""Ensembles of any model: members (seed x parameter draw), each a baseline run and one branched run per policy.

A `Study` says what to run: a `ScenarioModel` (how to build the model from a parameter draw, apply a policy to it,
find the step a policy run branches off, and turn a run's records into tables), the steps, the policies, the seeds
and the draws. Member k has seed `first_seed + k` and draw k mod D (D = `parameter_draws`; with D = 0, draw 0 when
there are draws, else none), so the bands hold both seed and parameter uncertainty.

A member's baseline runs in chunks (`run(model, k, world=...)`) and saves, under `members/mNNNN/baseline/`, the
records of each chunk (Parquet), a snapshot of the world on every policy's branch step (`core.snapshot`) and a rolling
checkpoint every `checkpoint_steps` steps. A policy run starts from the baseline's snapshot on its branch step, so the
shared past is computed once, and its records are the baseline's up to that step and its own after. The counter-based
RNG keys every draw on (seed, step, stream, agent id), so a chunked run, a run resumed from a checkpoint and a policy
run branched from a snapshot are each identical to one uninterrupted run.

Each finished run writes `members/mNNNN/<policy>.<table>.parquet` for each of the model's `tables` (the first one
last: its presence marks the run done), then the member writes `parameters.json` and `done.json`. With `resume=True`
finished members and runs are skipped and a baseline continues from its last checkpoint.

Members run inline, in parallel processes (`ProcessPoolExecutor`, spawn) when `workers` > 1, or on a Dask cluster
(`executor="dask://HOST:PORT"`, `populace.analysis.executors`). A worker receives the
`Study` pickled: it must hold specifications (numbers, paths, plain tensors), never built modules, which a model
with parametrized parameters cannot pickle; `ScenarioModel.build` makes the modules inside the worker.
"""

from __future__ import annotations

import concurrent.futures as futures
import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pandas as pd
from torch import Tensor

from populace.analysis.executors import LOCAL, member_executor
from populace.analysis.policy import BASELINE, Vocabulary, slug
from populace.core.errors import InputError
from populace.core.model import Model
from populace.core.parameters import load_values, natural_parameters
from populace.core.progress import progress_bar
from populace.core.runner import run
from populace.core.snapshot import load_world, save_world
from populace.core.world import World

MEMBERS_DIR = "members"
PARAMETERS_FILE = "parameters.json"
DONE_FILE = "done.json"
STUDY_FILE = "study.json"
DRAW_PREFIX = "model."
"""Dropped from a draw's keys by `Scenarios.load`: a calibration problem that holds its model as `model` names the
model's tensors `model.<name>` (as `populace.calibrate.ensemble`'s draws do)."""


class ScenarioModel(Protocol):
    """How the runner builds, changes and reads one model (`Scenarios` gives the usual defaults).

    Attributes:
        tables: names of the tables `observe` returns for each run (the first one is written last).
    """

    tables: tuple[str, ...]

    def build(self, draw: Mapping[str, Tensor] | None) -> Model:
        """A fresh baseline model with the draw's values loaded (None: its defaults)."""

    def apply(self, model: Model, policy: Any) -> Model:
        """The model of `policy`: the same as `model` before the policy's branch step, under the policy after."""

    def branch_step(self, model: Model, policy: Any) -> int:
        """The first step at which the policy model can act differently from the baseline `model`."""

    def observe(self, records: pd.DataFrame, final: World, draw: Mapping[str, Tensor] | None
                ) -> dict[str, pd.DataFrame]:
        """The tables of one run from its records (`Trajectory.to_pandas()`, steps 0..T) and its final world."""

    def parameter_values(self, model: Model, draw: Mapping[str, Tensor] | None) -> dict[str, list[float]]:
        """The values a member ran with, by name (stored in `parameters.json`)."""


class Scenarios:
    """A `ScenarioModel` whose policies come from a `Vocabulary` (`populace.analysis.policy`) and start at their
    `start` step; a run's one table, "records", is its trajectory: step (and date), then every observable.

    Subclasses set `vocabulary` and implement `build` (`self.load(model, draw)` loads a draw: values by natural name
    or `state_dict` key, e.g. a calibration's `model.`-prefixed draws); they are dataclasses of plain values, so
    they pickle. A member's `parameters.json` reports the model's parameters in natural units.
    """

    vocabulary: ClassVar[Vocabulary]
    tables: ClassVar[tuple[str, ...]] = ("records",)

    def build(self, draw: Mapping[str, Tensor] | None) -> Model:
        raise NotImplementedError(f"{type(self).__name__} must implement build(draw) -> Model")

    def policy(self, spec: Mapping[str, Any]) -> Any:
        """A checked policy from a mapping {"name": ..., "from": step, change: value} (see `Vocabulary.policy`)."""
        return self.vocabulary.policy(spec)

    def apply(self, model: Model, policy: Any) -> Model:
        return self.vocabulary.apply(model, policy)

    def branch_step(self, model: Model, policy: Any) -> int:
        return policy.start

    def observe(self, records: pd.DataFrame, final: World, draw: Mapping[str, Tensor] | None
                ) -> dict[str, pd.DataFrame]:
        return {"records": records}

    def load(self, model: Model, draw: Mapping[str, Tensor] | None) -> Model:
        """`model` with the draw's values loaded (`populace.core.parameters.load_values`: by natural name or
        `state_dict` key, a leading `DRAW_PREFIX` dropped; unknown names and wrong shapes are refused by name)."""
        load_values(model, draw or {}, prefix=DRAW_PREFIX)
        return model

    def parameter_values(self, model: Model, draw: Mapping[str, Tensor] | None) -> dict[str, list[float]]:
        """Every parameter by natural name, in natural units (`populace.core.parameters.natural_parameters`)."""
        return {name: value.double().reshape(-1).tolist() for name, value in natural_parameters(model).items()}


@dataclasses.dataclass(frozen=True)
class Member:
    """One ensemble member: its seed, and the index of the parameter draw it uses (None: the model's defaults)."""

    index: int
    seed: int
    draw: int | None

    @property
    def name(self) -> str:
        return f"m{self.index:04d}"


def ensemble_members(seeds: int, first_seed: int, parameter_draws: int, n_draws: int) -> list[Member]:
    """Seeds first_seed, first_seed + 1, ...; member k uses draw k mod D of the first D = `parameter_draws` of the
    `n_draws` draws (with D = 0: draw 0 when there are draws, else none)."""
    if parameter_draws > n_draws:
        raise ValueError(f"parameter_draws is {parameter_draws} but there are {n_draws} draw(s)")
    return [Member(k, first_seed + k, (k % parameter_draws) if parameter_draws else (0 if n_draws else None))
            for k in range(seeds)]


@dataclasses.dataclass(frozen=True)
class Study:
    """What an ensemble runs: `model` (a `ScenarioModel`) for `steps` steps, baseline and `policies` (objects with a
    `name`, as the model's `apply` takes them), `seeds` members from `first_seed`, parameter `draws` ({state_dict
    key: tensor}) of which members use the first `parameter_draws`, a baseline checkpoint every `checkpoint_steps`."""

    name: str
    model: ScenarioModel
    steps: int
    policies: tuple[Any, ...] = ()
    seeds: int = 4
    first_seed: int = 1
    draws: tuple[Mapping[str, Tensor], ...] = ()
    parameter_draws: int = 0
    checkpoint_steps: int = 14

    def __post_init__(self) -> None:
        for field in ("steps", "seeds", "checkpoint_steps"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"study {self.name!r}: {field} must be an int >= 1, got {value!r}")
        names = [slug(p.name) for p in self.policies]
        if len(set(names)) != len(names) or BASELINE in names:
            raise ValueError(f"study {self.name!r}: policy names must differ in their letters or digits (they name "
                             f"files) and not be {BASELINE!r}, got {[p.name for p in self.policies]}")
        ensemble_members(self.seeds, self.first_seed, self.parameter_draws, len(self.draws))  # enough draws?

    @property
    def members(self) -> list[Member]:
        return ensemble_members(self.seeds, self.first_seed, self.parameter_draws, len(self.draws))

    def fingerprint(self) -> dict[str, object]:
        """What must match for a run folder to be resumed with this study: its settings, policies, model type and
        a hash of the draws."""
        digest = hashlib.sha256()
        for draw in self.draws:
            for key in sorted(draw):
                digest.update(key.encode())
                digest.update(draw[key].detach().cpu().double().contiguous().numpy().tobytes())
        return {"name": self.name, "model": type(self.model).__name__, "steps": self.steps,
                "seeds": self.seeds, "first_seed": self.first_seed, "parameter_draws": self.parameter_draws,
                "checkpoint_steps": self.checkpoint_steps, "policies": [repr(p) for p in self.policies],
                "draws": digest.hexdigest()}

    @property
    def policy_names(self) -> list[str]:
        """The baseline, then every policy."""
        return [BASELINE, *(p.name for p in self.policies)]


def run_ensemble(run_dir: str | Path, study: Study, *, workers: int = 1, resume: bool = False,
                 progress: bool | None = None, executor: str = LOCAL) -> list[Member]:
    """Run every member of `study` not finished yet into `run_dir` (see the module docstring); returns the members.
    `executor`: "local" (inline, or `workers` processes) or "dask://HOST:PORT" (`populace.analysis.executors`)."""
    run_dir = Path(run_dir)
    members = study.members
    todo = [m for m in members if not (run_dir / MEMBERS_DIR / m.name / DONE_FILE).is_file()]
    if todo:
        check_policies(study)
    started = (run_dir / MEMBERS_DIR).is_dir() and any((run_dir / MEMBERS_DIR).iterdir())
    if not resume and started:
        raise FileExistsError(f"{run_dir} already holds runs (finished or not); pass --resume to continue it or "
                              "choose another --out")
    _check_same_study(run_dir / STUDY_FILE, study.fingerprint())
    bar = progress_bar(len(members), initial=len(members) - len(todo), desc=study.name, unit="member",
                       progress=progress)
    with bar, member_executor(executor, workers if len(todo) > 1 else 1) as pool:
        if pool is None:
            for member in todo:
                run_member(str(run_dir), study, member)
                bar.update()
        else:
            jobs = [pool.submit(run_member, str(run_dir), study, member) for member in todo]
            for job in futures.as_completed(jobs):
                job.result()
                bar.update()
    return members


def _check_same_study(path: Path, fingerprint: dict[str, object]) -> None:
    """Write the study's fingerprint into a new run folder; refuse a folder that holds another study's runs."""
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored != fingerprint:
            changed = sorted(k for k in {*stored, *fingerprint} if stored.get(k) != fingerprint.get(k))
            raise InputError(f"{path.parent} holds runs of a different study (changed: {', '.join(changed)}); "
                             "choose another --out, or resume with the study it was started with")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fingerprint, indent=1) + "\n")


def check_policies(study: Study) -> None:
    """Dry-run every policy of `study` on freshly built models (of member 0's draw): its `apply`, and its branch step
    within the study's steps. `run_ensemble` calls it before any member starts, so a policy that cannot be applied
    (a wrong-length list, changes that do not compose) fails at once as an InputError naming it, not inside a worker.
    """
    first = study.members[0]
    draw = study.draws[first.draw] if first.draw is not None else None
    spec = study.model
    baseline = spec.build(draw)
    for policy in study.policies:
        try:
            spec.apply(spec.build(draw), policy)
            branch_steps(study, baseline, [policy])
        except Exception as err:  # any failure of a policy's apply is the policy's; --debug shows the chain
            raise InputError(f"policy {policy.name!r} cannot be applied to {type(baseline).__name__}: {err}") from err


def branch_steps(study: Study, model: Model, policies: Sequence[Any]) -> dict[str, int]:
    """{policy name: the step its run branches off the baseline `model`}, each within the study's steps."""
    branches = {p.name: study.model.branch_step(model, p) for p in policies}
    for name, step in branches.items():
        if not 0 <= step <= study.steps:
            raise ValueError(f"policy {name!r} branches off the baseline at step {step}, outside the study's steps 0 "
                             f"to {study.steps}; start it within them")
    return branches


def run_member(run_dir: str, study: Study, member: Member) -> None:
    """Run one member's baseline and policies into `run_dir/members/<member>` (a process pool's task)."""
    out = Path(run_dir) / MEMBERS_DIR / member.name
    draw = study.draws[member.draw] if member.draw is not None else None
    spec = study.model
    model = spec.build(draw)
    branches = branch_steps(study, model, study.policies)
    write_parameters(out / PARAMETERS_FILE, member, spec.parameter_values(model, draw))
    baseline, final = baseline_run(model, study.steps, out / BASELINE, member.seed, set(branches.values()),
                                   study.checkpoint_steps)
    write_tables(out, BASELINE, spec.observe(baseline, final, draw), spec.tables)
    for policy in study.policies:
        if (out / f"{slug(policy.name)}.{spec.tables[0]}.parquet").is_file():
            continue
        changed = spec.apply(spec.build(draw), policy)
        frame, final = policy_run(changed, study.steps, baseline, branches[policy.name], out / BASELINE)
        write_tables(out, slug(policy.name), spec.observe(frame, final, draw), spec.tables)
    (out / DONE_FILE).write_text(json.dumps({"member": member.index, "seed": member.seed, "draw": member.draw,
                                             "branch_steps": branches}) + "\n")


def write_parameters(path: Path, member: Member, values: Mapping[str, list[float]]) -> None:
    """The member's seed, draw and parameter values as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"seed": member.seed, "draw": member.draw, "values": dict(values)}, indent=1) + "\n")


def baseline_run(model: Model, steps: int, folder: Path, seed: int, snapshot_steps: set[int],
                 checkpoint_steps: int) -> tuple[pd.DataFrame, World]:
    """The baseline's records (steps 0..`steps`) and final world, run in chunks that end on every snapshot step and
    every `checkpoint_steps`-th step; resumes from the checkpoint in `folder`."""
    stops = sorted({*snapshot_steps, *range(checkpoint_steps, steps, checkpoint_steps), steps})
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
        write_parquet(chunk, folder / "chunks" / f"{start:05d}-{stop:05d}.parquet")
        world = traj.final_world
        if stop in snapshot_steps:
            save_world(world, folder / "snapshots" / f"step-{stop:05d}")
        save_world(world, checkpoint)
    chunks = sorted((folder / "chunks").glob("*.parquet"))
    frame = pd.concat([pd.read_parquet(p) for p in chunks if int(p.stem.split("-")[1]) <= steps], ignore_index=True)
    if frame["step"].tolist() != list(range(steps + 1)):
        raise RuntimeError(f"{folder}: the saved chunks do not cover steps 0..{steps} once each; delete the folder "
                           "and run again")
    return frame, world


def policy_run(model: Model, steps: int, baseline: pd.DataFrame, step: int, folder: Path
               ) -> tuple[pd.DataFrame, World]:
    """A policy model's records and final world: the baseline's records up to `step`, then its own from the
    baseline's snapshot of that step (in `folder`, written by `baseline_run`)."""
    world = load_world(folder / "snapshots" / f"step-{step:05d}")
    traj = run(model, steps - step, world=world, progress=False)
    frame = pd.concat([baseline[baseline["step"] <= step], traj.to_pandas().iloc[1:]], ignore_index=True)
    return frame, traj.final_world


def write_tables(folder: Path, name: str, tables: Mapping[str, pd.DataFrame], expected: Sequence[str]) -> None:
    """`folder/<name>.<table>.parquet` for every table, `expected[0]` last (its presence marks the run done)."""
    if set(tables) != set(expected):
        raise ValueError(f"observe returned tables {sorted(tables)}, the model declares {list(expected)} in tables")
    for table in reversed(expected):
        write_parquet(tables[table], folder / f"{name}.{table}.parquet")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` to `path` through a temporary file, so a killed run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)
