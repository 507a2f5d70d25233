r"""The phenomena of a social-media run, each a function of tensors (so it can be checked on a hand-built case).

- Information spreading: `tree_levels(parent)` gives each post's cascade root and depth from the post it reposts;
  `cascade_table(root, depth, n_seeds)` gives, per seed post s, size (the posts whose root is s, s included), depth
  (the longest repost chain) and max_breadth (the most posts at one depth).
- Herd effect: posts seeded with scores +1, 0, -1 (`HERD_SCORES`); the mean score change of each group.
- Polarization: the stance histogram (`STANCE_BINS`), spread (standard deviation) and Sarle's bimodality
  coefficient BC = (g^2 + 1) / (k + 3 (n - 1)^2 / ((n - 2)(n - 3))) with g the skewness and k the excess kurtosis
  (moment estimates); BC > 5/9 (a uniform distribution's value) suggests two modes.
- Friendship paradox: `friendship_paradox(graph)`, the share of users who follow someone whose followees have, on
  average, more followers than they have themselves.
"""

from __future__ import annotations

import torch
from torch import Tensor

from populace.models.social.graph import FollowGraph

HERD_SCORES = (1, 0, -1)
"""The scores seed posts start with, in turn (post s gets HERD_SCORES[s % 3])."""
STANCE_BINS = tuple(-1 + 0.1 * k for k in range(21))
"""Edges of the stance histogram: 20 bins of width 0.1 over [-1, 1]."""


def tree_levels(parent: Tensor) -> tuple[Tensor, Tensor]:
    """(root, depth) int64 [P] of posts whose parents are `parent` [P] (-1 for an original, else an earlier or
    later post id), by pointer doubling: log2(depth) passes over the posts, no loop over them.

    Raises:
        ValueError: a parent id outside -1..P-1, or a cycle.
    """
    parent = parent.long()
    p = parent.numel()
    if bool(((parent < -1) | (parent >= p)).any()):
        raise ValueError(f"parent ids must lie in -1..{p - 1}")
    ids = torch.arange(p)
    up = torch.where(parent < 0, ids, parent)  # invariant: depth[i] = the steps from post i up to post up[i]
    depth = (parent >= 0).long()
    for _ in range(max(p, 1).bit_length() + 1):
        if bool((up[up] == up).all()):
            break
        depth, up = depth + depth[up], up[up]
    if not bool((parent[up] < 0).all()):
        raise ValueError("the parent ids form a cycle: every repost chain must end at an original post")
    return up, depth


def cascade_table(root: Tensor, depth: Tensor, n_seeds: int) -> dict[str, Tensor]:
    """Per seed post 0..n_seeds-1 (int64 [S]): size, depth and max_breadth of its cascade (module docstring)."""
    root, depth = root.long(), depth.long()
    mine = root < n_seeds
    root, depth = root[mine], depth[mine]
    levels = int(depth.max()) + 1 if depth.numel() else 1
    by_level = torch.bincount(root * levels + depth, minlength=n_seeds * levels).reshape(n_seeds, levels)
    deepest = torch.zeros(n_seeds, dtype=torch.int64).scatter_reduce(0, root, depth, "amax")
    return {"size": by_level.sum(1), "depth": deepest, "max_breadth": by_level.amax(1)}


def stance_histogram(stance: Tensor) -> Tensor:
    """float [20]: the users per stance bin of width 0.1 over [-1, 1] (1 falls in the last bin)."""
    bins = ((stance.detach().float() + 1) * 10).long().clamp(0, len(STANCE_BINS) - 2)
    return torch.bincount(bins, minlength=len(STANCE_BINS) - 1).float()


def bimodality(x: Tensor) -> Tensor:
    """Sarle's bimodality coefficient of the values x [n] (n >= 4; module docstring)."""
    x = x.detach().double()
    n = x.numel()
    if n < 4:
        raise ValueError(f"the bimodality coefficient needs at least 4 values, got {n}")
    c = x - x.mean()
    m2, m3, m4 = (c**2).mean(), (c**3).mean(), (c**4).mean()
    if float(m2) == 0:
        return torch.tensor(float("nan"))
    g, k = m3 / m2**1.5, m4 / m2**2 - 3
    return ((g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))).float()


def friendship_paradox(graph: FollowGraph) -> float:
    """The share of users following at least one user whose followees' mean follower count exceeds their own."""
    followers = graph.followers_count().double()
    follows = graph.followees_count()
    total = torch.zeros(graph.n_users, dtype=torch.float64).index_add(0, graph.follower, followers[graph.followee])
    has = follows > 0
    if not bool(has.any()):
        return float("nan")
    paradox = total[has] / follows[has] > followers[has]
    return float(paradox.double().mean())
