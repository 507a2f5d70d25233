"""Language-model harvesters: prompts in the scenario's words, answers broadcast per archetype cell, per-agent
prompts with names and a discussion, the cache, collapsed groups not asked, gradients to the logit offsets, and
bad answers logged rather than crashing."""

import hashlib
import json

import pandas as pd
import pytest
import torch

from populace.behavior import decide
from populace.cli import main
from populace.llm import AnswerCache, ScriptedModel, make_model
from populace.models.commons import GROUPS, Commons, CommonsRules, Greedy, WithNewcomer
from populace.models.commons.llm_agents import HARVEST, ArchetypeLLMPolicy, others_codes, trend_codes
from populace.models.commons.prompts import PERSONAS, Variant, persona_codes
from populace.models.commons.reproduction import IndividualLLMPolicy
from populace.models.commons.scenarios import HARVEST_OPTIONS, SCENARIOS, option_amounts

RULES = CommonsRules()
SELFISH = PERSONAS[1]  # "... your own income this month"


def by_persona(query):
    """Selfish personas answer "huge", the others "medium"."""
    return (0, 0, 0, 0, 1) if SELFISH in query.prompt else (0, 0, 1, 0, 0)


def personas(groups: int) -> torch.Tensor:
    return persona_codes(groups, 5)


def month_two(commons: Commons, seed: int = 3):
    """A world in month 2 whose three groups differ: pools 100, 60, 30 (shares 10, 6, 3), the first and third not
    shrunk and the second shrunk since month 1, and varied catches in the first."""
    world = commons.initial_world(seed=seed).advance(1)
    catch = torch.tensor([[10.0, 20.0, 10.0, 10.0, 0.0], [8.0] * 5, [3.0] * 5]).reshape(-1)
    world = world.update({"catch": catch.to(world.agents.catch.dtype)})
    groups = {"resource": torch.tensor([100.0, 60.0, 30.0]), "after_harvest": torch.tensor([50.0, 30.0, 15.0])}
    return world.update({k: v.to(world.table(GROUPS).resource.dtype) for k, v in groups.items()}, table=GROUPS)


def test_option_amounts_are_multiples_of_the_sustainable_share_capped_by_the_pool():
    share, pool = torch.tensor([10.0, 3.0, 1.0]), torch.tensor([100.0, 30.0, 3.0])
    assert option_amounts(share, pool).tolist() == [[0, 5, 10, 20, 40], [0, 1, 3, 6, 12], [0, 0, 1, 2, 3]]


def test_the_archetype_prompt_names_the_scenario_the_amounts_and_the_variant():
    prompts = []
    model = ScriptedModel(lambda q: prompts.append(q.prompt) or (0, 0, 1, 0, 0))
    for variant in (Variant(), Variant(universalization=True), Variant(communication=False)):
        policy = ArchetypeLLMPolicy(model, SCENARIOS["pasture"], RULES, variant=variant)
        Commons(1, policy, RULES).run(2, seed=0, progress=False)
    basic, universal, silent = prompts[-6], prompts[-4], prompts[-1]  # month 1 of each: 1 persona, 2 months
    assert "shepherd" in basic
    assert "The pasture holds 100 hectares of grass" in basic
    assert "none (0 hectares of grass), small (5 hectares of grass), medium (10 hectares of grass)" in basic
    assert "If everyone takes more than" not in basic
    assert "If everyone takes more than 10 hectares of grass this month, the pasture will hold less" in universal
    assert "as much as you" in prompts[-5]  # month 2 with communication: the others took as much
    assert "You do not know how much the others took." in silent


def test_answers_are_broadcast_to_every_agent_of_the_archetype():
    model = ScriptedModel(by_persona)
    policy = ArchetypeLLMPolicy(model, SCENARIOS["fishery"], RULES)
    commons = Commons(200, policy, RULES, persona=personas(200))
    world = commons.initial_world(seed=3)
    requests = policy.requests(commons.view(world), world)
    assert requests.shape == (200, 5)
    assert (requests == torch.tensor([10.0, 40.0, 10.0, 10.0, 40.0])).all()  # seats 1 and 4 are selfish
    usage = policy.decisions.usage_frame()
    assert usage.prompts.tolist() == [3]
    assert usage.agents.tolist() == [1000]


