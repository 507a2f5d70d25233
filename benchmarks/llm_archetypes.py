"""What the archetype layer costs per decision step, apart from the language model, against the heuristic.

    python benchmarks/llm_archetypes.py --agents 8400000 [--backend scripted|embedded] [--repeats 3]

Agents get NYC-like attributes at random (age 0-94, 5 boroughs, 60% of adults employed in 13 industries); the
isolation situation has 1% of agents with symptoms and a different incidence and case growth per borough. For the
default archetypes (`covid_decisions()`: 5 age bands x 5 boroughs x 3 work situations) it prints, per decision:
the prompts of the step (distinct archetype-situation pairs), the time of `LLMDecisions.probabilities` split into the
model's answer time and the rest (grouping, rendering, broadcasting: the overhead of the layer), and the time of
`HeuristicDecisions.probabilities` on the same agents. Two steps are timed, as a run makes them: the first (a fresh
`LLMDecisions`: prompts rendered, every level computed) and a later week (1% of agents changed employment, so
`is_employed` is a new column: the levels of age and region come from the cache), each asking isolate then
go_to_work of the same world. Best of --repeats, in milliseconds. With `--backend embedded` the answer time is the
real model's on the first (uncached) step: prompts per second.
"""

from __future__ import annotations

import argparse
import time

import torch

from populace.behavior import LLMDecisions
from populace.core.agents import AgentTable
from populace.core.world import World
from populace.llm import LanguageModel, ScriptedModel
from populace.models.covid_nyc.archetypes import covid_decisions
from populace.models.covid_nyc.decisions import GO_TO_WORK, ISOLATE, HeuristicDecisions


def nyc_like_agents(n: int, seed: int = 0) -> AgentTable:
    gen = torch.Generator().manual_seed(seed)
    age = torch.randint(0, 95, (n,), generator=gen, dtype=torch.uint8)
    employed = (age >= 16) & (torch.rand(n, generator=gen) < 0.6)
    industry = torch.randint(0, 13, (n,), generator=gen, dtype=torch.uint8)
    return AgentTable({"id": torch.arange(n, dtype=torch.int32), "age": age,
                       "region": torch.randint(0, 5, (n,), generator=gen, dtype=torch.uint8),
                       "is_employed": employed, "industry": torch.where(employed, industry, 255)}, validate=False)


def situations(agents: AgentTable, seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed + 1)
    region = agents.region.long()
    isolate = {"is_symptomatic": (torch.rand(agents.n, generator=gen) < 0.01).float(),
               "incidence_per_100k": torch.tensor([5.0, 30.0, 80.0, 300.0, 40.0])[region],
               "case_growth": torch.tensor([-0.5, 0.0, 0.3, 0.6, 0.1])[region]}
    work = {"work_from_home_fraction": torch.full((agents.n,), 1.0),
            "is_isolating": torch.rand(agents.n, generator=gen) < 0.05}
    return {ISOLATE: isolate, GO_TO_WORK: work}


def make_backend(name: str) -> LanguageModel:
    if name == "scripted":
        return ScriptedModel(lambda q: (0.3, 0.7))
    from populace.llm import make_model

    return make_model(name, cache=False)  # the model's own speed: no answer cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("scripted", "embedded"), default="scripted")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    agents = nyc_like_agents(args.agents)
    flip = torch.rand(agents.n, generator=torch.Generator().manual_seed(2)) < 0.01
    weeks = [World.of(agents, seed=1), World.of(agents.with_columns(is_employed=agents.is_employed ^ flip), seed=1,
                                                step=7)]
    steps = [situations(world.agents) for world in weeks]
    heuristic = HeuristicDecisions()
    model = make_backend(args.backend)
    print(f"{args.agents:,} agents, backend {model.backend}:{model.model}, {torch.get_num_threads()} threads")
    best: dict[tuple[str, int], float] = {}  # (decision, step) -> seconds; step 2: the heuristic
    model_seconds: dict[tuple[str, int], float] = {}
    prompts: dict[str, int] = {}
    for _ in range(args.repeats):
        llm = LLMDecisions(model, covid_decisions())  # fresh: no prompts rendered, nothing cached
        with torch.no_grad():
            for step, (world, situation) in enumerate(zip(weeks, steps, strict=True)):
                for decision in (ISOLATE, GO_TO_WORK):
                    calls = len(llm.usage)
                    started = time.perf_counter()
                    llm.probabilities(decision, world, situation[decision])
                    total = time.perf_counter() - started
                    answer = sum(u.seconds for u in llm.usage[calls:])
                    prompts[decision] = sum(u.prompts for u in llm.usage[calls:])
                    if total < best.get((decision, step), float("inf")):
                        best[(decision, step)], model_seconds[(decision, step)] = total, answer
            for decision in (ISOLATE, GO_TO_WORK):
                started = time.perf_counter()
                heuristic.probabilities(decision, weeks[1], steps[1][decision])
                best[(decision, 2)] = min(best.get((decision, 2), float("inf")), time.perf_counter() - started)
    for decision in (ISOLATE, GO_TO_WORK):
        first, later = (best[(decision, step)] * 1e3 for step in (0, 1))
        answer = model_seconds[(decision, 0)]
        rate = f", {prompts[decision] / answer:.1f} prompts/s" if args.backend != "scripted" else ""
        print(f"{decision:10s} {prompts[decision]:4d} prompts: LLMDecisions first step {first:7.1f} ms (model "
              f"{answer * 1e3:.1f} ms{rate}), later step {later:7.1f} ms (model "
              f"{model_seconds[(decision, 1)] * 1e3:.1f} ms); heuristic {best[(decision, 2)] * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
