r"""The feed of every active user: `FeedSettings` and `build_feed`.

For active user i (rows [A]): C candidates drawn uniformly among all posts so far, of which the recommender
(`populace.models.social.recommender`) keeps the best `n_recommended`; then `n_followee_samples` of its followees
drawn uniformly (with repetition) from its row of the follow graph, whose latest posts are ranked by likes and the
best `n_in_network` kept (the in-network part; a followee without a post adds nothing). The feed is the two parts
side by side, [A, n_recommended + n_in_network] post ids, with a mask of the valid entries. Then the user reads one
valid entry drawn uniformly: its target. Every draw is counter-based, keyed on the user.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from populace.core.world import World
from populace.models.social.graph import FollowGraph
from populace.models.social.recommender import (
    Recommender,
    cosine,
    hot_score,
    recency,
    similarity_scores,
    top_candidates,
)

POSTS = "posts"
FOLLOWS = "follows"


@dataclasses.dataclass(frozen=True)
class FeedSettings:
    """Sizes of the feed (module docstring) and the clock of the hot score.

    Attributes:
        n_candidates: C, posts sampled per active user for the recommender.
        n_recommended: recommended posts kept in the feed.
        n_followee_samples: followees sampled per active user for the in-network part.
        n_in_network: in-network posts kept (the most liked of the sampled followees' latest posts).
        chunk_users: active users per batched product (memory ~ chunk x C x D floats).
        seconds_per_step: the hot score's clock: step t is start_seconds + t * seconds_per_step.
        start_seconds: epoch seconds of step 0 (default the hot score's epoch, so step 0 scores 0 for time).
    """

    n_candidates: int = 32
    n_recommended: int = 5
    n_followee_samples: int = 8
    n_in_network: int = 2
    chunk_users: int = 16384
    seconds_per_step: float = 3600.0
    start_seconds: float = 1134028003.0

    def __post_init__(self) -> None:
        for name in ("n_candidates", "n_recommended", "chunk_users"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("n_followee_samples", "n_in_network"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if not self.seconds_per_step > 0:
            raise ValueError(f"seconds_per_step must be > 0, got {self.seconds_per_step}")

    @property
    def size(self) -> int:
        """Most entries of a feed: n_recommended + n_in_network."""
        return self.n_recommended + self.n_in_network


@dataclasses.dataclass(frozen=True)
class Feed:
    """The feeds of the active users.

    Attributes:
        rows: int64 [A], the active users.
        posts: int64 [A, F], post ids (any value where not `valid`).
        valid: bool [A, F].
        cosine: float [A, F], cos(e_user, e_post) (0 where not valid).
        target: int64 [A], the post each user reads.
        target_cosine: float [A].
    """

    rows: Tensor
    posts: Tensor
    valid: Tensor
    cosine: Tensor
    target: Tensor
    target_cosine: Tensor

    @property
    def mean_cosine(self) -> Tensor:
        """float [A]: the mean cosine of each feed's valid entries."""
        return (self.cosine * self.valid).sum(1) / self.valid.sum(1).clamp(min=1)


def build_feed(world: World, rows: Tensor, user_embedding: Tensor, recommender: Recommender,
               settings: FeedSettings) -> Feed:
    """The feeds and targets of users `rows` whose vectors are `user_embedding` [A, D] (module docstring)."""
    posts = world.table(POSTS)
    n_posts = posts.n
    r = recency(torch.arange(world.step + 1))[world.step - posts.created]  # [P]: r(p), from one value per age
    in_network, network_valid = followee_posts(world, rows, settings)
    draws = world.uniform("social/candidates", rows=rows, n=settings.n_candidates)
    candidates = (draws * n_posts).long().clamp(max=n_posts - 1)  # [A, C]
    hot = None
    if recommender is Recommender.HOT:
        seconds = settings.start_seconds + posts.created.double() * settings.seconds_per_step
        hot = hot_score(posts.likes, posts.dislikes, seconds)  # [P]
    chosen, cosines = [], []
    for start in range(0, rows.numel(), settings.chunk_users):
        part = slice(start, start + settings.chunk_users)
        cand, user = candidates[part], user_embedding[part]
        if recommender is Recommender.SIMILARITY:
            scores = similarity_scores(user, posts.embedding[cand], r[cand])
            best = cand.gather(1, top_candidates(scores, settings.n_recommended))
        elif recommender is Recommender.HOT:
            best = cand.gather(1, top_candidates(hot[cand], settings.n_recommended))
        else:
            best = cand[:, :settings.n_recommended]
        feed = torch.cat([best, in_network[part]], dim=1)
        chosen.append(feed)
        cosines.append(cosine(user, posts.embedding[feed]))
    feed = torch.cat(chosen) if chosen else torch.zeros(0, settings.size, dtype=torch.int64)
    valid = torch.cat([torch.ones(rows.numel(), feed.shape[1] - network_valid.shape[1], dtype=torch.bool),
                       network_valid], dim=1)
    cosines = (torch.cat(cosines) if cosines else torch.zeros(0, settings.size)) * valid
    pick = pick_valid(valid, world.uniform("social/attend", rows=rows))
    at = torch.arange(rows.numel())
    return Feed(rows=rows, posts=feed, valid=valid, cosine=cosines, target=feed[at, pick],
                target_cosine=cosines[at, pick])


def followee_posts(world: World, rows: Tensor, settings: FeedSettings) -> tuple[Tensor, Tensor]:
    """([A, m] post ids, [A, m] valid): the most liked latest posts of sampled followees (module docstring)."""
    m = min(settings.n_in_network, settings.n_followee_samples)
    graph = FollowGraph(world.agents.n, world.table(FOLLOWS).key)
    if m == 0 or graph.n_edges == 0:
        return torch.zeros(rows.numel(), 0, dtype=torch.int64), torch.zeros(rows.numel(), 0, dtype=torch.bool)
    crow = graph.crow()
    start, degree = crow[rows], crow[rows + 1] - crow[rows]  # [A]
    draws = world.uniform("social/followees", rows=rows, n=settings.n_followee_samples)
    at = (start.unsqueeze(1) + (draws * degree.unsqueeze(1)).long()).clamp(max=graph.n_edges - 1)
    followee = graph.keys[at] % graph.n_users  # [A, S]
    post = world.agents.last_post[followee].long()  # [A, S], -1: none
    has = (degree.unsqueeze(1) > 0) & (post >= 0)
    likes = torch.where(has, world.table(POSTS).likes[post.clamp(min=0)].long(), -1)
    best = likes.topk(m, dim=1)
    return post.gather(1, best.indices).clamp(min=0), best.values >= 0


def pick_valid(valid: Tensor, u: Tensor) -> Tensor:
    """int64 [A]: the position of the floor(u n_i)-th valid entry of each row (n_i valid entries, >= 1)."""
    count = valid.sum(1)
    wanted = (u * count).long().clamp(max=(count - 1).clamp(min=0)) + 1  # 1-based rank among the valid
    rank = valid.long().cumsum(1)
    return ((rank == wanted.unsqueeze(1)) & valid).long().argmax(1)
