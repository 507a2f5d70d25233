"""Random contacts: a static Erdős–Rényi layer, and daily random mixing drawn on the fly (nothing stored)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from populace.core import rng
from populace.core.world import World
from populace.network.aggregate import check_agent_values
from populace.network.graph import ContactLayer, _symmetric_csr


def erdos_renyi(n_agents: int, mean_degree: float, *, seed: int, weight: float | None = None) -> ContactLayer:
    """A static random contact layer with Poisson(`mean_degree`) contacts per agent.

    Draws round(N * mean_degree / 2) pairs with both ends uniform (counter-based, from `seed`), then drops
    self-pairs, merges repeats and adds each edge both ways. Mean contacts per agent come out a hair under
    `mean_degree` (repeats are O(mean_degree / N) of the edges). "20 contacts per agent" means about 10
    undirected edges per agent, each used in both directions: 20N directed pairs.
    """
    if n_agents < 2:
        raise ValueError(f"a random graph needs at least 2 agents, got {n_agents}")
    if not 0 < mean_degree < n_agents:
        raise ValueError(f"mean_degree must be in (0, n_agents={n_agents}), got {mean_degree}")
    if weight is not None and not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"weight must be a finite number >= 0 (or None for 1), got {weight}")
    n_pairs = round(n_agents * mean_degree / 2)

    def draw(start: int, stop: int) -> tuple[Tensor, Tensor]:  # pairs start..stop-1, self-pairs dropped
        pair_ids = torch.arange(start, stop, dtype=torch.int64)
        src = rng.randint(seed, 0, "erdos_renyi.src", pair_ids, n_agents).to(torch.int32)
        dst = rng.randint(seed, 0, "erdos_renyi.dst", pair_ids, n_agents).to(torch.int32)
        keep = src != dst
        return src[keep], dst[keep]

    crow, col, weights = _symmetric_csr(n_agents, n_pairs, draw, weight, PAIRS_PER_DRAW)
    return ContactLayer._trusted(n_agents, crow, col, weights, True)


PAIRS_PER_DRAW = 1 << 21
"""Pairs drawn at a time (per thread): int64 ids and draws of 16 MiB each instead of [P] ones."""


class RandomMixing(nn.Module):
    r"""Contacts redrawn every day, uniformly at random: a well-mixed population in `aggregate` form.

    y_i = w * (sum_{l < m} x[c_il] + sum_{(j, l): c_jl = i} x[j]), where each agent i calls m = `calls_per_agent`
    partners c_il drawn uniformly from the population each day. Both ends of a call are in contact, so each
    agent has on average 2m contacts a day (self-calls are dropped). Partners are drawn from the counter-based
    RNG keyed on (seed, day, stream, agent id) and map ids to rows, so results do not depend on agent order;
    nothing per contact is stored between days. Gradients flow to `x` (gather and scatter-add).
    """

    def __init__(self, calls_per_agent: int, *, weight: float = 1.0, stream: str = "random_mixing"):
        super().__init__()
        if not isinstance(calls_per_agent, int) or calls_per_agent < 1:
            raise ValueError(f"calls_per_agent must be an int >= 1, got {calls_per_agent!r}")
        if not weight >= 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        self.calls_per_agent = calls_per_agent
        self.weight = float(weight)
        self.stream = stream

    @property
    def mean_contacts(self) -> float:
        """Expected contacts per agent per day (2 x calls: each call counts for both ends)."""
        return 2.0 * self.calls_per_agent

    def aggregate(self, x: Tensor, world: World | None = None, *, support: Tensor | None = None) -> Tensor:
        """Weighted sum of `x` ([N] or [N, K]) over today's random contacts of each agent.

        ``world`` (required) gives the day, seed and agent ids the partners are drawn from; ``support`` (see
        `populace.network.aggregate.aggregate`) is accepted and unused: every call gathers over all agents.
        """
        if world is None:
            raise TypeError("RandomMixing.aggregate(x, world) needs the world: its contacts are drawn per day")
        ids = world.agents.ids
        n = ids.numel()
        check_agent_values(x, n, ids.device)
        partner_ids = world.randint(self.stream, n, n=self.calls_per_agent)  # [N, m], ids in [0, N)
        partners = _rows_of_ids(ids, partner_ids)
        callers = torch.arange(n, device=x.device).unsqueeze(1).expand_as(partners)
        keep = partners != callers
        partners, callers = partners[keep], callers[keep]
        pulled = torch.zeros_like(x).index_add_(0, callers, x[partners])
        pushed = torch.zeros_like(x).index_add_(0, partners, x[callers])
        return self.weight * (pulled + pushed)

    def extra_repr(self) -> str:
        return f"calls_per_agent={self.calls_per_agent}, weight={self.weight}"


def _rows_of_ids(ids: Tensor, wanted: Tensor) -> Tensor:
    """Row positions of agent ids `wanted`, for a table whose ids are a permutation of 0..N-1."""
    n = ids.numel()
    if bool((ids == torch.arange(n, device=ids.device, dtype=ids.dtype)).all()):
        return wanted
    if int(ids.max()) >= n:
        raise ValueError("RandomMixing needs agent ids 0..N-1 (in any order); renumber the table's id column")
    row_of_id = torch.empty(n, dtype=torch.int64, device=ids.device)
    row_of_id[ids.long()] = torch.arange(n, device=ids.device)
    return row_of_id[wanted]
