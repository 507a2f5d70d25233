"""Language-model strategies: texts written and deduplicated, donations asked per (strategy, trace bucket) and
broadcast, the per-agent mode equal to the archetype mode where their answers agree, inheritance by rewriting,
bad texts and answers handled."""

import pytest
import torch

from populace.llm import ScriptedModel
from populace.models.cooperation import Cooperation, DonorGameRules
from populace.models.cooperation.llm_strategies import DEFAULT_STRATEGY, PERSONAS, LLMDonors, StrategyBook

RULES = DonorGameRules(generations=2)
GIVER = "My strategy will be to give all I have to everyone."
MISER = "My strategy will be to give nothing to anyone."


def writer(query):
    """The selfish persona writes the miser's strategy, the others the giver's; newcomers copy their elders'."""
    if "did well" in query.prompt:
        return MISER if MISER in query.prompt else GIVER
    return MISER if PERSONAS[0] in query.prompt else GIVER


def by_strategy(query):
    """Misers give nothing, givers everything."""
    return (1, 0, 0, 0, 0) if MISER in query.prompt else (0, 0, 0, 0, 1)


def model(answers=by_strategy, texts=writer):
    return ScriptedModel(answers, texts=texts)


def test_the_book_deduplicates_and_merges_past_its_size():
    book = StrategyBook(max_strategies=2)
    assert book.add("Give half.") == 0
    assert book.add("  give   HALF. ") == 0
    assert book.add("Never give anything at all.") == 1
    assert book.add("give half always") == 0  # full: the nearest text by shared words
    assert (len(book), book.merged) == (2, 1)


def test_donations_follow_each_strategy_by_hand():
    # A_j (seats 0..5) hold the giver's strategy (persona 1), B_j (seats 6..11) the miser's (persona 0)
    assignment = torch.tensor([1] * 6 + [0] * 6)
    donors = LLMDonors(model(), RULES)
    game = Cooperation(1, rules=RULES, assignment=assignment, donors=donors)
    trajectory = game.run(2, seed=0, progress=False)
    resources = trajectory.final_world.agents.resources
    # round 0: each A_j gives its 10 to B_j (B_j: 30); round 1: misers B give nothing
    assert resources.tolist() == [0.0] * 6 + [30.0] * 6
    assert donors.book.texts[:2] == [MISER, GIVER]


def test_calls_grow_with_strategies_and_trace_buckets_not_agents():
    prompts = {}
    for societies in (20, 400):
        donors = LLMDonors(model(), RULES)
        Cooperation(societies, rules=RULES, donors=donors).run(RULES.rounds, seed=4, progress=False)
        usage = donors.usage_frame()
        prompts[societies] = usage[usage.decision == "donate"].prompts.tolist()
        assert max(prompts[societies]) <= len(donors.book) * (len(donors.options) + 1) ** donors.trace_levels
    # 20 times the donors (2,400 a round), hardly more prompts: the cells present, not the agents
    assert sum(prompts[400]) <= 1.2 * sum(prompts[20])


def test_per_agent_mode_equals_the_archetype_mode_when_their_answers_agree():
    def first_entry(query):  # depends on the strategy and the recipient's last gift only
        giver = GIVER in query.prompt
        stingy = "Your recipient gave 0%" in query.prompt
        return (0, 0, 1, 0, 0) if giver and stingy else (0, 0.5, 0, 0, 0.5) if giver else (1, 0, 0, 0, 0)

    runs = {}
    for per_agent in (False, True):
        donors = LLMDonors(model(answers=first_entry), RULES, per_agent=per_agent, trace_levels=1)
        runs[per_agent] = Cooperation(3, rules=RULES, donors=donors).run(RULES.rounds, seed=9, progress=False)
    assert torch.equal(runs[False]["mean_resources"], runs[True]["mean_resources"])
    assert torch.equal(runs[False].final_world.agents.resources, runs[True].final_world.agents.resources)


def test_newcomers_rewrite_their_parents_strategy():
    written = []

    def texts(query):
        written.append(query.prompt)
        return writer(query)

    donors = LLMDonors(model(texts=texts), RULES)
    Cooperation(10, rules=RULES, donors=donors).run(RULES.steps, seed=2, progress=False)
    rewrites = [p for p in written if "did well" in p]
    assert rewrites  # the second generation's newcomers wrote from their parents' texts
    usage = donors.usage_frame()
    write_rows = usage[usage.decision == "write"]
    assert write_rows.agents.tolist()[1] == 10 * 6  # every newcomer of every society
    assert write_rows.prompts.tolist()[1] <= 2 * len(PERSONAS)  # distinct (parent, persona) pairs only
    assert len(donors.book) == len(PERSONAS)  # the rewrites are the two texts already there


def test_an_empty_text_keeps_the_parents_strategy_and_is_counted():
    donors = LLMDonors(model(texts=lambda q: "" if "did well" in q.prompt or PERSONAS[3] in q.prompt else GIVER),
                       RULES)
    Cooperation(4, rules=RULES, donors=donors).run(RULES.steps, seed=1, progress=False)
    assert donors.book.texts[3] == DEFAULT_STRATEGY  # persona 3 wrote nothing
    assert donors.fallbacks == 1 + 4 * 6  # that persona, then every newcomer


def test_answers_off_the_options_are_uniform_and_punishment_is_an_option():
    rules = DonorGameRules(generations=1, punishment=True)
    donors = LLMDonors(model(answers=lambda q: (0,) * 6), rules)  # no mass on any option: uniform
    trajectory = Cooperation(50, rules=rules, donors=donors).run(rules.rounds, seed=0, progress=False)
    assert donors.options[-1] == "punish"
    assert trajectory["punished"].sum() > 0
    assert (trajectory.final_world.agents.resources >= 0).all()


def test_language_model_strategies_refuse_differentiable_mode_and_models_that_cannot_write():
    donors = LLMDonors(model(), RULES)
    with pytest.raises(ValueError, match="fast mode only"):
        Cooperation(1, rules=RULES, donors=donors).run(1, seed=0, differentiable=True, progress=False)
    class AnswersOnly:
        backend, model = "answers-only", "test"

        def settings(self):
            return {}

        def answer(self, queries):
            return ScriptedModel(by_strategy).answer(queries)

    with pytest.raises(TypeError, match="complete"):
        LLMDonors(AnswersOnly(), RULES)
