"""LLMDecisions with the scripted backend: groups, broadcast answers, calls per step, routes, offsets and gradients."""

import math

import pandas as pd
import pytest
import torch
from llm_behavior_fixtures import five_borough_population, hashed_yes

from populace.behavior import DecisionError, DecisionSpec, LLMDecisions, Route, archetypes, chosen, decide
from populace.behavior.archetypes import Levels
from populace.behavior.templates import PromptTemplate, TemplateError
from populace.core.world import World
from populace.llm import ScriptedModel
from populace.models.covid_nyc.archetypes import AGE_LEVELS, SYMPTOM_LEVELS, borough_levels, covid_decisions
from populace.models.covid_nyc.decisions import GO_TO_WORK, ISOLATE

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
    llm = LLMDecisions(scripted, covid_decisions(people.manifest["codes"]["region"]))
    world = World.of(agents, seed=1, step=7)
    p = llm.probabilities(ISOLATE, world, situation)[:, 0]  # P(yes)

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
    llm = LLMDecisions(scripted, covid_decisions(people.manifest["codes"]["region"]))
    situation = {"work_from_home_fraction": torch.full((N,), 0.3), "is_isolating": isolating}
    p = llm.probabilities(GO_TO_WORK, World.of(agents, seed=1), situation)[:, 0]  # P(yes)
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
    llm = LLMDecisions(young, covid_decisions(people.manifest["codes"]["region"]),
                       routes=[Route("age", {"aged 65 or older"}, old)])
    p = llm.probabilities(ISOLATE, World.of(agents, seed=1), situation)[:, 0]  # P(yes)
    is_old = agents.age >= 65
    assert torch.allclose(p[is_old], torch.tensor(0.9))
    assert torch.allclose(p[~is_old], torch.tensor(0.2))
    assert all("aged 65 or older" in q.prompt for q in old.asked)
    assert not any("aged 65 or older" in q.prompt for q in young.asked)
    assert {(u.model, u.agents) for u in llm.usage} == {("old", int(is_old.sum())), ("young", int((~is_old).sum()))}


def test_fast_and_differentiable_modes_make_the_same_decisions(people):
    agents = people.agents
    situation = situation_of(agents)
    llm = LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(people.manifest["codes"]["region"]))
    with torch.no_grad():
        llm.logit_offset[ISOLATE].copy_(torch.linspace(-1, 1, llm.logit_offset[ISOLATE].numel()))
        fast = chosen(decide(llm, ISOLATE, World.of(agents, seed=3, step=14), situation), 0)
    smooth = chosen(decide(llm, ISOLATE, World.of(agents, seed=3, step=14, differentiable=True), situation), 0)
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
    llm = LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(people.manifest["codes"]["region"])).double()
    weights = torch.randn(300, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    world = World.of(agents, seed=1)
    offset = llm.logit_offset[ISOLATE]
    with torch.no_grad():
        offset.copy_(torch.randn(offset.numel(), generator=torch.Generator().manual_seed(6), dtype=torch.float64))

    def loss() -> torch.Tensor:  # a smooth function of the offsets: sum_i w_i p_i
        return (weights * llm.probabilities(ISOLATE, world, situation)[:, 0]).sum()

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
    llm = LLMDecisions(ScriptedModel(lambda q: (0.25, 0.75)), covid_decisions(people.manifest["codes"]["region"]))
    with torch.no_grad():
        llm.logit_offset[ISOLATE].fill_(math.log(3))  # odds 1/3 x 3 = 1
    p = llm.probabilities(ISOLATE, World.of(agents), situation_of(agents))[:, 0]  # P(yes)
    assert torch.allclose(p, torch.tensor(0.5))


def test_bad_decisions_specs_and_routes_are_refused(people):
    agents = people.agents
    llm = LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(people.manifest["codes"]["region"]))
    with pytest.raises(DecisionError, match="makes no decision 'vaccinate'"):
        llm.probabilities("vaccinate", World.of(agents), {})
    with pytest.raises(KeyError, match="reads 'incidence_per_100k', which is neither a situation feature"):
        llm.probabilities(ISOLATE, World.of(agents), {"is_symptomatic": torch.zeros(N), "case_growth": torch.zeros(N)})
    with pytest.raises(TypeError, match=r"must be a populace\.llm LanguageModel"):
        LLMDecisions(lambda q: 0.5, covid_decisions())
    with pytest.raises(ValueError, match="names the archetype attribute 'sex'"):
        LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(),
                     routes=[Route("sex", {"female"}, ScriptedModel(hashed_yes))])
    with pytest.raises(ValueError, match=r"names the label\(s\) \['aged 70 or older'\]"):
        LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(),
                     routes=[Route("age", "aged 70 or older", ScriptedModel(hashed_yes))])
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
    llm = LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(people.manifest["codes"]["region"]),
                       price_per_token=(2e-6, 1e-5))
    llm.probabilities(ISOLATE, World.of(agents), situation_of(agents))
    llm.probabilities(ISOLATE, World.of(agents, step=7), situation_of(agents, seed=1))
    totals = llm.usage_totals()
    words = sum(len(q.prompt.split()) for q in llm.model.asked)  # scripted: a token per word, one per answer
    assert (totals["decision_steps"], totals["prompt_tokens"]) == (2, words)
    assert totals["cost"] == pytest.approx(2e-6 * words + 1e-5 * len(llm.model.asked))
    with pytest.raises(ValueError, match="price_per_token must be"):
        LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(), price_per_token=(-1.0, 0.0))


