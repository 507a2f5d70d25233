"""LLMDecisions on a decision that is not COVID's: three options, its own persona, archetypes and situation, with the
scripted backend; offsets per option against hand-computed softmaxes and finite differences; both modes draw alike."""

import math

import pytest
import torch

from populace.behavior import DecisionSpec, Levels, LLMDecisions, PromptTemplate, chosen, decide
from populace.core import AgentTable, World
from populace.llm import ScriptedModel

TEMPLATE = PromptTemplate.parse("""version: harvest@1
options: low, medium, high
---
You are {description}. {stock}
How much will you fish this season? Answer low, medium or high.""", name="harvest.txt")
BOAT = Levels.codes("boat", "boat", ["with a rowing boat", "with a trawler"])
STOCK = Levels.bins("stock", "stock", (0.5,), ("The lake is nearly fished out.", "The lake is full of fish."))
N = 400


def answers(query):
    """Fishers with trawlers on a full lake lean high; everyone on an empty lake leans low."""
    full, trawler = "full of fish" in query.prompt, "trawler" in query.prompt
    return (0.1, 0.3, 0.6) if full and trawler else (0.2, 0.5, 0.3) if full else (0.7, 0.2, 0.1)


def lake(n=N, *, seed=0, step=0, differentiable=False):
    ids = torch.arange(n)
    agents = AgentTable({"boat": (ids % 2).to(torch.uint8), "licensed": ids % 5 != 0})
    world = World.of(agents, seed=seed, step=step, differentiable=differentiable)
    return world, {"stock": (ids % 4 >= 2).float()}  # agents 2, 3 mod 4 see a full lake


def harvest(scripted, **spec):
    spec = {"person": "a fisher on the lake", **spec}
    return LLMDecisions(scripted, {"harvest": DecisionSpec(TEMPLATE, (BOAT,), (STOCK,), **spec)})


def expected(world, situation):
    """Each agent's scripted answer, from its own columns (not the module's code)."""
    full = situation["stock"] >= 0.5
    trawler = world.agents.boat == 1
    table = {(True, True): (0.1, 0.3, 0.6), (True, False): (0.2, 0.5, 0.3)}
    return torch.tensor([table.get((bool(f), bool(t)), (0.7, 0.2, 0.1)) for f, t in zip(full, trawler, strict=True)])


def test_each_agent_gets_the_three_option_answer_to_its_own_prompt():
    scripted = ScriptedModel(answers)
    llm = harvest(scripted)
    world, situation = lake()
    probs = llm.probabilities("harvest", world, situation)
    assert llm.decisions == {"harvest": ("low", "medium", "high")}
    assert probs.shape == (N, 3)
    torch.testing.assert_close(probs, expected(world, situation))
    assert scripted.queries == 4  # 2 boats x 2 stock levels
    prompts = sorted(q.prompt for q in scripted.asked)
    assert prompts[0].startswith("You are a fisher on the lake, with a rowing boat. The lake is full of fish.")
    assert all(q.options == ("low", "medium", "high") for q in scripted.asked)
    assert "New York" not in " ".join(prompts)


def test_offsets_shift_each_option_against_the_last():
    # P_k = softmax_k(log q_k + delta_k), delta_high = 0: a trawler on a full lake with delta = (log 2, log 3):
    # weights (0.2, 0.9, 0.6) / 1.7
    llm = harvest(ScriptedModel(answers))
    assert llm.logit_offset["harvest"].shape == (2, 2)  # [archetypes, K - 1]
    with torch.no_grad():
        llm.logit_offset["harvest"][1] = torch.tensor([math.log(2), math.log(3)])
    world, situation = lake()
    probs = llm.probabilities("harvest", world, situation)
    trawler_full = (world.agents.boat == 1) & (situation["stock"] >= 0.5)
    torch.testing.assert_close(probs[trawler_full], torch.tensor([0.2, 0.9, 0.6]).expand(int(trawler_full.sum()), 3)
                               / 1.7)
    rowing = world.agents.boat == 0
    torch.testing.assert_close(probs[rowing], expected(world, situation)[rowing])  # no offset: the answers


def test_offset_gradients_match_finite_differences():
    llm = harvest(ScriptedModel(answers)).double()
    world, situation = lake(60)
    weights = torch.randn(60, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    offset = llm.logit_offset["harvest"]
    with torch.no_grad():
        offset.copy_(torch.tensor([[0.3, -0.5], [1.0, 0.2]], dtype=torch.float64))

    def loss():
        return (weights * llm.probabilities("harvest", world, situation)).sum()

    loss().backward()
    h = 1e-6
    for cell in ((0, 0), (0, 1), (1, 0), (1, 1)):
        with torch.no_grad():
            offset[cell] += h
            up = float(loss())
            offset[cell] -= 2 * h
            down = float(loss())
            offset[cell] += h
        assert float(offset.grad[cell]) == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


def test_agents_not_asked_get_their_given_probabilities_and_both_modes_draw_alike():
    llm = harvest(ScriptedModel(answers), ask_only={"licensed": True}, p_not_asked=(1.0, 0.0, 0.0))
    world, situation = lake(seed=3, step=7)
    probs = llm.probabilities("harvest", world, situation)
    unlicensed = ~world.agents.licensed
    assert torch.equal(probs[unlicensed], torch.tensor([1.0, 0.0, 0.0]).expand(int(unlicensed.sum()), 3))
    fast = decide(llm, "harvest", world, situation)
    smooth_world, _ = lake(seed=3, step=7, differentiable=True)
    smooth = decide(llm, "harvest", smooth_world, situation)
    assert torch.equal(smooth.detach(), torch.nn.functional.one_hot(fast, 3).float())
    assert bool(chosen(fast, 0)[unlicensed].all())  # fish low: the unlicensed only take what the law allows
    assert len(set(fast[~unlicensed].tolist())) == 3  # the others make all three choices
    smooth[:, 2].sum().backward()  # gradients reach the offsets of the archetypes asked
    assert bool((llm.logit_offset["harvest"].grad != 0).all())


@pytest.mark.parametrize(("spec", "match"), [
    ({"p_not_asked": 0.5}, r"p_not_asked must be 3 probabilities, one per option of \['low', 'medium', 'high'\]"),
    ({"p_not_asked": (0.5, 0.6, 0.0)}, "p_not_asked must be 3 probabilities in \\[0, 1\\] summing to 1"),
    ({"person": " "}, "person must be a non-empty description"),
])
def test_bad_specs_are_refused(spec, match):
    with pytest.raises(ValueError, match=match):
        harvest(ScriptedModel(answers), **spec)
