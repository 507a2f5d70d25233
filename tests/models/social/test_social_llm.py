"""Language-model users: one prompt per archetype cell present, answers broadcast to the cell's users, users not
active not asked, cached answers reused."""

import pytest
import torch

from populace.llm import AnswerCache, ScriptedModel, make_model
from populace.models.social import Action, SocialMedia, synthetic_follows, synthetic_users
from populace.models.social.llm_agents import ArchetypeLLMActions


def likes_in_sports(query):
    """Sports fans like everything; everyone else does nothing."""
    return (0, 0, 1, 0, 0, 0, 0) if "most interested in sports" in query.prompt else (0, 0, 0, 0, 0, 0, 1)


def test_answers_are_broadcast_to_each_cell_and_prompts_counted():
    prompts = []
    model = ScriptedModel(lambda q: prompts.append(q.prompt) or likes_in_sports(q))
    policy = ArchetypeLLMActions(model)
    users = synthetic_users(400, seed=1)
    social = SocialMedia(users, synthetic_follows(400, 5, seed=1), policy, n_seed_posts=30)
    trajectory = social.run(3, seed=2, progress=False)
    usage = policy.usage_frame()
    assert len(usage) == 3
    assert usage.prompts.sum() == len(prompts) <= 3 * 8 * 3 * 4
    assert usage.prompts.max() < usage.agents.max()  # fewer prompts than users asked
    assert usage.agents.sum() == trajectory["actions"][1:, :].sum().item()  # every active user, and only they
    liked = trajectory["actions"][1:, Action.LIKE].sum().item()
    others = trajectory["actions"][1:].sum().item() - liked - trajectory["actions"][1:, Action.NOTHING].sum().item()
    assert others == 0
    assert liked > 0
    assert "You are a social media user, most interested in sports." in "\n".join(prompts)
    assert "Answer with one word: post" in prompts[0]


def test_cached_answers_are_not_asked_again(tmp_path):
    calls = []
    users, graph = synthetic_users(300, seed=1), synthetic_follows(300, 5, seed=1)
    totals = []
    for _ in range(2):
        model = make_model("scripted", cache=AnswerCache(tmp_path / "answers.sqlite"),
                           answers=lambda q: calls.append(q) or (1 / 7,) * 7)
        policy = ArchetypeLLMActions(model)
        SocialMedia(users, graph, policy, n_seed_posts=20).run(2, seed=2, progress=False)
        totals.append(policy.usage_totals())
    assert totals[0]["calls"] == len(calls) > 0
    assert totals[1]["calls"] == 0
    assert totals[1]["cache_hits"] == totals[1]["prompts"] == totals[0]["prompts"]


def test_probabilities_of_users_not_active_are_nothing():
    policy = ArchetypeLLMActions(ScriptedModel(lambda q: (1, 0, 0, 0, 0, 0, 0)))
    social = SocialMedia(synthetic_users(50, seed=1), synthetic_follows(50, 3, seed=1), policy)
    world = social.initial_world(seed=1)
    feed = social.read(world, social.activate(world))
    situation = social.situation(world, feed)
    probs = policy.probabilities("act", world, situation)
    active = situation["active"]
    assert probs[active, Action.POST].tolist() == pytest.approx([1.0] * int(active.sum()), abs=1e-5)  # 1e-6 clips
    assert probs[~active, Action.NOTHING].tolist() == [1.0] * int((~active).sum())
    assert torch.allclose(probs.sum(1), torch.ones(50, dtype=probs.dtype))
