r"""Fusing a mechanistic prior with the answers of a group's representatives, by their uncertainty.

Model (a Beta-binomial, for K options its Dirichlet form): an agent's answer Q_i [K] scatters around its group's
answer theta_g with variance v_w (sum over options, `within`), and theta_g scatters around the prior p0 (the
heuristic's probabilities) with variance tau^2 (`between`). n distinct representatives answering q_1..q_n give the
posterior mean

    P = (n0 p0 + sum_j q_j) / (n0 + n),    n0 = v_w / tau^2,

the prior counting as n0 agents: with no representative (n = 0) P = p0, and P tends to the representatives' mean
as n grows. A prior whose own spread around the truth is that of a Beta(n0 p0, n0 (1 - p0)) has tau^2 =
(1 - sum_k p0_k^2) / (n0 + 1); here both variances are estimated from the probe answers by moments
(`fit_prior_strength`), so n0 says how many agents the prior is worth.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

MAX_PRIOR_STRENGTH = 1e6
"""n0 when the prior matches every group exactly (tau^2 <= 0): the prior is then worth this many agents."""


def fuse(prior: Tensor, evidence_sum: Tensor, n_agents: Tensor, prior_strength: float) -> Tensor:
    """P [..., K] = (n0 p0 + sum_j q_j) / (n0 + n) from the prior p0 [..., K], the sum of the representatives'
    answers [..., K] and their number n [...] (n0 = `prior_strength` >= 0); exactly p0 where n = 0."""
    if not prior_strength >= 0:
        raise ValueError(f"prior_strength must be >= 0 (agents the prior is worth), got {prior_strength!r}")
    n = n_agents.to(prior.dtype).unsqueeze(-1)
    posterior = (prior_strength * prior + evidence_sum) / (prior_strength + n).clamp(min=1e-300)
    return torch.where(n > 0, posterior, prior)  # exactly the prior without evidence


@dataclasses.dataclass(frozen=True)
class PriorStrength:
    """`fit_prior_strength`'s estimate: n0 = within / between."""

    within: float
    between: float
    prior_strength: float


def fit_prior_strength(prior: Tensor, answers: Tensor, group: Tensor) -> PriorStrength:
    """n0 by moments from the answers Q [n, S, K] of agents in groups `group` [n] and the prior p0 [n, S, K].

    within: the pooled variance of answers around their group's mean, sum_k (Q - Qbar_g)^2 with n_g - 1 degrees of
    freedom; between: mean over groups (by agents) of sum_k (Qbar_g - p0bar_g)^2 less its sampling part within / n_g.
    """
    if prior.shape != answers.shape or answers.dim() != 3 or group.shape != answers.shape[:1]:
        raise ValueError(f"prior and answers must both be [n, S, K] and group [n], got {list(prior.shape)}, "
                         f"{list(answers.shape)}, {list(group.shape)}")
    _, group = torch.unique(group, return_inverse=True)
    g = int(group.max()) + 1
    count = torch.bincount(group, minlength=g).to(torch.float64)  # [G]
    q, p0 = answers.to(torch.float64), prior.to(torch.float64)

    def group_mean(x: Tensor) -> Tensor:
        return torch.zeros(g, *x.shape[1:], dtype=x.dtype).index_add_(0, group, x) / count.view(-1, 1, 1)

    q_bar, p_bar = group_mean(q), group_mean(p0)
    squares = (q - q_bar[group]).pow(2).sum(-1)  # [n, S]
    dof = float((count - 1).sum())
    within = float(squares.sum() / (dof * q.shape[1])) if dof > 0 else 0.0
    gap = (q_bar - p_bar).pow(2).sum(-1).mean(1)  # [G]
    between = float(((gap - within / count) * count).sum() / count.sum())
    strength = MAX_PRIOR_STRENGTH if between <= 0 else min(within / between, MAX_PRIOR_STRENGTH)
    return PriorStrength(within, between, strength)
