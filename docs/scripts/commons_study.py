"""The GovSim commons study of docs/commons.md: every behaviour and variant, per agent and per archetype.

    python docs/scripts/commons_study.py                    # embedded SmolLM2-135M, ~8 minutes on 2 cores
    python docs/scripts/commons_study.py --backend openai --llm-url http://host:8000/v1 --llm-model NAME

Runs `populace run commons` for: the heuristics and the learned policy (10,000 groups, 3 seeds); GovSim's own
setting, one group of 5 named agents asked one by one (`--per-agent`), 3 seeds, in each scenario, and in the
fishery with universalization, without communication, with a discussion and with a greedy newcomer (who asks for
20, twice the share, every month); and the
archetype agents at 10,000 groups (one seed) in each scenario, and in the fishery with universalization and without
communication. Writes docs/commons-study.csv: one row per run (behaviour, seed) with its mode, scenario and
variant, and GovSim's metrics (means over the run's groups); prints the table of means over seeds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from populace.cli import main as populace

DOCS = Path(__file__).resolve().parents[1]
SCENARIOS = ("fishery", "pasture", "pollution")
MEASURES = ("survival_rate", "survival_months", "gain_per_agent", "efficiency", "equality", "over_usage")


def configurations() -> list[tuple[str, str, list[str]]]:
    """(mode, scenario, flags) of every run of the study."""
    runs = [("heuristic", "fishery", ["--behavior", "heuristic", "learned", "--policy", "sustainable", "greedy",
                                      "random", "tit-for-tat", "--greedy-amount", "20", "--groups", "10000"])]
    variants = ([], ["--universalization"], ["--no-communication"])
    for scenario in SCENARIOS:
        runs.append(("per agent", scenario, ["--per-agent", "--groups", "1"]))
    for variant in (*variants[1:], ["--discussion"], ["--newcomer", "--greedy-amount", "20"]):
        runs.append(("per agent", "fishery", ["--per-agent", "--groups", "1", *variant]))
    for scenario in SCENARIOS:
        runs.append(("archetype", scenario, ["--groups", "10000", "--seeds", "1"]))
    for variant in variants[1:]:
        runs.append(("archetype", "fishery", ["--groups", "10000", "--seeds", "1", *variant]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("embedded", "openai", "scripted"), default="embedded")
    parser.add_argument("--llm-url", default=None)
    parser.add_argument("--llm-model", default=None)
    parser.add_argument("--llm-cache", type=Path, default=None, help="answer cache (default: populace.llm's)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the per-agent and heuristic runs")
    parser.add_argument("--out", type=Path, default=DOCS / "commons-study.csv")
    args = parser.parse_args()
    llm = ["--llm-backend", args.backend]
    for flag, value in (("--llm-url", args.llm_url), ("--llm-model", args.llm_model), ("--llm-cache", args.llm_cache)):
        if value:
            llm += [flag, str(value)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for number, (mode, scenario, flags) in enumerate(configurations()):
            out = Path(folder) / str(number)
            behaviour = [] if mode == "heuristic" else ["--behavior", "llm", *llm]
            seeds = [] if "--seeds" in flags else ["--seeds", str(args.seeds)]
            started = time.perf_counter()
            code = populace(["run", "commons", "--scenario", scenario, *behaviour, *seeds, *flags,
                             "--out", str(out), "--no-progress"])
            if code != 0:
                raise SystemExit(f"populace run commons {' '.join(flags)} failed with exit code {code}")
            runs = pd.read_parquet(out / "runs.parquet")
            rows.append(runs.assign(mode=mode, scenario=scenario, seconds=round(time.perf_counter() - started, 1)))
    table = pd.concat(rows, ignore_index=True)
    model = "" if args.backend == "embedded" else f" {args.llm_model or ''}"
    table.insert(0, "model", [f"{args.backend}{model}" if m != "heuristic" else "-" for m in table["mode"]])
    table.to_csv(args.out, index=False, float_format="%.4g")
    means = table.groupby(["mode", "scenario", "behaviour"], sort=False)[list(MEASURES)].mean()
    print(means.round(3).to_string())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
