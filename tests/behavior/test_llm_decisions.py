"""LLMDecisions with the scripted backend: groups, broadcast answers, calls per step, routes, offsets and gradients."""

import math

import pandas as pd
import pytest
import torch
from llm_behavior_fixtures import five_borough_population, hashed_yes

from populace.behavior import GO_TO_WORK, ISOLATE, DecisionError, DecisionSpec, LLMDecisions, Route, decide
from populace.behavior.archetypes import AGE_LEVELS, SYMPTOM_LEVELS, borough_levels
from populace.behavior.templates import PromptTemplate, TemplateError
from populace.core.world import World
from populace.llm import ScriptedModel

N = 2000


@pytest.fixture(scope="module")
def people():
    return five_borough_population(N, seed=1)


def situation_of(agents, *, seed=0):
    """Symptoms for ~10% of agents; per-region incidence and growth that cross the default bin edges."""
    gen = torch.Generator().manual_seed(seed)
    region = agents.region.long()
    incidence = torch.tensor([0.0, 12.0, 60.0, 250.0, 49.9])[region]
    growth = torch.tensor([-0.5, 0.0, 0.3, 0.3, -0.1])[region]
    return {"is_symptomatic": (torch.rand(agents.n, generator=gen) < 0.1).float(),
            "incidence_per_100k": incidence, "case_growth": growth}


def expected_groups(agents, situation) -> pd.DataFrame:
    """Each agent's archetype and situation levels, computed here from the definitions (not the module's code)."""
    age = agents.age.numpy()
    telework = [s >= 0.4 for s in (0.111, 0.172, 0.303, 0.165, 0.165, 0.140, 0.533, 0.574, 0.534, 0.259, 0.088,
                                   0.277, 0.298)]
    industry = agents.industry.numpy()
    work = [0 if not e else (2 if ind < 13 and telework[ind] else 1)
            for e, ind in zip(agents.is_employed.numpy(), industry, strict=True)]
    incidence = situation["incidence_per_100k"].numpy()
    growth = situation["case_growth"].numpy()
    return pd.DataFrame({
        "age": pd.cut(age, [-1, 17, 29, 49, 64, 200], labels=False),
        "region": agents.region.numpy(), "work": work,
        "symptoms": (situation["is_symptomatic"].numpy() >= 0.5).astype(int),
        "cases": pd.cut(incidence, [-1, 10 - 1e-9, 50 - 1e-9, 200 - 1e-9, 1e9], labels=False),
        "trend": [0 if g < -0.2 else (1 if g < 0.2 else 2) for g in growth],
    })


def test_one_prompt_per_distinct_pair_and_each_agent_gets_its_answer(people):
    agents = people.agents
    situation = situation_of(agents)
    scripted = ScriptedModel(hashed_yes)
    llm = LLMDecisions(scripted, region_labels=people.manifest["codes"]["region"])
    world = World.of(agents, seed=1, step=7)
    p = llm.probability(ISOLATE, world, situation)

    frame = expected_groups(agents, situation)
    n_pairs = len(frame.drop_duplicates())
    assert (scripted.calls, scripted.queries) == (1, n_pairs)  # one batch; one query per distinct pair
    assert len({q.prompt for q in scripted.asked}) == n_pairs

    assignment = llm.assign(ISOLATE, world, situation)
    sizes = frame.groupby(list(frame.columns)).size().sort_values().to_numpy()
    assert sorted(assignment.counts().tolist()) == sizes.tolist()  # the same groups, of the same sizes

    # every agent gets exactly the scripted answer to the prompt describing its own archetype and situation
    prompts = [llm.prompt(ISOLATE, int(pair)) for pair in assignment.pairs]
    answer = torch.tensor([hashed_yes(q)[0] for q in scripted.asked], dtype=torch.float32)
    assert [q.prompt for q in scripted.asked] == prompts
    assert torch.allclose(p, answer[assignment.group], atol=1e-6)
    labels = ["aged under 18", "aged 18 to 29", "aged 30 to 49", "aged 50 to 64", "aged 65 or older"]
    for i in (0, 1, 777, N - 1):
        prompt = prompts[int(assignment.group[i])]
        assert labels[frame.age[i]] in prompt
        assert f"living in region {int(agents.region[i])}" in prompt
        assert ("You have symptoms" in prompt) == bool(frame.symptoms[i])

    row = llm.usage[-1]
    assert (row.step, row.decision, row.agents, row.prompts, row.calls, row.cache_hits) == (7, ISOLATE, N, n_pairs,
                                                                                         n_pairs, 0)
    assert row.archetypes == len(frame[["age", "region", "work"]].drop_duplicates())
    assert row.prompt_tokens == sum(len(q.split()) for q in prompts)  # the scripted backend: one token per word
    assert row.completion_tokens == n_pairs


