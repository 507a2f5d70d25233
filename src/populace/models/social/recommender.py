r"""The recommenders of the feed: X-style similarity x recency, Reddit-style hot, and random, as published by OASIS.

- similarity: score(u, p) = cos(e_u, e_p) r(p), r(p) = ln((271.8 - dt) / 100) with dt the post's age in steps
  (r = 1.0 at dt = 0, 0 at dt = 171.8, negative after; posts of age >= 271.8 steps are never shown);
- hot: sign(s) log10(max(|s|, 1)) + (t_seconds - 1134028003) / 45000, s = likes - dislikes, t_seconds the post's
  creation time in seconds since the epoch (step t is `start_seconds + t * seconds_per_step`);
- random: the candidates in the order drawn.

Each active user draws C candidate posts uniformly from every post so far (counter-based draws keyed on the user,
so the sample does not depend on the order of the users); the recommender keeps the top `n_recommended`. The
products are batched over users in chunks of `chunk_users`, so memory stays about chunk x C x D floats.
"""

from __future__ import annotations

import math
from enum import Enum

import torch
from torch import Tensor

RECENCY_HORIZON = 271.8
"""Steps after which r(p) = ln((271.8 - dt) / 100) is undefined: older posts are not shown."""
HOT_EPOCH_SECONDS = 1134028003
"""Reddit's hot-score epoch (8 December 2005)."""
HOT_SECONDS_PER_UNIT = 45000


class Recommender(str, Enum):
    SIMILARITY = "similarity"
    HOT = "hot"
    RANDOM = "random"


def recency(age_steps: Tensor) -> Tensor:
    """r = ln((271.8 - dt) / 100) for posts of age dt steps (-inf where dt >= 271.8)."""
    room = RECENCY_HORIZON - age_steps.float()
    return torch.where(room > 0, torch.log(room.clamp(min=1e-6) / 100), -math.inf)


def hot_score(likes: Tensor, dislikes: Tensor, created_seconds: Tensor) -> Tensor:
    """sign(s) log10(max(|s|, 1)) + (t - 1134028003) / 45000, s = likes - dislikes, t seconds (float64)."""
    s = (likes.long() - dislikes.long()).double()
    return torch.sign(s) * torch.log10(s.abs().clamp(min=1)) + (created_seconds.double() - HOT_EPOCH_SECONDS) / \
        HOT_SECONDS_PER_UNIT


def cosine(user_embedding: Tensor, post_embedding: Tensor) -> Tensor:
    """cos(e_u, e_p) [B, C] of unit user vectors [B, D] and unit post vectors [B, C, D]: their dot products (one
    batched product; the model keeps every vector of unit length)."""
    return torch.bmm(post_embedding, user_embedding.unsqueeze(2)).squeeze(2)


def similarity_scores(user_embedding: Tensor, post_embedding: Tensor, post_recency: Tensor) -> Tensor:
    """cos(e_u, e_p) r(p) [B, C] from unit user vectors [B, D], unit candidate vectors [B, C, D] and the candidates'
    r(p) = `recency(age)` [B, C]."""
    return cosine(user_embedding, post_embedding) * post_recency


def top_candidates(scores: Tensor, k: int) -> Tensor:
    """Positions [B, min(k, C)] of the k largest scores of each row [B, C] (best first)."""
    return scores.topk(min(k, scores.shape[1]), dim=1).indices
