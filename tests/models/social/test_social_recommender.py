"""The recommender's scores against hand-computed values, and the feed's sizes and parts on a small world."""

import math

import pytest
import torch

from populace.models.social import FeedSettings, FollowGraph, HeuristicActions, SocialMedia, synthetic_users
from populace.models.social.feed import pick_valid
from populace.models.social.recommender import hot_score, recency, similarity_scores


def test_recency_is_one_at_age_zero_and_zero_near_172_steps():
    r = recency(torch.tensor([0.0, 71.8, 171.8, 300.0]))
    assert r[0].item() == pytest.approx(math.log(2.718))  # 0.99989
    assert r[1].item() == pytest.approx(math.log(2.0))
    assert r[2].item() == pytest.approx(0.0, abs=1e-6)
    assert r[3].item() == -math.inf  # past 271.8 steps: never shown


def test_similarity_score_is_cosine_times_recency():
    user = torch.tensor([[1.0, 0.0]])
    posts = torch.tensor([[[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]])
    scores = similarity_scores(user, posts, recency(torch.tensor([[0.0, 71.8, 0.0]])))
    assert scores[0].tolist() == pytest.approx([math.log(2.718), 0.6 * math.log(2.0), 0.0])


def test_hot_score_formula():
    epoch = 1134028003
    likes, dislikes = torch.tensor([10, 0, 3, 5]), torch.tensor([0, 100, 3, 6])
    seconds = torch.tensor([epoch + 45000, epoch, epoch + 90000, epoch - 45000])
    # sign(s) log10(max(|s|, 1)) + (t - epoch) / 45000: s = 10, -100, 0, -1
    assert hot_score(likes, dislikes, seconds).tolist() == pytest.approx([2.0, -2.0, 2.0, -1.0])


def test_pick_valid_takes_the_kth_valid_entry():
    valid = torch.tensor([[True, False, True, True], [False, False, True, False]])
    # row 0 has 3 valid entries (positions 0, 2, 3): u = 0.5 -> the 2nd; row 1 has one: position 2 whatever u
    assert pick_valid(valid, torch.tensor([0.5, 0.99])).tolist() == [2, 2]


def small_model(recommender: str = "similarity", n_users: int = 60) -> SocialMedia:
    users = synthetic_users(n_users, seed=3)
    follower = torch.arange(n_users)
    graph = FollowGraph.from_edges(torch.cat([follower, follower]), torch.cat([(follower + 1) % n_users,
                                                                               (follower + 2) % n_users]), n_users)
    feed = FeedSettings(n_candidates=6, n_recommended=3, n_followee_samples=4, n_in_network=2, chunk_users=7)
    return SocialMedia(users, graph, HeuristicActions(), recommender=recommender, feed=feed, n_seed_posts=n_users)


@pytest.mark.parametrize("recommender", ["similarity", "hot", "random"])
def test_feed_has_the_recommended_and_in_network_parts(recommender):
    model = small_model(recommender)
    world = model.initial_world(seed=5)  # every user wrote one seed post: its latest
    rows = model.activate(world)
    feed = model.read(world, rows)
    assert feed.posts.shape == (rows.numel(), 5)
    assert bool(feed.valid.all())  # each user follows two users who have posted
    authors = world.table("posts").author[feed.posts[:, 3:]].long()
    follows = (authors - rows.unsqueeze(1)) % 60
    assert set(follows.unique().tolist()) <= {1, 2}  # the in-network part comes from followees
    assert bool((feed.target.unsqueeze(1) == feed.posts).any(1).all())  # the target is in the feed


def test_similarity_feed_keeps_the_best_candidates():
    model = small_model("similarity")
    world = model.initial_world(seed=5)
    rows = model.activate(world)
    a, posts = world.agents, world.table("posts")
    draws = world.uniform("social/candidates", rows=rows, n=6)
    candidates = (draws * posts.n).long()
    user = model.vectors(a.embedding[rows], a.stance[rows])
    cosine = (posts.embedding[candidates] * user.unsqueeze(1)).sum(-1) * math.log(2.718)
    best = candidates.gather(1, cosine.topk(3, dim=1).indices)
    feed = model.read(world, rows)
    assert torch.equal(feed.posts[:, :3], best)


def test_a_users_feed_does_not_depend_on_who_else_is_active():
    model = small_model("similarity")
    world = model.initial_world(seed=5)
    everyone = torch.arange(60)
    some = torch.tensor([41, 3, 17])
    full = model.read(world, everyone)
    part = model.read(world, some)
    assert torch.equal(part.posts, full.posts[some])
    assert torch.equal(part.target, full.target[some])
