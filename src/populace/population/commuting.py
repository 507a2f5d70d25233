r"""Commuting: the region each employed agent works in, drawn from a home-region x work-region table of shares.

`assign_work_regions(agents, shares, seed=...)` gives every employed agent i living in region h a work region w
drawn independently with probability shares[h, w]: columns 0..R-1 are the population's regions, column R is
"outside the area" (for NYC: outside the five boroughs). The draw is one counter-based uniform per agent, keyed on
(seed, stream "commuting.work_region", agent id), inverted through the row's cumulative shares, so it is
reproducible and does not depend on the row order. The result is the `work_region` column (uint8 [N]):

- 0..R-1: the region of the agent's workplace;
- `NO_CODE` (255): no workplace in the population, either not employed or working outside the area.

Workers outside the area keep `is_employed` and their industry (they have a job, for the labour market) but get
no workplace, hence no work-layer contacts: their coworkers are not in the population. `assign_workplaces` then
groups the others by (work region, industry), so coworkers come from every home region in the table's proportions.

Over n employed agents of home region h, the count working in w is Binomial(n, shares[h, w]), so the realised share
is within k sqrt(p (1 - p) / n) of the table's p except with the two-sided normal tail probability of k.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from populace.core import AgentTable, rng
from populace.population.groups import require_columns
from populace.population.storage import NO_CODE

_TOLERANCE = 1e-6  # how far a row of shares may sum from 1


def commuting_cdf(shares: np.ndarray | Tensor, n_regions: int) -> Tensor:
    """The validated [R, R + 1] table as float64 cumulative shares per row (last column exactly 1)."""
    table = shares.to(torch.float64) if isinstance(shares, Tensor) else torch.tensor(np.asarray(shares, np.float64))
    if table.dim() != 2 or table.shape[1] != table.shape[0] + 1:
        raise ValueError(f"shares must be a [R, R + 1] table (rows: home region; columns: work region 0..R-1, then "
                         f"outside the area), got shape {tuple(table.shape)}.")
    if table.shape[0] < n_regions or table.shape[0] >= NO_CODE:
        raise ValueError(f"shares has {table.shape[0]} rows but the agents live in regions 0..{n_regions - 1}; give "
                         f"one row per region (at most {NO_CODE - 1}).")
    if not bool((torch.isfinite(table) & (table >= 0)).all()):
        raise ValueError("shares must be finite and >= 0.")
    sums = table.sum(1)
    bad = (sums - 1).abs() > _TOLERANCE
    if bool(bad.any()):
        row = int(bad.nonzero()[0])
        raise ValueError(f"each row of shares must sum to 1 (every worker works somewhere); row {row} sums to "
                         f"{float(sums[row]):.6g}. Normalise the rows, e.g. shares / shares.sum(1, keepdims=True).")
    cdf = torch.cumsum(table / sums[:, None], 1)
    cdf[:, -1] = 1.0
    return cdf


def assign_work_regions(agents: AgentTable, shares: np.ndarray | Tensor, *, seed: int) -> Tensor:
    """Work region of every agent, uint8 [N] (module docstring): 0..R-1, or NO_CODE for no workplace in the area.

    Reads `region`, `is_employed`, `id`. `shares` [R, R + 1]: row h, the shares of region h's workers working in
    each region and (last column) outside the area; each row sums to 1.
    """
    require_columns(agents, ("region", "is_employed"), "assign_work_regions")
    region = agents["region"].long()
    n_regions = int(region.max()) + 1 if region.numel() else 0
    cdf = commuting_cdf(shares, n_regions)  # [R, R + 1]
    columns = cdf.shape[1]
    work_region = torch.full((agents.n,), NO_CODE, dtype=torch.uint8)
    workers = agents["is_employed"].bool().nonzero().squeeze(1)  # [M]
    home = region[workers]
    u = rng.uniform(seed, 0, "commuting.work_region", agents.ids[workers], dtype=torch.float64)
    shifted = (cdf + torch.arange(cdf.shape[0], dtype=torch.float64)[:, None]).flatten()  # row h shifted by h
    pick = (torch.searchsorted(shifted, home + u, right=True) - home * columns).clamp(0, columns - 1)  # [M]
    work_region[workers] = torch.where(pick < columns - 1, pick, NO_CODE).to(torch.uint8)
    return work_region
