"""The standard benchmark set: what each case builds, runs and times, and the figures it returns.

A case's `measure(size, days)` runs in the current process and returns its figures (`Figures`): `agents`,
`seconds_per_day` (simulation seconds / days; None for cases that simulate no days), `build_s` (network or
population set-up), `total_s` (everything timed) and case-specific extras (`backward_s`, `attack_rate`,
`save_s`, `load_s`, ...). Peak memory is the process's, so `populace.bench.run` runs each case in a fresh process.
A case that needs data that is not here raises `CaseSkipped` with the reason.

The measuring functions (`measure_sir`, `covid_fast_days`, `measure_nyc_population`, `measure_population_io`)
are also what the scripts in `benchmarks/` call.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

Figures = dict[str, float | int | None]
"""A case's measurements by name (JSON-ready numbers; None where a figure does not apply)."""

CONTACTS_PER_AGENT = 20.0
"""Contacts per agent per day in the SIR cases: 10 undirected edges (or 10 calls) per agent, used both ways."""

SIR_BETA = 0.03
"""SIR infection hazard per day per contact (R0 = 0.03 x 20 x 5 days = 3)."""

COVID_BETA = 0.3
"""Transmission rate of every week in the COVID cases: one whole epidemic wave in 120 days."""


class CaseSkipped(Exception):  # noqa: N818 (not an error: a reason a case cannot run here)
    """A case cannot run on this machine (its data is missing); the message says why and how to fix it."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark: `measure(size, days)` at `size` (or `quick_size` for a smoke run) for `days` days.

    `size` is agents, or the fraction of New York City's 8.34M people for NYC cases (`size_unit` "scale");
    `days` is None for cases that simulate no days (building, saving and loading populations).
    """

    name: str
    mode: str  # fast, differentiable, build or load
    measures: str  # one line: what is timed
    size: float
    quick_size: float
    days: int | None
    measure: Callable[[float, int | None], Figures]
    size_unit: str = "agents"

    def size_label(self, quick: bool = False) -> str:
        """`size` (or `quick_size`) as the table prints it: 100k, 8.4M agents; scale 0.1."""
        size = self.quick_size if quick else self.size
        return f"scale {size:g}" if self.size_unit == "scale" else f"{agents_label(int(size))} agents"