def test_go_to_work_asks_only_employed_agents_who_do_not_isolate(people):
    agents = people.agents
    isolating = torch.arange(N) % 5 == 0
    scripted = ScriptedModel(hashed_yes)
    llm = LLMDecisions(scripted, region_labels=people.manifest["codes"]["region"])
    situation = {"work_from_home_fraction": torch.full((N,), 0.3), "is_isolating": isolating}
    p = llm.probability(GO_TO_WORK, World.of(agents, seed=1), situation)
    asked = agents.is_employed.bool() & ~isolating
    assert torch.all(p[~asked] == 0)
    assert bool((p[asked] > 0.04).all())
    assert llm.usage[-1].agents == int(asked.sum())
    assert all("Employers are asked to let some staff" in q.prompt and "not in work" not in q.prompt
               for q in scripted.asked)


def test_routes_send_groups_to_their_own_backend(people):
    agents = people.agents
    situation = situation_of(agents)
    young = ScriptedModel(lambda q: (0.2, 0.8), model="young")
    old = ScriptedModel(lambda q: (0.9, 0.1), model="old")
    llm = LLMDecisions(young, routes=[Route("age", {"aged 65 or older"}, old)],
                       region_labels=people.manifest["codes"]["region"])
    p = llm.probability(ISOLATE, World.of(agents, seed=1), situation)
    is_old = agents.age >= 65
    assert torch.allclose(p[is_old], torch.tensor(0.9))
    assert torch.allclose(p[~is_old], torch.tensor(0.2))
    assert all("aged 65 or older" in q.prompt for q in old.asked)
    assert not any("aged 65 or older" in q.prompt for q in young.asked)
    assert {(u.model, u.agents) for u in llm.usage} == {("old", int(is_old.sum())), ("young", int((~is_old).sum()))}


def test_fast_and_differentiable_modes_make_the_same_decisions(people):
    agents = people.agents
    situation = situation_of(agents)
    llm = LLMDecisions(ScriptedModel(hashed_yes), region_labels=people.manifest["codes"]["region"])
    with torch.no_grad():
        llm.logit_offset[ISOLATE].copy_(torch.linspace(-1, 1, llm.logit_offset[ISOLATE].numel()))
        fast = decide(llm, ISOLATE, World.of(agents, seed=3, step=14), situation)
    smooth = decide(llm, ISOLATE, World.of(agents, seed=3, step=14, differentiable=True), situation)
    assert fast.dtype == torch.bool
    assert smooth.dtype == torch.float32
    assert torch.equal(fast.float(), smooth.detach())
    assert 0.1 < fast.float().mean() < 0.9  # decisions of both kinds, so the comparison means something
    smooth.sum().backward()
    touched = torch.unique(llm.assign(ISOLATE, World.of(agents), situation).archetypes)
    grad = llm.logit_offset[ISOLATE].grad
    assert bool((grad[touched] != 0).all())
    assert int((grad != 0).sum()) == touched.numel()