def test_each_group_gets_the_amounts_of_its_own_share():
    policy = ArchetypeLLMPolicy(ScriptedModel(by_persona), SCENARIOS["fishery"], RULES)
    commons = Commons(3, policy, RULES, persona=personas(3))
    world = month_two(commons)
    requests = policy.requests(commons.view(world), world)
    assert requests.tolist() == [[10, 40, 10, 10, 40], [6, 24, 6, 6, 24], [3, 12, 3, 3, 12]]  # f, and 4f if selfish


def test_trend_and_what_the_others_took_by_hand():
    commons = Commons(3, ArchetypeLLMPolicy(ScriptedModel(by_persona), SCENARIOS["fishery"], RULES), RULES)
    world = month_two(commons)
    view = commons.view(world)
    # the pools a month ago: 50 + 50, 30 + 40, 15 + 15; now 100 (as much), 60 (less), 30 (as much)
    assert trend_codes(view, world).tolist() == [2, 1, 2]
    # group 0 took 10, 20, 10, 10, 0: the others' mean is 10 (as much as 10), 7.5 (less than 20), 12.5 (more than 0)
    assert others_codes(view, RULES)[0].tolist() == [2, 3, 2, 2, 1]
    assert others_codes(view, RULES)[1].tolist() == [2] * 5


def test_cached_answers_cost_no_call_on_a_second_run(tmp_path):
    cache = AnswerCache(tmp_path / "answers.sqlite")
    for calls_expected in ("some", "none"):
        model = make_model("scripted", cache=cache, answers=by_persona)
        policy = ArchetypeLLMPolicy(model, SCENARIOS["fishery"], RULES)
        Commons(50, policy, RULES, persona=personas(50)).run(12, seed=1, progress=False)
        calls = policy.decisions.usage_totals()["calls"]
        assert (calls > 0) if calls_expected == "some" else (calls == 0)


def test_collapsed_groups_are_not_asked():
    greedy = ScriptedModel(lambda q: (0, 0, 0, 0, 1))  # 5 x 40 of 100: rationed to empty, collapsed
    policy = ArchetypeLLMPolicy(greedy, SCENARIOS["fishery"], RULES)
    trajectory = Commons(20, policy, RULES).run(3, seed=0, progress=False)
    assert trajectory["alive"][-1].sum() == 0
    assert policy.decisions.usage_frame().agents.tolist() == [100, 0, 0]


def test_the_same_seed_gives_the_same_harvests():
    def run(seed):
        model = ScriptedModel(lambda q: (0.1, 0.2, 0.4, 0.2, 0.1))
        policy = ArchetypeLLMPolicy(model, SCENARIOS["pollution"], RULES)
        return Commons(30, policy, RULES, persona=personas(30)).run(6, seed=seed, progress=False)

    first, again, other = run(5), run(5), run(6)
    assert torch.equal(first["harvest"], again["harvest"])
    assert not torch.equal(first["harvest"], other["harvest"])


def test_gradients_reach_the_persona_logit_offsets():
    model = ScriptedModel(lambda q: (0.1, 0.2, 0.4, 0.2, 0.1))
    policy = ArchetypeLLMPolicy(model, SCENARIOS["fishery"], RULES)
    commons = Commons(40, policy, RULES, persona=personas(40), dtype=torch.float64)
    trajectory = commons.run(4, seed=0, differentiable=True, progress=False)
    trajectory["harvest"].sum().backward()
    grad = policy.decisions.logit_offset[HARVEST].grad
    assert grad.shape == (len(PERSONAS), len(HARVEST_OPTIONS) - 1)
    assert torch.isfinite(grad).all()
    assert grad.abs().sum() > 0


def test_answers_off_the_options_fall_back_to_uniform_and_are_logged():
    lost = ScriptedModel(lambda q: (0, 0, 0, 0, 0))  # no probability on any option
    policy = ArchetypeLLMPolicy(lost, SCENARIOS["fishery"], RULES)
    trajectory = Commons(100, policy, RULES).run(2, seed=0, progress=False)
    assert trajectory["harvest"].shape == (3, 100)
    assert policy.decisions.usage_frame().option_mass_mean.tolist()[0] == 0.0
    first_month = trajectory["harvest"][1]  # uniform over 0, 5, 10, 20, 40 per agent: mean 75 asked
    assert 40 < float(first_month.mean()) < 100


