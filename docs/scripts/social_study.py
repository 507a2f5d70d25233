"""The social-media study of docs/social.md: the phenomena at 1,000 and 10,000 users, heuristic and language-model
users (embedded SmolLM2-135M, asked per archetype), under the similarity and random recommenders (and hot for the
heuristic).

    python docs/scripts/social_study.py          # about 5 minutes on 2 cores

Runs `populace run social` for each (users, behaviour) with 50 steps, seed 1, and writes docs/social-study.csv: one
row per run (users, behaviour, recommender) with the summary's phenomena, the share of each action among active
users, and the language-model prompts, calls and cache hits; prints the table.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd

from populace.cli import main as populace
from populace.models.social import ACTIONS

DOCS = Path(__file__).resolve().parents[1]
STEPS = 50
RUNS = ((1000, "heuristic", ("similarity", "random", "hot")), (10000, "heuristic", ("similarity", "random", "hot")),
        (1000, "llm", ("similarity", "random")), (10000, "llm", ("similarity", "random")))


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "answers.sqlite"  # a fresh cache: the first run's calls are real calls
        for users, behaviour, recommenders in RUNS:
            out = Path(folder) / f"{behaviour}-{users}"
            llm = ["--behavior", "llm", "--llm-cache", str(cache)] if behaviour == "llm" else []
            code = populace(["run", "social", "--users", str(users), "--steps", str(STEPS), "--recommender",
                             *recommenders, *llm, "--out", str(out), "--no-progress"])
            if code != 0:
                raise SystemExit(f"populace run social failed ({code}) for {users} users, {behaviour}")
            summary = pd.read_parquet(out / "summary.parquet")
            steps = pd.read_parquet(out / "steps.parquet")
            done = steps[steps.step > 0].groupby("recommender")[list(ACTIONS[:-1])].sum()
            active = steps[steps.step > 0].groupby("recommender")[list(ACTIONS)].sum().sum(axis=1)
            shares = done.div(active, axis=0).add_prefix("share_").reset_index()
            summary = summary.merge(shares, on="recommender")
            summary.insert(0, "behaviour", behaviour)
            summary.insert(0, "users", users)
            if behaviour == "llm":
                totals = json.loads((out / "llm_usage.json").read_text())["totals"]
                summary["llm_prompts"], summary["llm_calls"] = totals["prompts"], totals["calls"]
                summary["llm_cache_hits"] = totals["cache_hits"]
            rows.append(summary)
    table = pd.concat(rows, ignore_index=True)
    table.to_csv(DOCS / "social-study.csv", index=False, float_format="%.4g")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
