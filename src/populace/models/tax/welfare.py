r"""Welfare metrics of a taxed population: what planners maximise and the welfare table reports.

- utilitarian_usd: (1/N) sum_i u_i, mean utility (USD per worker). With quasi-linear utility and a lump-sum
  rebate it counts only efficiency (transfers cancel), so it is highest with no tax at all.
- inverse_income_weighted_usd: sum_i w_i u_i, w_i = (1/c_i) / sum_j (1/c_j): the AI Economist's social welfare
  weighted towards the poor (Zheng et al. 2022, "The AI Economist", Science Advances 8(18), eq. for SWF_inv).
- equality: 1 - Gini(c), Gini(c) = sum_i (2i - N - 1) c_(i) / (N sum_i c_i) over sorted consumption c_(1) <= ...
- productivity_usd: (1/N) sum_i z_i, mean pre-tax income (= mean consumption: rebates return all revenue).
- equality_x_productivity_usd: equality x productivity, the AI Economist's planner objective (per worker here;
  the paper sums over agents and uses N / (N - 1) Gini, which differs by under 1e-5 at a million workers).
- revenue_usd: (1/N) sum_i T(z_i), tax (and rebate) per worker; top_income_share: share of pre-tax income earned
  by the top 1%.

All are differentiable in the incomes (sorting passes gradients to the sorted values), hence in the tax rates.
"""

from __future__ import annotations

import torch
from torch import Tensor

from populace.core import AgentTable

OBJECTIVES = ("equality_x_productivity_usd", "inverse_income_weighted_usd", "utilitarian_usd")
"""The metrics a planner can maximise."""


def gini(values: Tensor) -> Tensor:
    """Gini coefficient of non-negative values [N] (0: all equal; -> 1: one holds everything)."""
    x = torch.sort(values).values
    n = x.numel()
    rank = torch.arange(1, n + 1, dtype=x.dtype, device=x.device)
    return ((2 * rank - n - 1) * x).sum() / (n * x.sum())


def welfare_metrics(agents: AgentTable) -> dict[str, Tensor]:
    """Every metric of the module docstring, as scalar tensors (differentiable)."""
    c, z = agents.consumption_usd, agents.income_usd
    inverse = 1 / c
    equality = 1 - gini(c)
    productivity = z.mean()
    top_cut = z.detach().kthvalue(max(1, int(0.99 * z.numel()))).values  # 99th percentile of income
    return {
        "utilitarian_usd": agents.utility_usd.mean(),
        "inverse_income_weighted_usd": (inverse * agents.utility_usd).sum() / inverse.sum(),
        "equality": equality,
        "productivity_usd": productivity,
        "equality_x_productivity_usd": equality * productivity,
        "revenue_usd": agents.tax_usd.mean(),
        "top_income_share": z[z > top_cut].sum() / z.sum(),
    }