def test_per_agent_prompts_name_each_agent_and_what_the_others_took():
    prompts = []
    model = ScriptedModel(lambda q: prompts.append(q.prompt) or (0, 0, 1, 0, 0))
    policy = IndividualLLMPolicy(model, SCENARIOS["fishery"], RULES)
    trajectory = Commons(2, policy, RULES).run(2, seed=0, progress=False)
    assert trajectory["harvest"][1:].tolist() == [[50.0, 50.0], [50.0, 50.0]]
    assert len(prompts) == 2 * 2 * 5  # months x groups x agents
    kate = next(p for p in prompts[10:] if p.startswith("You are Kate"))
    assert "the other members are John, Jack, Emma, Luke" in kate
    assert "Last month you took 10 tons of fish; John took 10 tons of fish, Jack took 10 tons of fish" in kate


def test_a_discussion_shows_every_proposal_to_the_group():
    prompts = []

    def answers(query):
        prompts.append(query.prompt)
        return (0, 1, 0, 0, 0) if "How much do you propose" in query.prompt else (0, 0, 0, 1, 0)

    policy = IndividualLLMPolicy(ScriptedModel(answers), SCENARIOS["fishery"], RULES, variant=Variant(discussion=True))
    trajectory = Commons(1, policy, RULES).run(1, seed=0, progress=False)
    assert len(prompts) == 10  # 5 proposals, then 5 harvests
    assert trajectory["harvest"][1].tolist() == [100.0]  # each proposes 5 and asks for "large", 20
    assert '"I propose that each of us takes 5 tons of fish."' in prompts[-1]
    assert [row["name"] for row in policy.transcript] == ["John", "Kate", "Jack", "Emma", "Luke"]
    assert policy.usage_frame().decision.tolist() == ["propose", "harvest"]


def test_a_newcomer_beside_language_model_residents_is_seen_by_them():
    prompts = []
    model = ScriptedModel(lambda q: prompts.append(q.prompt) or (0, 0, 1, 0, 0))
    rules = CommonsRules(newcomer_month=2)
    policy = WithNewcomer(IndividualLLMPolicy(model, SCENARIOS["fishery"], rules), Greedy(30))
    Commons(1, policy, rules).run(3, seed=0, progress=False)
    assert len(prompts) == 3 * 5  # the newcomer (seat 5, Mia) is greedy, never asked
    month_three = prompts[10]
    assert month_three.startswith("You are John")
    assert "the other members are Kate, Jack, Emma, Luke, Mia" in month_three
    assert "Mia took 30 tons of fish" in month_three  # joined in month 2


def test_run_commons_with_language_model_agents_writes_the_usage_log(tmp_path, capsys):
    out = tmp_path / "llm"
    assert main(["run", "commons", "--groups", "20", "--behavior", "heuristic", "llm", "--llm-backend",
                 "scripted", "--llm-cache", str(tmp_path / "cache.sqlite"), "--universalization", "--seeds", "2",
                 "--months", "3", "--out", str(out), "--no-progress"]) == 0
    assert "LLM behaviour:" in capsys.readouterr().out
    runs = pd.read_parquet(out / "runs.parquet")
    assert set(runs.behaviour) == {"sustainable", "llm (universalization)"}
    steps = pd.read_parquet(out / "llm_steps.parquet")
    assert steps.step.tolist() == [0, 1, 2, 0, 1, 2]  # two seeds of three months
    assert (out / "llm_usage.json").exists()


def test_run_commons_per_agent_with_a_discussion_writes_it(tmp_path):
    out = tmp_path / "govsim"
    assert main(["run", "commons", "--groups", "1", "--behavior", "llm", "--per-agent", "--discussion",
                 "--llm-backend", "scripted", "--llm-cache", str(tmp_path / "cache.sqlite"), "--seeds", "2",
                 "--months", "2", "--out", str(out), "--no-progress"]) == 0
    discussion = pd.read_parquet(out / "discussion.parquet")
    assert set(discussion.seed) == {1, 2}
    assert (discussion.groupby(["seed", "month"]).size() == 5).all()  # one message per agent (of a group alive)
    steps = pd.read_parquet(out / "llm_steps.parquet")
    assert set(steps.seed) == {1, 2}
    usage = json.loads((out / "llm_usage.json").read_text())
    assert usage["totals"]["decision_steps"] == len(steps) > 4  # each seed's (month, question): not merged


