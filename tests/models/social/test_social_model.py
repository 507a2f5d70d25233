"""The social-media model: the heuristic's probabilities by hand, conservation of posts, likes and follows, cascades
stored as the tree says, the same run for the same seed, and polarization by recommender."""

import math

import pytest
import torch

from populace.models.social import ACTIONS, Action, HeuristicActions, SocialMedia, synthetic_follows, synthetic_users
from populace.models.social.graph import FollowGraph
from populace.models.social.metrics import tree_levels


def test_heuristic_probabilities_by_hand():
    policy = HeuristicActions({"like": (-1.0, 2.0, 0.5, 0.8)})
    situation = {"active": torch.tensor([True, False]), "similarity": torch.tensor([0.5, 0.5]),
                 "popularity": torch.tensor([math.log(3), 0.0]), "shown_score": torch.tensor([2.0, 0.0]),
                 "feed_similarity": torch.tensor([0.4, 0.0])}
    probs = policy.probabilities("act", None, situation)
    logits = [-0.9,                                                    # post
              -2.6 + 2.0 * 0.5 + 0.3 * math.log(3) + 0.3 * math.tanh(1),  # repost
              -1.0 + 2.0 * 0.5 + 0.5 * math.log(3) + 0.8 * math.tanh(1),  # like
              -2.4 - 2.0 * 0.5 - 0.8 * math.tanh(1),                       # dislike
              -2.6 + 1.5 * 0.5 + 0.2 * math.log(3),                        # follow
              -2.2 + 1.0 * 0.5 + 0.2 * math.log(3), 0.0]                   # comment, nothing
    expected = torch.softmax(torch.tensor(logits), dim=0)
    assert probs[0].tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    assert probs[1].tolist() == [0.0] * 6 + [1.0]  # not active: nothing


def test_unknown_weights_are_refused():
    with pytest.raises(ValueError, match=r"unknown action\(s\) \['share'\]"):
        HeuristicActions({"share": (0.0, 0.0, 0.0, 0.0)})


@pytest.fixture(scope="module")
def run():
    users = synthetic_users(800, seed=4)
    graph = synthetic_follows(800, 8, seed=4)
    model = SocialMedia(users, graph, HeuristicActions(), n_seed_posts=60)
    return model, graph, model.run(12, seed=9, progress=False)


def test_actions_conserve_posts_likes_and_follows(run):
    _model, graph, trajectory = run
    world = trajectory.final_world
    posts = world.table("posts")
    done = trajectory["actions"][1:].sum(0)  # [K] over the 12 steps
    assert done.sum().item() > 100  # users were active
    assert posts.n == 60 + done[Action.POST] + done[Action.REPOST]
    seeded = posts.initial_score
    assert posts.likes.sum().item() == done[Action.LIKE] + (seeded > 0).sum().item()
    assert posts.dislikes.sum().item() == done[Action.DISLIKE] + (seeded < 0).sum().item()
    assert posts.comments.sum().item() == done[Action.COMMENT]
    assert posts.reposts.sum().item() == (posts.parent >= 0).sum().item() == done[Action.REPOST]
    assert world.table("follows").n == graph.n_edges + trajectory["new_follows"][1:].sum().item()
    assert 0 < trajectory["new_follows"][1:].sum().item() <= done[Action.FOLLOW]
    assert trajectory["posts"][-1].item() == posts.n


def test_stored_cascades_are_the_tree_of_the_reposts(run):
    _model, _, trajectory = run
    posts = trajectory.final_world.table("posts")
    root, depth = tree_levels(posts.parent)
    assert torch.equal(root, posts.root.long())
    assert torch.equal(depth, posts.depth.long())
    in_seed_cascades = (posts.root < 60).sum().item()
    assert trajectory["cascade_size"][-1].item() == pytest.approx(in_seed_cascades / 60)
    assert trajectory["cascade_depth"][-1].item() == depth[posts.root < 60].max().item()


def test_the_same_seed_gives_the_same_run(run):
    model, _, trajectory = run
    again = model.run(12, seed=9, progress=False)
    assert torch.equal(again["actions"], trajectory["actions"])
    assert torch.equal(again.final_world.agents.stance, trajectory.final_world.agents.stance)
    assert not torch.equal(model.run(12, seed=10, progress=False)["actions"], trajectory["actions"])


def test_similarity_feeds_polarize_more_than_random_ones():
    users, graph = synthetic_users(2000, seed=1), synthetic_follows(2000, 10, seed=1)
    bimodality = {}
    for recommender in ("similarity", "random"):
        model = SocialMedia(users, graph, HeuristicActions(), recommender=recommender)
        bimodality[recommender] = model.run(25, seed=1, progress=False)["stance_bimodality"][-1].item()
    assert bimodality["similarity"] > bimodality["random"] + 0.01


def test_graph_and_users_must_match():
    with pytest.raises(ValueError, match="the follow graph has 5 users but users has 8"):
        SocialMedia(synthetic_users(8, seed=1), FollowGraph.from_edges(torch.tensor([0]), torch.tensor([1]), 5),
                    HeuristicActions())
    with pytest.raises(ValueError, match="recommender must be one of"):
        SocialMedia(synthetic_users(8, seed=1), synthetic_follows(8, 2, seed=1), HeuristicActions(),
                    recommender="chronological")
    assert ACTIONS[-1] == "nothing"


def test_herd_score_is_the_mean_score_change_by_initial_score(run):
    _model, _, trajectory = run
    posts = trajectory.final_world.table("posts")
    seeds = slice(0, 60)
    change = (posts.likes[seeds] - posts.dislikes[seeds] - posts.initial_score[seeds]).float()
    initial = posts.initial_score[seeds]
    assert initial[:6].tolist() == [1, 0, -1, 1, 0, -1]  # +1, 0, -1 in turn: 20 posts each
    expected = [change[initial == score].mean().item() for score in (1, 0, -1)]
    assert trajectory["herd_score"][-1].tolist() == pytest.approx(expected)
