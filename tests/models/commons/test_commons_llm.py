"""Language-model harvesters: prompts in the scenario's words, answers broadcast per archetype cell, per-agent
prompts with names and a discussion, the cache, collapsed groups not asked, gradients to the logit offsets, and
bad answers logged rather than crashing."""

import pandas as pd
import pytest
import torch

from populace.cli import main
from populace.llm import AnswerCache, ScriptedModel, make_model
from populace.models.commons import Commons, CommonsRules, Greedy, WithNewcomer
from populace.models.commons.llm_agents import HARVEST, ArchetypeLLMPolicy
from populace.models.commons.prompts import PERSONAS, Variant
from populace.models.commons.reproduction import IndividualLLMPolicy
from populace.models.commons.scenarios import HARVEST_OPTIONS, SCENARIOS, option_amounts

RULES = CommonsRules()
SELFISH = PERSONAS[1]  # "... your own income this month"


def by_persona(query):
    """Selfish personas answer "huge", the others "medium"."""
    return (0, 0, 0, 0, 1) if SELFISH in query.prompt else (0, 0, 1, 0, 0)


def personas(groups: int, seats: int = 5) -> torch.Tensor:
    return (torch.arange(seats) % len(PERSONAS)).repeat(groups)


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
        return (0, 1, 0, 0, 0) if "propose" in query.prompt else (0, 0, 1, 0, 0)

    policy = IndividualLLMPolicy(ScriptedModel(answers), SCENARIOS["fishery"], RULES, variant=Variant(discussion=True))
    Commons(1, policy, RULES).run(1, seed=0, progress=False)
    assert len(prompts) == 10  # 5 proposals, then 5 harvests
    assert '"I propose that each of us takes 5 tons of fish."' in prompts[-1]
    assert [row["name"] for row in policy.transcript] == ["John", "Kate", "Jack", "Emma", "Luke"]
    assert policy.usage_frame().decision.tolist() == ["propose", "harvest"]


def test_a_newcomer_beside_language_model_residents_is_seen_by_them():
    prompts = []
    model = ScriptedModel(lambda q: prompts.append(q.prompt) or (0, 0, 1, 0, 0))
    rules = CommonsRules(newcomer_month=2)
    policy = WithNewcomer(IndividualLLMPolicy(model, SCENARIOS["fishery"], rules), Greedy(30))
    Commons(1, policy, rules).run(3, seed=0, progress=False)
    month_three = next(p for p in prompts[-6:] if p.startswith("You are John"))
    assert "Mia took 30 tons of fish" in month_three  # the greedy newcomer (seat 5) joined in month 2


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
                 "--llm-backend", "scripted", "--llm-cache", str(tmp_path / "cache.sqlite"), "--seeds", "1",
                 "--months", "2", "--out", str(out), "--no-progress"]) == 0
    discussion = pd.read_parquet(out / "discussion.parquet")
    assert len(discussion) == 10
    assert set(discussion.month) == {1, 2}


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