def test_per_agent_requests_are_the_same_in_both_modes():
    model = ScriptedModel(lambda q: (0.1, 0.2, 0.4, 0.2, 0.1))
    policy = IndividualLLMPolicy(model, SCENARIOS["fishery"], RULES)
    commons = Commons(4, policy, RULES, dtype=torch.float64)
    fast, relaxed = (commons.initial_world(seed=2, differentiable=mode) for mode in (False, True))
    assert torch.equal(policy.requests(commons.view(fast), fast), policy.requests(commons.view(relaxed), relaxed))


def test_a_spent_budget_stops_the_run_cleanly(tmp_path):
    out = tmp_path / "budget"
    with pytest.raises(SystemExit, match="rerunning the same command resumes"):
        main(["run", "commons", "--groups", "50", "--behavior", "llm", "--llm-backend", "scripted", "--llm-cache",
              str(tmp_path / "cache.sqlite"), "--llm-max-calls", "1", "--out", str(out), "--no-progress"])
    assert (out / "llm_steps.parquet").exists()


def test_language_model_flags_need_behavior_llm(tmp_path, capsys):
    assert main(["run", "commons", "--universalization", "--out", str(tmp_path)]) == 2
    assert "--universalization only apply to --behavior llm" in capsys.readouterr().err
    assert main(["run", "commons", "--llm-max-calls", "3", "--out", str(tmp_path)]) == 2
    assert "--llm-max-calls only apply to --behavior llm" in capsys.readouterr().err
    assert main(["run", "commons", "--behavior", "llm", "--discussion", "--llm-backend", "scripted",
                 "--out", str(tmp_path)]) == 2
    assert "--discussion needs --per-agent" in capsys.readouterr().err


def test_free_text_answers_are_parsed_for_their_first_number():
    replies = iter(["I will take 12 tons.", "10", "Maybe 1,000 tons!", "I do not know.", "8 or 9"])

    def texts(query):
        return next(replies)

    policy = IndividualLLMPolicy(ScriptedModel(texts=texts), SCENARIOS["fishery"], RULES, free_text=True)
    commons = Commons(1, policy, RULES)
    world = commons.initial_world(seed=0)
    requests = policy.requests(commons.view(world), world)
    assert requests.tolist() == [[12.0, 10.0, 100.0, 0.0, 8.0]]  # capped at the pool; no number: nothing
    assert policy.fallbacks == 1
    assert "Answer with the number of tons of fish you take." in policy.model.asked[0].prompt


def test_a_free_text_discussion_shows_each_sentence_to_the_group():
    def texts(query):
        return "Let us each take 10." if "in one sentence" in query.prompt else "10"

    policy = IndividualLLMPolicy(ScriptedModel(texts=texts), SCENARIOS["fishery"], RULES,
                                 variant=Variant(discussion=True), free_text=True)
    trajectory = Commons(1, policy, RULES).run(1, seed=0, progress=False)
    assert trajectory["harvest"][1].tolist() == [50.0]
    assert policy.transcript[0]["message"] == "Let us each take 10."
    assert 'Kate: "Let us each take 10."' in policy.model.asked[-1].prompt


