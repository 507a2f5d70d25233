r"""What an active user does after reading its feed: one of K = 7 `ACTIONS`, and the heuristic that chooses it.

Every step the model asks its policy (a `populace.behavior.DecisionModel`) for the probabilities of the decision
`ACT` over `ACTIONS` given the situation features [N] of `SITUATION` (what the user sees: its feed and the post in
front of it, the "target"); users who are not active get "nothing" for sure. `HeuristicActions` is the baseline,
activity x similarity x popularity: logits against "nothing"

    z_ik = b_k + s_k sim_i + p_k pop_i + h_k tanh(score_i / 2),    z_i,nothing = 0,    P_i = softmax(z_i),

with sim_i = cos(e_i, e_target), pop_i = ln(1 + likes + reposts) of the target and score_i its shown score (likes
- dislikes; the herd term). The weights are `nn.Parameter`s named `bias.<action>`, `similarity.<action>`,
`popularity.<action>`, `herd.<action>`, so a fit chooses what it trains by name (`populace.models.social.fit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import ClassVar

import torch
from torch import Tensor, nn

from populace.behavior.interface import DecisionError, Situation
from populace.core.world import World

ACT = "act"
"""The decision's name."""
ACTIONS = ("post", "repost", "like", "dislike", "follow", "comment", "nothing")
"""The options, in order; "nothing" is last (the reference of the logits and of users not asked)."""


class Action(IntEnum):
    POST = 0
    REPOST = 1
    LIKE = 2
    DISLIKE = 3
    FOLLOW = 4
    COMMENT = 5
    NOTHING = 6


SITUATION = ("active", "similarity", "popularity", "shown_score", "feed_similarity")
"""The situation features the model passes (float or bool [N]); feed_similarity is the feed's mean cosine."""

DEFAULT_WEIGHTS: dict[str, tuple[float, float, float, float]] = {
    # action: (bias, similarity, popularity, herd), logits against "nothing"
    "post": (-0.9, 0.0, 0.0, 0.0),
    "repost": (-2.6, 2.0, 0.3, 0.3),
    "like": (-0.9, 2.0, 0.2, 0.8),
    "dislike": (-2.4, -2.0, 0.0, -0.8),
    "follow": (-2.6, 1.5, 0.2, 0.0),
    "comment": (-2.2, 1.0, 0.2, 0.0),
}
"""Chosen by hand so that about a third of active users like, a sixth post, a few percent repost (no fit)."""
FEATURES = ("bias", "similarity", "popularity", "herd")


class HeuristicActions(nn.Module):
    """P [N, K] over `ACTIONS` from the module docstring's logits; `weights` overrides `DEFAULT_WEIGHTS` per action."""

    decisions: ClassVar[dict[str, tuple[str, ...]]] = {ACT: ACTIONS}

    def __init__(self, weights: Mapping[str, tuple[float, float, float, float]] | None = None):
        super().__init__()
        chosen = {**DEFAULT_WEIGHTS, **(weights or {})}
        unknown = sorted(set(chosen) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise ValueError(f"weights name unknown action(s) {unknown}; the actions with weights are "
                             f"{list(DEFAULT_WEIGHTS)} ('nothing' is the reference, logit 0)")
        for column, feature in enumerate(FEATURES):
            self.add_module(feature, nn.ParameterDict({
                action: nn.Parameter(torch.tensor(float(chosen[action][column]))) for action in DEFAULT_WEIGHTS}))

    def extra_repr(self) -> str:
        return ", ".join(f"{a}={tuple(round(float(getattr(self, f)[a]), 3) for f in FEATURES)}"
                         for a in DEFAULT_WEIGHTS)

    def weight(self, feature: str) -> Tensor:
        """[K - 1]: one feature's weights, in the order of `ACTIONS` (without "nothing")."""
        table = getattr(self, feature)
        return torch.stack([table[action] for action in DEFAULT_WEIGHTS])

    def probabilities(self, decision: str, world: World, situation: Situation) -> Tensor:
        if decision != ACT:
            raise DecisionError(f"HeuristicActions makes the decision {ACT!r} only, not {decision!r}")
        features = torch.stack([torch.ones_like(situation["similarity"]), situation["similarity"],
                                situation["popularity"], torch.tanh(situation["shown_score"] / 2)], dim=1)  # [N, 4]
        weights = torch.stack([self.weight(f) for f in FEATURES], dim=1)  # [K - 1, 4]
        logits = torch.nn.functional.pad(features @ weights.T.to(features.dtype), (0, 1))  # [N, K]
        probs = torch.softmax(logits, dim=1)
        idle = torch.zeros_like(probs)
        idle[:, Action.NOTHING] = 1
        return torch.where(situation["active"].bool().unsqueeze(1), probs, idle)
