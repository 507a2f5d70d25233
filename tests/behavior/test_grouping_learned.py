"""`learn_grouping` on a planted scripted backend: probes, the learned archetypes, and `LLMDecisions` asking them."""

import re

import pytest
import torch

from populace.behavior import DecisionSpec, Levels, LLMDecisions, PromptTemplate
from populace.behavior.grouping.learned import learn_grouping
from populace.core.agents import AgentTable
from populace.core.world import World
from populace.llm import Query, ScriptedModel

pytestmark = pytest.mark.usefixtures("one_thread")

N = 600
TEMPLATE = PromptTemplate.parse("version: storm@1\noptions: yes, no\n---\nYou are {description}. {weather}\n"
                                "Will you stay in? Answer yes or no.")
WEATHER = Levels.bins("weather", "storm", (0.5,), ("The sky is clear.", "A storm is coming."))
CANDIDATES = tuple(Levels.codes(name, name, [f"{name}{k}" for k in range(levels)])
                   for name, levels in (("a", 4), ("b", 3), ("c", 5)))
P_YES = {"clear": (0.1, 0.3, 0.5), "storm": (0.6, 0.75, 0.9)}  # by level of b: the planted attribute


def planted(query: Query) -> tuple[float, float]:
    b = int(re.search(r"\bb(\d)", query.prompt).group(1))  # "b=b2" in a persona, "b2" in an archetype
    p = P_YES["storm" if "storm" in query.prompt else "clear"][b]
    return p, 1 - p


def agents() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    return {name: torch.randint(levels, (N,), generator=generator, dtype=torch.int64)
            for name, levels in (("a", 4), ("b", 3), ("c", 5))}


def personas(table: dict[str, torch.Tensor]):
    return lambda rows: [f"agent {int(i)}: a=a{int(table['a'][i])}, b=b{int(table['b'][i])}, c=c{int(table['c'][i])}"
                         for i in rows]


def spec() -> DecisionSpec:
    return DecisionSpec(TEMPLATE, (CANDIDATES[0],), (WEATHER,), person="a villager")  # today: by a, which is wrong


@pytest.mark.parametrize("method", ["auto", "clusters"])
def test_learned_archetypes_recover_the_planted_attribute(method: str) -> None:
    table = agents()
    model = ScriptedModel(planted)
    learned = learn_grouping(method, model, spec(), table, CANDIDATES, personas(table), probe_agents=60,
                             clusters=3, seed=2)
    assert learned.probe_prompts == 60 * 2  # 60 agents x both situation cells
    assert learned.probe_calls == 120
    assert model.queries == 120
    report = learned.report(table)
    assert report["groups_present"] == 3
    assert sorted(g["agents"] for g in report["groups"]) == sorted(torch.bincount(table["b"]).tolist())
    if method == "auto":
        assert learned.attributes == ("b",)
    decisions = LLMDecisions(model, {"stay_in": learned.spec})
    storm = torch.zeros(N).index_fill_(0, torch.arange(0, N, 2), 1.0)  # every other agent sees the storm
    world = World.of(AgentTable(dict(table, id=torch.arange(N))), seed=1)
    p = decisions.probabilities("stay_in", world, {"storm": storm})[:, 0]
    expected = torch.tensor([P_YES["storm" if s else "clear"][b] for s, b in zip(storm.tolist(),
                                                                                  table["b"].tolist(), strict=True)])
    assert torch.allclose(p.double(), expected.double(), atol=1e-6)  # every agent gets its own answer
    assert decisions.usage[-1].prompts == 6  # 3 groups x 2 situations, against 600 x 2 per agent


def test_attributes_keep_the_spec_and_ask_nothing() -> None:
    table = agents()
    model = ScriptedModel(planted)
    learned = learn_grouping("attributes", model, spec(), table, CANDIDATES, personas(table))
    assert learned.spec == spec()
    assert (learned.probe_prompts, model.queries) == (0, 0)
    assert learned.report(table)["groups_present"] == 4


def test_bad_requests_say_what_to_fix() -> None:
    table = agents()
    with pytest.raises(ValueError, match="unknown grouping 'kmeans'"):
        learn_grouping("kmeans", ScriptedModel(planted), spec(), table, CANDIDATES, personas(table))
    with pytest.raises(ValueError, match="probe_agents must be between 4"):
        learn_grouping("auto", ScriptedModel(planted), spec(), table, CANDIDATES, personas(table), probe_agents=2)
    by_field = PromptTemplate.parse("version: x@1\noptions: yes, no\n---\nYou are {a}. {weather}")
    with pytest.raises(ValueError, match=r"through the template's \{description\} field"):
        learn_grouping("clusters", ScriptedModel(planted), DecisionSpec(by_field, (CANDIDATES[0],), (WEATHER,)),
                       table, CANDIDATES, personas(table))