def agents_label(n: int) -> str:
    """100000 -> "100k", 8400000 -> "8.4M", 20000 -> "20k"."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}M"
    return f"{n / 1000:g}k" if n >= 1000 else str(n)


def measure_sir(agents: int, days: int, *, network: str = "static", differentiable: bool = False,
                contacts: float = CONTACTS_PER_AGENT, checkpoint_days: int | None = None, beta: float = SIR_BETA,
                initial_infected: int = 10, infectious_days: float = 5.0) -> Figures:
    """SIR from `SIR` with `contacts` per agent: a static Erdős–Rényi network (`network="static"`,
    `SIR.random_network`) or contacts redrawn every day (`"mixing"`, `RandomMixing` with contacts / 2 calls).

    Fast mode times `model.run(days)`; differentiable mode also the backward pass of the loss (the last day's
    recovered count) into beta and the recovery probability. Returns agents, directed contacts per agent (static;
    mean per day when mixing), build_s, seconds_per_day (forward only), backward_s, total_s and attack_rate.
    `beta` (per day per contact), `initial_infected` and `infectious_days` are the SIR's parameters.
    """
    from populace.models.sir import SIR
    from populace.network import RandomMixing

    params = {"beta_per_day": beta, "initial_infected": initial_infected, "infectious_days": infectious_days}
    start = time.perf_counter()
    if network == "static":
        model = SIR.random_network(agents, contacts_per_agent=contacts, **params)
        contacts_per_agent = model.transmission.contacts.n_edges / agents
    elif network == "mixing":
        mixing = RandomMixing(round(contacts / 2))
        model = SIR(mixing, agents, **params)
        contacts_per_agent = mixing.mean_contacts
    else:
        raise ValueError(f"network must be 'static' or 'mixing', got {network!r}")
    built = time.perf_counter()
    trajectory = model.run(days, seed=1, differentiable=differentiable, checkpoint_steps=checkpoint_days,
                           progress=False)
    simulated = time.perf_counter()
    if differentiable:
        trajectory["recovered"][-1].backward()
    done = time.perf_counter()
    return {"agents": agents, "contacts_per_agent": round(contacts_per_agent, 2), "build_s": built - start,
            "seconds_per_day": (simulated - built) / days, "backward_s": (done - simulated) if differentiable else None,
            "total_s": done - start,
            "attack_rate": 1 - float(trajectory["susceptible"][-1].detach()) / agents}


def covid_fast_days(model: torch.nn.Module, days: int, seed: int) -> tuple[list[float], list[float], dict]:
    """Run a CovidNYC `model` in fast mode (under `torch.no_grad()`, observing each day as `run` does).

    Returns the seconds and the new infections of each day, and the last day's observables.
    """
    seconds, infections = [], []
    with torch.no_grad():
        world = model.initial_world(seed=seed)
        observed = model.observe(world)
        for _ in range(days):
            start = time.perf_counter()
            world = model(world).advance()
            observed = model.observe(world)
            seconds.append(time.perf_counter() - start)
            infections.append(float(observed["new_infections"].sum()))
    return seconds, infections, observed


def peak_week(seconds: list[float], infections: list[float]) -> tuple[int, float]:
    """First day (0-based) of the 7-day window with the most new infections, and its mean seconds per day."""
    width = min(7, len(seconds))
    first = max(range(len(seconds) - width + 1), key=lambda d: sum(infections[d:d + width]))
    return first, sum(seconds[first:first + width]) / width


def require_data() -> None:
    """Raise `CaseSkipped` when the raw data directory (`populace.data.paths.data_dir`) is not here."""
    from populace.data.paths import data_dir

    try:
        data_dir()
    except FileNotFoundError as err:
        raise CaseSkipped(f"needs the raw NYC data: {err}") from err


def measure_covid(scale: float, days: int) -> Figures:
    """CovidNYC on the synthetic NYC built at `scale`, fast mode, beta `COVID_BETA`, 1 in 10,000 exposed on day 0
    (at least 10). build_s: the population build and the model; seconds_per_day: the mean over `days`;
    peak_week_seconds_per_day: the mean over the 7 days with the most new infections."""
    require_data()
    from populace.models.covid_nyc import CovidNYC
    from populace.models.covid_nyc.params import CovidParams
    from populace.population.nyc import build_nyc

    start = time.perf_counter()
    population = build_nyc(scale=scale, seed=1)
    n = population.n_agents
    model = CovidNYC.from_population(population, CovidParams(beta_by_week=(COVID_BETA,)),
                                     initial_infected=max(10, n // 10_000))
    built = time.perf_counter()
    seconds, infections, observed = covid_fast_days(model, days, seed=1)
    return {"agents": n, "contacts_per_agent": round(population.layers.n_edges / n, 2), "build_s": built - start,
            "seconds_per_day": sum(seconds) / days, "peak_week_seconds_per_day": peak_week(seconds, infections)[1],
            "total_s": time.perf_counter() - start, "attack_rate": 1 - float(observed["susceptible"]) / n}


def measure_nyc_population(scale: float, out: Path, seed: int = 1) -> Figures:
    """Build the synthetic NYC at `scale` (`build_nyc`), save it to `out` (replaced) and load it back.

    Returns agents, contacts_per_agent, build_s, build_peak_gib (peak memory when built), save_s, load_s,
    disk_mib and total_s.
    """
    from populace.manifest import peak_memory_bytes
    from populace.population.nyc import build_nyc
    from populace.population.storage import Population

    start = time.perf_counter()
    population = build_nyc(scale=scale, seed=seed)
    built = time.perf_counter()
    build_peak = peak_memory_bytes()
    population.save(out, overwrite=True)
    saved = time.perf_counter()
    n_agents, n_edges = population.n_agents, population.layers.n_edges
    del population
    load_start = time.perf_counter()
    Population.load(out)
    loaded = time.perf_counter()
    disk = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return {"agents": n_agents, "contacts_per_agent": round(n_edges / n_agents, 2), "build_s": built - start,
            "build_peak_gib": build_peak / 2**30, "save_s": saved - built, "load_s": loaded - load_start,
            "disk_mib": disk / 2**20, "total_s": loaded - start}


def measure_population_io(agents: int, directory: Path, contacts: float = CONTACTS_PER_AGENT) -> Figures:
    """Synthesize a population (`synthetic_population`: households and a random layer), save it to `directory`
    (replaced) and load it twice (the second load with the files in the page cache) and once without layers.

    Returns agents, directed_contacts, contacts_per_agent, build_s (synthesis), save_s, load_s (first), load_again_s,
    load_agents_only_s, disk_mib and total_s.
    """
    from populace.population.storage import Population
    from populace.population.synthetic import synthetic_population

    start = time.perf_counter()
    population = synthetic_population(agents, contacts_per_agent=contacts, seed=1)
    built = time.perf_counter()
    n_edges = population.layers.n_edges
    population.save(directory, overwrite=True)
    saved = time.perf_counter()
    del population
    loads = []
    for _ in range(2):
        load_start = time.perf_counter()
        Population.load(directory)
        loads.append(time.perf_counter() - load_start)
    load_start = time.perf_counter()
    Population.load(directory, layers=[])
    agents_only = time.perf_counter() - load_start
    disk = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    return {"agents": agents, "directed_contacts": n_edges, "contacts_per_agent": round(n_edges / agents, 2),
            "build_s": built - start, "save_s": saved - built, "load_s": loads[0], "load_again_s": loads[1],
            "load_agents_only_s": agents_only, "disk_mib": disk / 2**20, "total_s": time.perf_counter() - start}


def _in_scratch(measure: Callable[[float, Path], Figures]) -> Callable[[float, int | None], Figures]:
    """A case's measure that writes under a fresh temporary folder, deleted afterwards."""
    def run(size: float, days: int | None) -> Figures:
        scratch = Path(tempfile.mkdtemp(prefix="populace-bench-"))
        try:
            return measure(size, scratch / "population")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return run


