r"""How far the probabilities broadcast to agents are from the agents' own answers.

For agent i in situation s with its own answer Q_is [K] and the probabilities P_is [K] a grouping gives it:

    MAE   = mean_{i,s} (1/2) sum_k |P_isk - Q_isk|          (for K = 2: mean |p - q| of the first option)
    Brier = mean_{i,s} (1/2) sum_k (P_isk - Y_isk)^2        (for K = 2: mean (p - y)^2, the binary Brier score)

where Y_is is the one-hot of a draw from Q_is by inverse CDF on the counter-based uniform u(seed, s, "truth", i),
so every grouping is scored on the same draws. Per-agent answers (P = Q) have MAE 0 and Brier
mean (1/2) sum_k Q_k (1 - Q_k) in expectation: the floor no grouping can beat.
"""

from __future__ import annotations

import torch
from torch import Tensor

from populace.core import rng

DRAW_STREAM = "grouping/truth"


def mean_absolute_error(p: Tensor, q: Tensor) -> float:
    """mean_{i,s} (1/2) sum_k |P - Q| over P, Q [N, S, K]."""
    _check(p, q)
    return float(0.5 * (p - q).abs().sum(-1).mean())


def draws(q: Tensor, agent_ids: Tensor, seed: int, situations: Tensor | None = None) -> Tensor:
    """Y [N, S] (int64): one option drawn from each Q_is [K] by inverse CDF on u(seed, situation s, agent id i);
    `situations` numbers the S situations (default 0..S-1), so a subset is drawn as in the whole."""
    s = q.shape[1]
    steps = torch.arange(s) if situations is None else situations
    u = torch.stack([rng.uniform(seed, int(step), DRAW_STREAM, agent_ids, dtype=torch.float64) for step in steps],
                    dim=1)  # [N, S]
    below = (q.cumsum(-1) <= u.unsqueeze(-1)).sum(-1)
    return below.clamp(max=q.shape[-1] - 1)


def brier_score(p: Tensor, y: Tensor) -> float:
    """mean_{i,s} (1/2) sum_k (P_isk - 1[y_is = k])^2 over P [N, S, K] and the drawn options y [N, S]."""
    if y.shape != p.shape[:2]:
        raise ValueError(f"draws y must have shape {list(p.shape[:2])}, got {list(y.shape)}")
    onehot = torch.nn.functional.one_hot(y, p.shape[-1]).to(p.dtype)
    return float(0.5 * (p - onehot).pow(2).sum(-1).mean())


def _check(p: Tensor, q: Tensor) -> None:
    if p.shape != q.shape or p.dim() != 3:
        raise ValueError(f"P and Q must both be [agents, situations, options], got {list(p.shape)} and "
                         f"{list(q.shape)}")
