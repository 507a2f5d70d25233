r"""`SocialMedia`: an OASIS-style platform of N users, a follow graph and a growing table of posts, one step an hour.

State. Table "agents" (the users, `populace.models.social.users`): interest, embedding (float32 [N, D]),
activity, stance, last_post (int32: the user's latest post or repost, -1 for none). Table "posts" (P rows, grows):
author, created (step), likes, dislikes, reposts, comments (int32), root (the original post of a repost's cascade;
itself for an original), parent (the post reposted; -1), depth (0 for an original), stance (float: the side the
post takes), initial_score (int8: the score it was seeded with) and embedding (float32 [P, D + 1]). Table
"follows": the follow graph's sorted keys (`populace.models.social.graph`). The world starts with `n_seed_posts`
original posts by random users at step 0 (the seeds of the cascades), seeded with scores +1, 0, -1 in turn (one
like, none, one dislike: OASIS's herd-effect setting).

A user's vector is v_i = (e_i, gamma x_i) / |(e_i, gamma x_i)|, its interests and its stance x_i (gamma =
`stance_weight`); an original post carries its author's vector and stance, a repost those of the post reposted.

Each step (`forward`): `activate` (user i is active with probability activity_i), `read` (the feed and the target
post, `populace.models.social.feed`), `decide` (one of `ACTIONS` per active user through the policy, a
`DecisionModel`), `act`: a post adds an original post; a repost adds a post in the target's cascade (root, parent,
depth + 1) and counts on the target; like, dislike and comment count on the target; follow adds the edge user ->
target's author (if new and not oneself); like and repost move the stance towards the target's, x <- x + mu (x_p -
x), a dislike away from it, x <- x - mu (x_p - x), clipped to [-1, 1] (mu = `stance_step`).

Differentiable mode: the decisions are straight-through one-hot draws, so the counts of each action and the seed
cascades' mean size (`seed_reposts`, the env value behind the observable `cascade_size`) carry gradients to the
policy's parameters; the posts, the graph and the stances follow the hard draws.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from populace.behavior.interface import DecisionModel, decide
from populace.core import AgentTable, Model, World, rng
from populace.models.social.actions import ACT, ACTIONS, Action
from populace.models.social.feed import FOLLOWS, POSTS, Feed, FeedSettings, build_feed
from populace.models.social.graph import FollowGraph
from populace.models.social.metrics import HERD_SCORES, STANCE_BINS, bimodality, cascade_table, stance_histogram
from populace.models.social.recommender import Recommender
from populace.models.social.users import Users


class SocialMedia(Model):
    """N users on a platform (module docstring).

    Args:
        users: the users (`synthetic_users(n, seed=...)` or the caller's, checked).
        graph: the follow graph over the same N users (`FollowGraph.from_edges` or `synthetic_follows`).
        policy: a `DecisionModel` for the decision `ACT` (`HeuristicActions()`, `ArchetypeLLMActions(...)`).
        recommender: "similarity", "hot" or "random".
        feed: the feed's sizes (`FeedSettings`).
        n_seed_posts: original posts at step 0 (default N / 20, at least 1).
        stance_step: mu, how far a like, repost or dislike moves a stance.
        stance_weight: gamma, the weight of the stance in a user's and a post's vector.
    """

    observable_labels: ClassVar[dict[str, tuple[str, ...]]] = {
        "actions": ACTIONS, "herd_score": ("+1", "0", "-1"),
        "stance_histogram": tuple(f"{lo:.1f}" for lo in STANCE_BINS[:-1])}

    def __init__(self, users: Users, graph: FollowGraph, policy: DecisionModel, *,
                 recommender: Recommender | str = Recommender.SIMILARITY, feed: FeedSettings | None = None,
                 n_seed_posts: int | None = None, stance_step: float = 0.1, stance_weight: float = 2.0):
        super().__init__()
        if not isinstance(users, Users) or not isinstance(graph, FollowGraph):
            raise TypeError("users must be a Users and graph a FollowGraph (see populace.models.social)")
        if graph.n_users != users.n:
            raise ValueError(f"the follow graph has {graph.n_users} users but users has {users.n}; build both over "
                             "the same users 0..N-1")
        if not isinstance(policy, DecisionModel) or ACT not in policy.decisions:
            raise TypeError(f"policy must be a DecisionModel making the decision {ACT!r}, got {type(policy).__name__}")
        try:
            self.recommender = Recommender(recommender)
        except ValueError:
            raise ValueError(f"recommender must be one of {[r.value for r in Recommender]}, got "
                             f"{recommender!r}") from None
        n_seed_posts = max(1, users.n // 20) if n_seed_posts is None else n_seed_posts
        if isinstance(n_seed_posts, bool) or not isinstance(n_seed_posts, int) or n_seed_posts < 1:
            raise ValueError(f"n_seed_posts must be an int >= 1, got {n_seed_posts!r}")
        if not 0 <= stance_step <= 1 or not stance_weight >= 0:
            raise ValueError(f"stance_step must be in [0, 1] and stance_weight >= 0, got {stance_step}, "
                             f"{stance_weight}")
        self.users, self.graph, self.policy = users, graph, policy
        self.feed = feed or FeedSettings()
        self.n_seed_posts = n_seed_posts
        self.stance_step, self.stance_weight = float(stance_step), float(stance_weight)

    def extra_repr(self) -> str:
        return (f"users={self.users.n:,}, follows={self.graph.n_edges:,}, recommender={self.recommender.value}, "
                f"seed_posts={self.n_seed_posts:,}, encoder={self.users.encoder!r}")

    # ---- state ------------------------------------------------------------------------------------------

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        u, n = self.users, self.users.n
        author = rng.randint(seed, 0, "social/seed-authors", torch.arange(self.n_seed_posts), n).to(torch.int32)
        last_post = torch.full((n,), -1, dtype=torch.int32).index_put_((author.long(),), torch.arange(
            self.n_seed_posts, dtype=torch.int32))
        agents = AgentTable({"interest": u.interest, "embedding": u.embedding.float(), "activity": u.activity.float(),
                             "stance": u.stance.float(), "last_post": last_post})
        score = torch.tensor(HERD_SCORES, dtype=torch.int8).repeat(self.n_seed_posts // 3 + 1)[:self.n_seed_posts]
        ids = torch.arange(self.n_seed_posts, dtype=torch.int32)
        stance = agents.stance[author.long()]
        posts = post_table(ids, author, created=0, root=ids, parent=torch.full_like(ids, -1),
                           depth=torch.zeros_like(ids), stance=stance,
                           embedding=self.vectors(agents.embedding[author.long()], stance),
                           likes=(score > 0).int(), dislikes=(score < 0).int(), initial_score=score)
        env = {"actions": torch.zeros(len(ACTIONS)), "seed_reposts": torch.zeros(()), "new_follows": torch.zeros(())}
        follows = AgentTable({"key": self.graph.keys}, validate=False)
        return World(tables={"agents": agents, POSTS: posts, FOLLOWS: follows}, env=env, seed=seed,
                     differentiable=differentiable)

    def vectors(self, embedding: Tensor, stance: Tensor) -> Tensor:
        """v = (e, gamma x) / |(e, gamma x)|, float32 [M, D + 1] from embeddings [M, D] and stances [M]."""
        v = torch.cat([embedding.float(), self.stance_weight * stance.float().unsqueeze(1)], dim=1)
        return v / v.norm(dim=1, keepdim=True).clamp(min=1e-12)

    # ---- one step ---------------------------------------------------------------------------------------

    def forward(self, world: World) -> World:
        rows = self.activate(world)
        feed = self.read(world, rows)
        draws = decide(self.policy, ACT, world, self.situation(world, feed))
        return self.act(world, feed, draws)

    def activate(self, world: World) -> Tensor:
        """int64 [A]: the users active this step."""
        active = world.bernoulli("social/active", world.agents.activity.detach())
        return (active > 0.5 if active.is_floating_point() else active).nonzero().squeeze(1)

    def read(self, world: World, rows: Tensor) -> Feed:
        a = world.agents
        return build_feed(world, rows, self.vectors(a.embedding[rows], a.stance[rows]), self.recommender, self.feed)

    def situation(self, world: World, feed: Feed) -> dict[str, Tensor]:
        """The `SITUATION` features [N] (zero for users not active)."""
        n, posts, rows = world.agents.n, world.table(POSTS), feed.rows
        target = feed.target

        def spread(values: Tensor) -> Tensor:
            return torch.zeros(n).index_put((rows,), values.float())

        return {"active": torch.zeros(n, dtype=torch.bool).index_put((rows,), torch.ones_like(rows, dtype=torch.bool)),
                "similarity": spread(feed.target_cosine),
                "popularity": spread(torch.log1p((posts.likes[target] + posts.reposts[target]).float())),
                "shown_score": spread(posts.likes[target] - posts.dislikes[target]),
                "feed_similarity": spread(feed.mean_cosine)}

    def act(self, world: World, feed: Feed, draws: Tensor) -> World:
        """Apply each active user's action (module docstring)."""
        rows, target = feed.rows, feed.target
        posts, agents = world.table(POSTS), world.agents
        hard = (draws.detach().argmax(1) if draws.is_floating_point() else draws)[rows]  # [A]

        def chose(action: Action) -> Tensor:
            return hard == action

        def counted(column: str, action: Action) -> Tensor:
            on = target[chose(action)]
            return posts[column].index_add(0, on, torch.ones_like(on, dtype=posts[column].dtype))

        is_post, is_repost = chose(Action.POST), chose(Action.REPOST)
        authors, reposted = rows[is_post], target[is_repost]
        new_ids = torch.arange(posts.n, posts.n + authors.numel() + reposted.numel(), dtype=torch.int32)
        author_stance = agents.stance[authors]
        new = post_table(
            new_ids, torch.cat([authors, rows[is_repost]]).int(), created=world.step,
            root=torch.cat([new_ids[:authors.numel()], posts.root[reposted]]),
            parent=torch.cat([torch.full((authors.numel(),), -1, dtype=torch.int32), reposted.int()]),
            depth=torch.cat([torch.zeros(authors.numel(), dtype=torch.int32), posts.depth[reposted] + 1]),
            stance=torch.cat([author_stance, posts.stance[reposted]]),
            embedding=torch.cat([self.vectors(agents.embedding[authors], author_stance),
                                 posts.embedding[reposted]]))
        updated = {"likes": counted("likes", Action.LIKE), "dislikes": counted("dislikes", Action.DISLIKE),
                   "comments": counted("comments", Action.COMMENT), "reposts": counted("reposts", Action.REPOST)}
        posts = AgentTable({name: torch.cat([updated.get(name, posts[name]), new[name]]) for name in posts},
                           validate=False)
        writers = torch.cat([authors, rows[is_repost]])
        last_post = agents.last_post.index_put((writers,), new_ids)
        toward = chose(Action.LIKE) | is_repost
        away = chose(Action.DISLIKE)
        x = agents.stance[rows]
        pull = self.stance_step * (posts.stance[target] - x) * (toward.float() - away.float())
        stance = agents.stance.index_put((rows,), (x + pull).clamp(-1, 1))
        follows = chose(Action.FOLLOW)
        graph, n_new = FollowGraph(agents.n, world.table(FOLLOWS).key).with_follows(
            rows[follows], posts.author[target[follows]])
        one_hot = draws[rows] if draws.is_floating_point() else torch.nn.functional.one_hot(
            hard, len(ACTIONS)).float()
        seed_target = (world.table(POSTS).root[target] < self.n_seed_posts).to(one_hot.dtype)
        world = world.update({"stance": stance, "last_post": last_post})
        world = world.with_table(POSTS, posts).with_table(FOLLOWS, AgentTable({"key": graph.keys}, validate=False))
        return world.with_env(actions=one_hot.sum(0), new_follows=float(n_new),
                              seed_reposts=world.env["seed_reposts"] + (one_hot[:, Action.REPOST] * seed_target).sum())

    # ---- observables ------------------------------------------------------------------------------------

    def observe(self, world: World) -> dict[str, Tensor]:
        """Per step: actions [K] (counts), posts, follows, new_follows; the seed cascades' cascade_size (mean; with
        gradients in differentiable mode), cascade_depth (max), cascade_breadth (mean of each one's max breadth);
        herd_score [3] (mean score change of the seeds by initial score); stance_mean, stance_std,
        stance_bimodality and stance_histogram [20]."""
        posts, stance = world.table(POSTS), world.agents.stance
        cascades = cascade_table(posts.root, posts.depth, self.n_seed_posts)
        change = (posts.likes[:self.n_seed_posts] - posts.dislikes[:self.n_seed_posts]
                  - posts.initial_score[:self.n_seed_posts]).float()
        group = posts.initial_score[:self.n_seed_posts].long() + 1  # -1, 0, +1 -> 0, 1, 2
        herd = torch.zeros(3).index_add(0, group, change) / torch.bincount(group, minlength=3).clamp(min=1)
        return {"actions": world.env["actions"], "posts": torch.tensor(float(posts.n)),
                "follows": torch.tensor(float(world.table(FOLLOWS).n)), "new_follows": world.env["new_follows"],
                "cascade_size": 1 + world.env["seed_reposts"] / self.n_seed_posts,
                "cascade_depth": cascades["depth"].max().float(),
                "cascade_breadth": cascades["max_breadth"].float().mean(), "herd_score": herd[[2, 1, 0]],
                "stance_mean": stance.mean(), "stance_std": stance.std(), "stance_bimodality": bimodality(stance),
                "stance_histogram": stance_histogram(stance)}


def post_table(ids: Tensor, author: Tensor, *, created: int, root: Tensor, parent: Tensor, depth: Tensor,
               stance: Tensor, embedding: Tensor, likes: Tensor | None = None, dislikes: Tensor | None = None,
               initial_score: Tensor | None = None) -> AgentTable:
    """Rows of the posts table (module docstring); counts start at zero unless given."""
    zeros = torch.zeros(ids.numel(), dtype=torch.int32)
    return AgentTable({
        "author": author.int(), "created": torch.full_like(zeros, created), "likes": zeros if likes is None else likes,
        "dislikes": zeros if dislikes is None else dislikes, "reposts": zeros, "comments": zeros, "root": root.int(),
        "parent": parent.int(), "depth": depth.int(), "stance": stance.float(),
        "initial_score": torch.zeros(ids.numel(), dtype=torch.int8) if initial_score is None else initial_score,
        "embedding": embedding, "id": ids}, validate=False)