def test_run_commons_free_text_counts_answers_without_a_number(tmp_path, capsys):
    out = tmp_path / "words"
    assert main(["run", "commons", "--groups", "1", "--behavior", "llm", "--per-agent", "--free-text",
                 "--llm-backend", "scripted", "--llm-cache", str(tmp_path / "cache.sqlite"), "--seeds", "1",
                 "--months", "2", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "free-text answers without a number (asked for nothing): 10" in printed  # the placeholder has none
    assert set(pd.read_parquet(out / "runs.parquet").behaviour) == {"llm (basic, per agent, free text)"}
    assert main(["run", "commons", "--behavior", "llm", "--free-text", "--llm-backend", "scripted",
                 "--out", str(tmp_path / "x")]) == 2
    assert "--free-text needs --per-agent" in capsys.readouterr().err


def per_agent_situation(view, world, rules, variant):
    """The archetype situation as every agent sees it, [G * S] features (how the policy asked before it binned
    per group): the reference for the policy's pair keys and draws."""
    seats = view.active.shape[1]
    features = {name: value.repeat_interleave(seats).float() for name, value in
                (("pool", view.resource.detach()), ("share", view.sustainable_share),
                 ("trend", trend_codes(view, world)))}
    features["asked"] = view.asked.reshape(-1)
    features["others"] = (others_codes(view, rules) if variant.communication else
                          torch.zeros(view.active.shape)).reshape(-1).float()
    return features


class PerAgentReference(ArchetypeLLMPolicy):
    """The same policy through the generic path: `decide` on the per-agent situation, one [G * S, K] gather."""

    def requests(self, view, world):
        draws = decide(self.decisions, HARVEST, world, per_agent_situation(view, world, self.rules, self.variant))
        amounts = option_amounts(view.sustainable_share, view.resource).repeat_interleave(view.active.shape[1], 0)
        chosen = (draws * amounts).sum(1) if draws.is_floating_point() else amounts.gather(1, draws[:, None])[:, 0]
        return chosen.reshape(view.active.shape).to(view.resource.dtype)


def varied(query):
    """Probabilities that differ from prompt to prompt (a hash of it), none zero."""
    weights = [1 + b for b in hashlib.sha256(query.prompt.encode()).digest()[:5]]
    return tuple(w / sum(weights) for w in weights)


@pytest.mark.parametrize(("variant", "newcomer"), [(Variant(), False), (Variant(communication=False), False),
                                                   (Variant(universalization=True), True)])
def test_per_group_keys_and_table_draws_give_the_per_agent_paths_trajectories(variant, newcomer):
    rules = CommonsRules(newcomer_month=3) if newcomer else RULES
    runs = []
    for policy_type in (ArchetypeLLMPolicy, PerAgentReference):
        policy = policy_type(ScriptedModel(varied), SCENARIOS["fishery"], rules, variant=variant)
        harvesters = WithNewcomer(policy, Greedy(20)) if newcomer else policy
        commons = Commons(400, harvesters, rules, persona=persona_codes(400, rules.seats))
        runs.append((commons.run(rules.months, seed=7, progress=False), policy.decisions.usage_frame()))
    (fast, fast_usage), (reference, reference_usage) = runs
    assert fast["alive"][-1].float().mean() < 1  # some groups collapse: the not-asked row is drawn from too
    for name in ("resource", "after_harvest", "harvest", "positive_catches", "over_catches", "alive"):
        assert torch.equal(fast[name], reference[name]), name
    assert fast_usage.drop(columns="seconds").equals(reference_usage.drop(columns="seconds"))


def test_the_policys_pair_keys_are_the_decision_models():
    policy = ArchetypeLLMPolicy(ScriptedModel(by_persona), SCENARIOS["fishery"], RULES)
    commons = Commons(3, policy, RULES, persona=personas(3))
    world = month_two(commons)
    world = world.update({"alive": torch.tensor([True, False, True])}, table=GROUPS)
    view = commons.view(world)
    keys, n_pairs = policy.decisions.pair_keys(HARVEST, world, per_agent_situation(view, world, RULES, Variant()))
    assert policy.pair_keys(view, world).tolist() == keys.tolist()
    assert keys.tolist()[5:10] == [n_pairs] * 5  # the collapsed group is not asked


def test_differentiable_requests_are_the_per_agent_paths():
    model = ScriptedModel(varied)
    fast, reference = (kind(model, SCENARIOS["fishery"], RULES) for kind in (ArchetypeLLMPolicy, PerAgentReference))
    commons = Commons(20, fast, RULES, persona=personas(20), dtype=torch.float64)
    world = commons.initial_world(seed=3, differentiable=True)
    view = commons.view(world)
    assert torch.equal(fast.requests(view, world), reference.requests(view, world))
