"""`populace bench --peers`: the same SIR setting in Populace, Covasim and Starsim, side by side.

The setting: an SIR-type epidemic among `agents` (default 1M) with 20 contacts per agent per day (10 undirected
edges per agent, used both ways), 0.1% of the agents infectious on day 0, 30 days; on a static random network
(all three tools) and with contacts redrawn every day (Populace's `RandomMixing`, Starsim's dynamic `RandomNet`;
Covasim's random layer is static only). Covasim's `contacts=dict(a=20)` and Starsim's `n_contacts=20` mean 20
contacts per agent, as here. The transmission rates (`POPULACE_BETA`, `COVASIM_BETA`, `STARSIM_BETA`) are chosen
so the 30-day attack rates land in the same few-percent range for all three (each record has its `attack_rate`),
so the work compared is comparable: few agents infectious, most of a day spent on the contacts.

The peers are optional (`pip install 'populace[peers]'`, pinned `PINS`); a peer that is not installed makes its
case "skipped" with the pip command that installs it. Each case runs in a fresh process (`populace.bench.run`);
`schedule` interleaves the repeats (Populace, Covasim, Starsim, Populace, ...) so drifts of the machine touch
every tool alike, and `summarize` / `ratio_table` give the median of the repeats and the ratios to Populace.

Each peer's figures: agents, contacts_per_agent (directed, as built), build_s (population and network),
seconds_per_day (the run / days), total_s, attack_rate (1 - susceptible at the end / agents), tool,
tool_version, network, threads (what the tool may use: torch's threads for Populace, Numba's for Covasim and
Starsim) and cpu_per_wall (process CPU seconds / wall seconds over the run: the threads actually busy).
"""

from __future__ import annotations

import importlib
import os
import statistics
import time
from typing import Any

from populace.bench.cases import PEER_AGENTS, PEER_DAYS, CaseSkipped, Figures, measure_sir

__all__ = ["PEER_AGENTS", "PEER_DAYS", "measure", "ratio_table", "schedule", "summarize"]

SEEDED_FRACTION = 0.001
"""Agents infectious on day 0: 0.1%."""

INFECTIOUS_DAYS = 5.0
"""Mean days infectious in Populace and Starsim (exponential / geometric); Covasim keeps its own COVID durations."""

POPULACE_BETA = 0.0145
"""Populace's infection hazard per day per contact: about 3% infected in 30 days (R0 = 0.0145 x 20 x 5 = 1.45)."""

COVASIM_BETA = 0.016
"""Covasim's default beta per contact per day: about 3.6% infected in 30 days at its default durations."""

STARSIM_BETA = 0.0165
"""Starsim's SIR beta per day per contact (`ss.perday`), with the same 5-day mean infectious period as Populace."""

PINS = {"covasim": "3.1.9", "starsim": "3.7.2"}
"""The peer versions the comparison is pinned to (the `peers` extra of pyproject.toml)."""

TOOLS = ("populace", "covasim", "starsim")
"""The tools in the order each round runs them; Populace is the reference of the ratios."""

NETWORKS = ("static", "dynamic")


def install_hint(tool: str) -> str:
    """The pip command that installs peer `tool` at its pinned version."""
    return f"pip install {tool}=={PINS[tool]} (or pip install 'populace[peers]')"


def _import_peer(tool: str) -> Any:
    """Import `tool` (covasim or starsim), or raise `CaseSkipped` naming the pip command that installs it."""
    try:
        return importlib.import_module(tool)
    except ImportError as err:
        raise CaseSkipped(f"{tool} is not installed; install it with: {install_hint(tool)}") from err


def _numba_threads() -> int:
    import numba

    return int(numba.get_num_threads())


def measure_populace(agents: int, days: int, network: str) -> Figures:
    """Populace's SIR in the peer setting: `SIR.random_network` (static) or `RandomMixing(10)` (dynamic)."""
    import torch

    import populace

    start_cpu, start = time.process_time(), time.perf_counter()
    figures = measure_sir(agents, days, network="static" if network == "static" else "mixing",
                          beta=POPULACE_BETA, initial_infected=max(1, round(agents * SEEDED_FRACTION)),
                          infectious_days=INFECTIOUS_DAYS)
    cpu = (time.process_time() - start_cpu) / (time.perf_counter() - start)
    figures.pop("backward_s", None)
    return {**figures, "tool": "populace", "tool_version": populace.__version__, "network": network,
            "threads": torch.get_num_threads(), "cpu_per_wall": round(cpu, 2)}


def measure_covasim(agents: int, days: int, network: str) -> Figures:
    """Covasim's `Sim` with `pop_type="random"`, `contacts=dict(a=20)`, beta `COVASIM_BETA`, 0.1% seeded,
    Numba multithreading "safe" (deterministic) unless COVASIM_NUMBA_PARALLEL says otherwise."""
    if network != "static":
        raise ValueError("Covasim's random layer is static; it has no daily redrawn network")
    os.environ.setdefault("COVASIM_NUMBA_PARALLEL", "safe")  # read when covasim is imported
    cv = _import_peer("covasim")
    start = time.perf_counter()
    sim = cv.Sim(pop_size=agents, pop_type="random", contacts=dict(a=20), pop_infected=round(agents * SEEDED_FRACTION),
                 n_days=days, beta=COVASIM_BETA, rand_seed=1, verbose=0)
    sim.initialize()
    built, built_cpu = time.perf_counter(), time.process_time()
    sim.run()
    simulated = time.perf_counter()
    cpu = (time.process_time() - built_cpu) / (simulated - built)
    parallel = cv.options.numba_parallel
    return {"agents": agents, "contacts_per_agent": round(2 * len(sim.people.contacts["a"]) / agents, 2),
            "build_s": built - start, "seconds_per_day": (simulated - built) / days, "total_s": simulated - start,
            "attack_rate": 1 - float(sim.results["n_susceptible"][-1]) / agents, "tool": "covasim",
            "tool_version": cv.__version__, "network": network, "numba_parallel": parallel,
            "threads": 1 if parallel in ("none", None) else _numba_threads(), "cpu_per_wall": round(cpu, 2)}