def _nyc_population(scale: float, out: Path) -> Figures:
    require_data()
    return measure_nyc_population(scale, out)


def _sir_case(network: str, differentiable: bool, agents: int) -> Case:
    mode = "differentiable" if differentiable else "fast"
    kind = ("static random network (SIR.random_network)" if network == "static"
            else "contacts redrawn daily (RandomMixing)")
    what = ("loss + backward" if differentiable else "seconds per day") + f", SIR, {kind}, 20 contacts per agent"
    return Case(name=f"sir-{network}-{'diff' if differentiable else 'fast'}-{agents_label(agents).lower()}",
                mode=mode, measures=what, size=agents, quick_size=20_000, days=21 if differentiable else 30,
                measure=lambda size, days: measure_sir(int(size), days, network=network,
                                                       differentiable=differentiable))


CASES: tuple[Case, ...] = (
    *(_sir_case(network, differentiable, agents)
      for network in ("static", "mixing") for differentiable in (False, True)
      for agents in (100_000, 1_000_000, 8_400_000)),
    *(Case(name=f"covid-fast-{scale:.1f}", mode="fast", size=scale, quick_size=0.001, days=120, size_unit="scale",
           measures="seconds per day, NYC COVID model (CovidNYC), a whole wave; build: the population",
           measure=measure_covid) for scale in (0.1, 1.0)),
    Case(name="nyc-population-1.0", mode="build", size=1.0, quick_size=0.001, days=None, size_unit="scale",
         measures="build, save and load the synthetic NYC (build_nyc)", measure=_in_scratch(_nyc_population)),
    Case(name="population-io-8.4m", mode="load", size=8_400_000, quick_size=20_000, days=None,
         measures="save and load a synthetic population (households + 20 random contacts per agent)",
         measure=_in_scratch(lambda size, out: measure_population_io(int(size), out))),
)
"""The standard set, in the order `populace bench` runs it."""


PEER_AGENTS = 1_000_000
"""Agents in the comparison with the peers (`populace bench --peers`) unless `--agents` says otherwise."""

PEER_DAYS = 30


def _measure_peer(tool: str, network: str, agents: int, days: int) -> Figures:
    from populace.bench import peers

    return peers.measure(tool, network, agents, days)


def _peer_case(tool: str, network: str) -> Case:
    kind = "static random network" if network == "static" else "contacts redrawn daily"
    return Case(name=f"peer-{tool}-{network}", mode="fast", size=PEER_AGENTS, quick_size=5_000, days=PEER_DAYS,
                measures=f"seconds per day, SIR in {tool}, {kind}, 20 contacts per agent, 0.1% seeded",
                measure=lambda size, days: _measure_peer(tool, network, int(size), days))


PEER_CASES: tuple[Case, ...] = tuple(_peer_case(tool, network) for network in ("static", "dynamic")
                                     for tool in ("populace", "covasim", "starsim")
                                     if not (tool == "covasim" and network == "dynamic"))
"""The comparison set of `populace bench --peers` (`populace.bench.peers`), in the order each round runs it."""


def select(patterns: list[str], cases: tuple[Case, ...] = CASES) -> list[Case]:
    """The cases whose names match any of `patterns` (exact names or shell globs), in `cases`' order.

    Raises ValueError naming the patterns that match no case and listing the known names.
    """
    unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(case.name, p) for case in cases)]
    if unknown:
        raise ValueError(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(case.name for case in cases)}")
    return [case for case in cases if any(fnmatch.fnmatchcase(case.name, p) for p in patterns)]


def once_per_kind(cases: list[Case]) -> list[Case]:
    """`cases` less those that would repeat an earlier one in a smoke run (same mode, measure and quick size: the
    SIR cases at 100k, 1M and 8.4M all run 20k agents with --quick)."""
    seen: set[tuple[str, str, float]] = set()
    kept = []
    for case in cases:
        kind = (case.mode, case.measures, case.quick_size)
        if kind not in seen:
            seen.add(kind)
            kept.append(case)
    return kept


def find(name: str) -> Case:
    """The case of the standard or the comparison set named exactly `name`; ValueError listing the known names."""
    for case in (*CASES, *PEER_CASES):
        if case.name == name:
            return case
    raise ValueError(f"unknown case {name}; known: {', '.join(case.name for case in (*CASES, *PEER_CASES))}")