def test_offset_gradient_matches_finite_differences(people):
    agents = people.agents.take(torch.arange(300))
    situation = {k: v[:300] for k, v in situation_of(people.agents).items()}
    llm = LLMDecisions(ScriptedModel(hashed_yes), region_labels=people.manifest["codes"]["region"]).double()
    weights = torch.randn(300, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    world = World.of(agents, seed=1)
    offset = llm.logit_offset[ISOLATE]
    with torch.no_grad():
        offset.copy_(torch.randn(offset.numel(), generator=torch.Generator().manual_seed(6), dtype=torch.float64))

    def loss() -> torch.Tensor:  # a smooth function of the offsets: sum_i w_i p_i
        return (weights * llm.probability(ISOLATE, world, situation)).sum()

    loss().backward()
    h = 1e-6
    for cell in torch.unique(llm.assign(ISOLATE, world, situation).archetypes)[:8].tolist():
        with torch.no_grad():
            offset[cell] += h
            up = float(loss())
            offset[cell] -= 2 * h
            down = float(loss())
            offset[cell] += h
        assert offset.grad[cell].item() == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


def test_an_offset_moves_the_answer_by_its_logit(people):
    agents = people.agents
    llm = LLMDecisions(ScriptedModel(lambda q: (0.25, 0.75)), region_labels=people.manifest["codes"]["region"])
    with torch.no_grad():
        llm.logit_offset[ISOLATE].fill_(math.log(3))  # odds 1/3 x 3 = 1
    p = llm.probability(ISOLATE, World.of(agents), situation_of(agents))
    assert torch.allclose(p, torch.tensor(0.5))


def test_bad_decisions_specs_and_routes_are_refused(people):
    agents = people.agents
    llm = LLMDecisions(ScriptedModel(hashed_yes), region_labels=people.manifest["codes"]["region"])
    with pytest.raises(DecisionError, match="makes no decision 'vaccinate'"):
        llm.probability("vaccinate", World.of(agents), {})
    with pytest.raises(KeyError, match="reads 'incidence_per_100k', which is neither a situation feature"):
        llm.probability(ISOLATE, World.of(agents), {"is_symptomatic": torch.zeros(N), "case_growth": torch.zeros(N)})
    with pytest.raises(TypeError, match=r"must be a populace\.llm LanguageModel"):
        LLMDecisions(lambda q: 0.5)
    with pytest.raises(ValueError, match="names the archetype attribute 'sex'"):
        LLMDecisions(ScriptedModel(hashed_yes), routes=[Route("sex", {"female"}, ScriptedModel(hashed_yes))])
    with pytest.raises(ValueError, match=r"names the label\(s\) \['aged 70 or older'\]"):
        LLMDecisions(ScriptedModel(hashed_yes), routes=[Route("age", "aged 70 or older", ScriptedModel(hashed_yes))])
    no_symptoms = PromptTemplate.parse("version: t@1\noptions: yes, no\nyes: yes\n---\nYou are {description}. Isolate?")
    with pytest.raises(TemplateError, match=r"does not use the field\(s\) \['symptoms'\]"):
        DecisionSpec(no_symptoms, (AGE_LEVELS,), (SYMPTOM_LEVELS,))
    typo = PromptTemplate.parse("version: t@1\noptions: yes, no\nyes: yes\n---\n{description} {symptom} {symptoms}")
    with pytest.raises(TemplateError, match=r"uses the field\(s\) \['symptom'\]"):
        DecisionSpec(typo, (AGE_LEVELS, borough_levels()), (SYMPTOM_LEVELS,))
    with pytest.raises(ValueError, match="p_not_asked must be a probability"):
        DecisionSpec(builtin_isolate(), (AGE_LEVELS,), (SYMPTOM_LEVELS,), p_not_asked=2)


def builtin_isolate() -> PromptTemplate:
    return PromptTemplate.parse("version: t@1\noptions: yes, no\nyes: yes\n---\n{description}: {symptoms}")


def test_usage_totals_price_the_tokens(people):
    agents = people.agents
    llm = LLMDecisions(ScriptedModel(hashed_yes), region_labels=people.manifest["codes"]["region"],
                       price_per_token=(2e-6, 1e-5))
    llm.probability(ISOLATE, World.of(agents), situation_of(agents))
    llm.probability(ISOLATE, World.of(agents, step=7), situation_of(agents, seed=1))
    totals = llm.usage_totals()
    words = sum(len(q.prompt.split()) for q in llm.model.asked)  # scripted: a token per word, one per answer
    assert (totals["decision_steps"], totals["prompt_tokens"]) == (2, words)
    assert totals["cost"] == pytest.approx(2e-6 * words + 1e-5 * len(llm.model.asked))
    with pytest.raises(ValueError, match="price_per_token must be"):
        LLMDecisions(ScriptedModel(hashed_yes), price_per_token=(-1.0, 0.0))