def measure_starsim(agents: int, days: int, network: str) -> Figures:
    """Starsim's `Sim` with `RandomNet(n_contacts=20, dynamic=...)` and `SIR(beta=perday(STARSIM_BETA),
    init_prev=0.001, dur_inf=expon(days(5)), p_death=0)`, daily steps."""
    ss = _import_peer("starsim")
    start = time.perf_counter()
    sim = ss.Sim(n_agents=agents, start=ss.days(0), dur=ss.days(days), dt=ss.days(1), rand_seed=1, verbose=0,
                 networks=ss.RandomNet(n_contacts=20, dynamic=network == "dynamic"),
                 diseases=ss.SIR(beta=ss.perday(STARSIM_BETA), init_prev=SEEDED_FRACTION,
                                 dur_inf=ss.expon(scale=ss.days(INFECTIOUS_DAYS)), p_death=0))
    sim.init()
    built, built_cpu = time.perf_counter(), time.process_time()
    sim.run()
    simulated = time.perf_counter()
    cpu = (time.process_time() - built_cpu) / (simulated - built)
    return {"agents": agents, "contacts_per_agent": round(2 * len(sim.networks[0].edges.p1) / agents, 2),
            "build_s": built - start, "seconds_per_day": (simulated - built) / days, "total_s": simulated - start,
            "attack_rate": 1 - float(sim.results.sir.n_susceptible[-1]) / agents, "tool": "starsim",
            "tool_version": ss.__version__, "network": network, "threads": _numba_threads(),
            "cpu_per_wall": round(cpu, 2)}


MEASURES = {"populace": measure_populace, "covasim": measure_covasim, "starsim": measure_starsim}


def measure(tool: str, network: str, agents: int, days: int) -> Figures:
    """Run `tool` (populace, covasim, starsim) on `network` (static, dynamic) in this process; its figures."""
    return MEASURES[tool](agents, days, network)


def schedule(cases: list, repeats: int) -> list:
    """`cases` `repeats` times over, round after round (interleaved: P, C, S, P, C, S, ...)."""
    return [case for _ in range(repeats) for case in cases]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _ratio(value: float | None, reference: float | None) -> float | None:
    return None if value is None or not reference else value / reference


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per case (in order of first appearance) from the records of every repeat: tool, network,
    agents, runs (ok ones), medians of seconds_per_day, peak_gib, build_s and attack_rate, threads,
    cpu_per_wall, the ratios `time_ratio` / `memory_ratio` of the medians to Populace's on the same network
    (peer / Populace: above 1, Populace is faster or smaller), status and note (a skip's reason or an error)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["case"], []).append(record)
    rows = []
    for name, group in groups.items():
        ok = [r for r in group if r.get("status") == "ok"]
        first = ok[0] if ok else group[0]
        tool, network = name.split("-")[1:3]
        not_ok = [r for r in group if r.get("status") != "ok"]
        note = ""
        if not_ok:
            bad = not_ok[0]
            note = f"{bad.get('status')}: {bad.get('reason') or bad.get('error')}"
        rows.append({"case": name, "tool": tool, "network": network, "agents": first.get("agents"),
                     "tool_version": first.get("tool_version"), "runs": len(ok),
                     **{key: _median([r[key] for r in ok if r.get(key) is not None])
                        for key in ("seconds_per_day", "peak_gib", "build_s", "attack_rate", "cpu_per_wall")},
                     "threads": first.get("threads"), "status": "ok" if ok else first.get("status"), "note": note})
    reference = {row["network"]: row for row in rows if row["tool"] == "populace"}
    for row in rows:
        base = reference.get(row["network"], {})
        row["time_ratio"] = _ratio(row["seconds_per_day"], base.get("seconds_per_day"))
        row["memory_ratio"] = _ratio(row["peak_gib"], base.get("peak_gib"))
    return rows


def _cell(value: Any, digits: int, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def ratio_table(rows: list[dict[str, Any]]) -> str:
    """`summarize`'s rows as a Markdown table: tool, version, network, agents, runs, s/day and its ratio to
    Populace, peak GiB and its ratio, build s, attack rate, threads, CPU/wall, note."""
    table = [["tool", "version", "network", "agents", "runs", "s/day", "x Populace", "peak GiB", "x Populace",
              "build s", "attack rate", "threads", "CPU/wall", "note"]]
    for r in rows:
        table.append([r["tool"], r.get("tool_version") or "-", r["network"],
                      "-" if r["agents"] is None else f"{r['agents']:,}", str(r["runs"]),
                      _cell(r["seconds_per_day"], 4), _cell(r["time_ratio"], 2, "x"), _cell(r["peak_gib"], 2),
                      _cell(r["memory_ratio"], 2, "x"), _cell(r["build_s"], 2),
                      _cell(None if r["attack_rate"] is None else 100 * r["attack_rate"], 2, "%"),
                      "-" if r["threads"] is None else str(r["threads"]), _cell(r["cpu_per_wall"], 2), r["note"]])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    right = set(range(3, 13))
    lines = ["| " + " | ".join(cell.rjust(w) if i in right else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))) + " |" for row in table]
    lines.insert(1, "|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                                   for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)
