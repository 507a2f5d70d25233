"""Random contacts: a static Erdős–Rényi layer (daily random mixing is `populace.network.mixing`)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from populace.core import rng
from populace.network.build import blocked_csr
from populace.network.graph import ContactLayer


def erdos_renyi(n_agents: int, mean_degree: float, *, seed: int, weight: float | None = None) -> ContactLayer:
    """A static random contact layer with Poisson(`mean_degree`) contacts per agent.

    Draws round(N * mean_degree / 2) pairs with both ends uniform (counter-based, from `seed`), then drops
    self-pairs, merges repeats and adds each edge both ways. Mean contacts per agent come out a hair under
    `mean_degree` (repeats are O(mean_degree / N) of the edges). "20 contacts per agent" means about 10
    undirected edges per agent, each used in both directions: 20N directed pairs.

    The layer is the one ``ContactLayer.from_edges(n_agents, src, dst, symmetric=True)`` makes of those pairs,
    built by blocks of rows (`populace.network.build.blocked_csr`) from batches of drawn pairs: at 8.4M agents
    and 20 contacts, about 2.5 GiB at peak.
    """
    if n_agents < 2:
        raise ValueError(f"a random graph needs at least 2 agents, got {n_agents}")
    if not 0 < mean_degree < n_agents:
        raise ValueError(f"mean_degree must be in (0, n_agents={n_agents}), got {mean_degree}")
    if weight is not None and not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"weight must be a finite number >= 0 (or None for 1), got {weight}")
    n_pairs = round(n_agents * mean_degree / 2)

    def draw(start: int, stop: int) -> tuple[Tensor, Tensor, None]:  # pairs start..stop-1, self-pairs dropped
        pair_ids = torch.arange(start, stop, dtype=torch.int64)
        src = rng.randint(seed, 0, "erdos_renyi.src", pair_ids, n_agents).to(torch.int32)
        dst = rng.randint(seed, 0, "erdos_renyi.dst", pair_ids, n_agents).to(torch.int32)
        keep = src != dst
        return src[keep], dst[keep], None

    crow, col, weights = blocked_csr(n_agents, n_pairs, draw, symmetric=True, weight=weight)
    return ContactLayer._trusted(n_agents, crow, col, weights, True)