def test_cached_levels_give_the_same_probabilities_as_a_fresh_computation(people):
    """A long-lived LLMDecisions reuses the levels of unchanged columns (age, region) from step to step; after agents
    change employment (a new column) or age in place, its answers equal those of a fresh LLMDecisions."""
    agents = people.agents.with_columns(age=people.agents.age.clone())  # changed in place below
    kept = LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(people.manifest["codes"]["region"]))
    with torch.no_grad():
        kept.logit_offset[ISOLATE].copy_(torch.linspace(-2, 2, kept.logit_offset[ISOLATE].numel()))
    gen = torch.Generator().manual_seed(8)
    for week in range(4):
        if week == 1:  # a tenth of the agents lose or find a job: is_employed is a new tensor
            agents = agents.with_columns(is_employed=agents.is_employed ^ (torch.rand(N, generator=gen) < 0.1))
        if week == 3:  # an in-place change of a column the cache holds: seen through its version counter
            agents["age"].add_(20)
        world = World.of(agents, seed=1, step=7 * week)
        situation = situation_of(agents, seed=week)
        work = {"work_from_home_fraction": torch.full((N,), 0.3), "is_isolating": torch.rand(N, generator=gen) < 0.2}
        fresh = LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(people.manifest["codes"]["region"]))
        fresh.load_state_dict(kept.state_dict())
        for decision, seen in ((ISOLATE, situation), (GO_TO_WORK, work)):
            assert torch.equal(kept.probabilities(decision, world, seen), fresh.probabilities(decision, world, seen))
        if week == 1:
            assert len(kept._key_cache) > 0
    expected = expected_groups(agents, situation)  # the aged agents' prompts name their new age band
    assignment = kept.assign(ISOLATE, World.of(agents), situation)
    oldest = int(agents.age.argmax())
    assert ["aged under 18", "aged 18 to 29", "aged 30 to 49", "aged 50 to 64",
            "aged 65 or older"][expected.age[oldest]] in kept.prompt(ISOLATE, int(assignment.pairs[
                assignment.group[oldest]]))


def test_a_function_attribute_is_computed_again_only_when_the_columns_it_reads_change(people):
    agents = people.agents
    calls = []

    def age_band(columns):
        calls.append(1)
        return columns["age"] // 40

    band = Levels.codes("band", age_band, ["young", "middle", "old"], reads=("age",))
    template = PromptTemplate.parse("version: t@1\noptions: yes, no\nyes: yes\n---\n{description}: {symptoms}")
    llm = LLMDecisions(ScriptedModel(hashed_yes), {ISOLATE: DecisionSpec(template, (band,), (SYMPTOM_LEVELS,))})
    situation = situation_of(agents)
    first = llm.probabilities(ISOLATE, World.of(agents), situation)
    assert torch.equal(llm.probabilities(ISOLATE, World.of(agents, step=7), situation), first)
    assert len(calls) == 1  # age unchanged: its bands came from the cache
    halved = agents.with_columns(age=agents.age // 2)
    llm.probabilities(ISOLATE, World.of(halved, step=14), situation)
    assert len(calls) == 2


def test_numpy_and_torch_key_paths_give_the_same_answers(people, monkeypatch):
    """On the CPU the keys are NumPy arrays; the PyTorch path (other devices) gives the same p and gradients."""
    agents = people.agents
    situation = situation_of(agents)
    work = {"work_from_home_fraction": torch.tensor(0.6).expand(N), "is_isolating": torch.arange(N) % 3 == 0}
    results = []
    for numpy_on_cpu in (True, False):
        monkeypatch.setattr(archetypes, "NUMPY_ON_CPU", numpy_on_cpu)
        llm = LLMDecisions(ScriptedModel(hashed_yes), covid_decisions(people.manifest["codes"]["region"]))
        with torch.no_grad():
            llm.logit_offset[GO_TO_WORK].copy_(torch.linspace(-1, 1, llm.logit_offset[GO_TO_WORK].numel()))
        world = World.of(agents, seed=2, differentiable=True)
        p = llm.probabilities(ISOLATE, world, situation)[:, 0], llm.probabilities(GO_TO_WORK, world, work)[:, 0]
        (p[0].sum() + (p[1] * torch.linspace(0, 1, N)).sum()).backward()
        results.append((p, [llm.logit_offset[d].grad for d in (ISOLATE, GO_TO_WORK)], llm.model.asked))
    (p_np, grad_np, asked_np), (p_torch, grad_torch, asked_torch) = results
    assert all(torch.equal(a, b) for a, b in zip(p_np + tuple(grad_np), p_torch + tuple(grad_torch), strict=True))
    assert [q.prompt for q in asked_np] == [q.prompt for q in asked_torch]
    assert bool((grad_np[1] != 0).any())
