"""`Partition`: agents split into contiguous ranges of global ids, one range per rank (sizes may differ).

Rank r owns ids [bounds[r], bounds[r + 1]); on 3 ranks, `Partition.even(10, 3)` owns [0, 4), [4, 7), [7, 10).
Number agents so that contacts are close in id (by region, neighbourhood, household) and few contacts cross ranks.
`Partition.by_region` cuts only between regions (each a contiguous run of ids, as a population's agents are
stored): a rank then reads whole row groups of the population's Parquet (`populace.distributed.loading`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import torch
from torch import Tensor


@dataclasses.dataclass(frozen=True)
class Partition:
    """Contiguous id ranges: `bounds` [W + 1] starts at 0, increases strictly (every rank owns an agent), ends at N."""

    bounds: tuple[int, ...]

    def __post_init__(self) -> None:
        b = tuple(int(x) for x in self.bounds)
        if len(b) < 2 or b[0] != 0 or any(hi <= lo for lo, hi in itertools.pairwise(b)):
            raise ValueError(f"partition bounds must start at 0 and increase strictly (each rank owns at least one "
                             f"agent), got {list(self.bounds)}; Partition.even(n_agents, n_ranks) splits evenly")
        object.__setattr__(self, "bounds", b)

    @classmethod
    def even(cls, n_agents: int, n_ranks: int) -> Partition:
        """Sizes differing by at most one, the larger ranges first."""
        if n_ranks < 1 or n_agents < n_ranks:
            raise ValueError(f"need n_ranks >= 1 and at least one agent per rank, got {n_agents} agents on "
                             f"{n_ranks} ranks")
        q, extra = divmod(n_agents, n_ranks)
        return cls.from_sizes([q + (r < extra) for r in range(n_ranks)])

    @classmethod
    def from_sizes(cls, sizes: Sequence[int]) -> Partition:
        """The partition whose rank r owns `sizes[r]` agents."""
        bounds = [0]
        for size in sizes:
            bounds.append(bounds[-1] + int(size))
        return cls(tuple(bounds))

    @classmethod
    def by_region(cls, region_sizes: Sequence[int], n_ranks: int) -> Partition:
        """Rank boundaries on region boundaries: `region_sizes[k]` agents in the k-th region in id order (e.g.
        `populace.population.region_runs(agents.region)`, or `populace.distributed.region_sizes(directory)` from
        the Parquet's metadata), whole regions per rank, the largest rank as small as such cuts allow.

        Regions [3, 1, 1, 3] on 2 ranks: [4, 4]; [5, 1, 1, 1] on 2 ranks: [5, 3]. With fewer regions than ranks
        there is no such partition (ValueError): `Partition.even` splits inside regions, and a rank then reads the
        row groups it overlaps (a few more rows than its own).
        """
        sizes = [int(s) for s in region_sizes]
        if n_ranks < 1 or any(s < 1 for s in sizes):
            raise ValueError(f"need n_ranks >= 1 and regions of at least one agent, got {n_ranks} ranks and region "
                             f"sizes {sizes[:10]}")
        if len(sizes) < n_ranks:
            raise ValueError(f"{len(sizes)} regions cannot be split into {n_ranks} ranks along region boundaries; "
                             f"use fewer ranks, finer regions, or Partition.even({sum(sizes)}, {n_ranks}), which "
                             "splits inside regions")
        low, high = max(sizes), sum(sizes)  # the smallest feasible largest rank lies in [low, high]
        while low < high:
            middle = (low + high) // 2
            if _ranks_needed(sizes, middle) <= n_ranks:
                high = middle
            else:
                low = middle + 1
        return cls.from_sizes(_pack(sizes, low, n_ranks))

    @property
    def n_agents(self) -> int:
        return self.bounds[-1]

    @property
    def n_ranks(self) -> int:
        return len(self.bounds) - 1

    def start(self, rank: int) -> int:
        return self.bounds[self._checked(rank)]

    def stop(self, rank: int) -> int:
        return self.bounds[self._checked(rank) + 1]

    def size(self, rank: int) -> int:
        return self.stop(rank) - self.start(rank)

    def ids(self, rank: int, dtype: torch.dtype = torch.int64) -> Tensor:
        """The global ids rank `rank` owns, ascending, [n_r]."""
        return torch.arange(self.start(rank), self.stop(rank), dtype=dtype)

    def owner(self, ids: Tensor) -> Tensor:
        """The rank owning each global id (int64, like `ids`); ids outside [0, N) are an IndexError."""
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.n_agents):
            raise IndexError(f"ids must lie in [0, {self.n_agents}), got range [{int(ids.min())}, {int(ids.max())}]")
        stops = torch.tensor(self.bounds[1:], dtype=torch.int64, device=ids.device)
        return torch.searchsorted(stops, ids.to(torch.int64), right=True)

    def _checked(self, rank: int) -> int:
        if not 0 <= rank < self.n_ranks:
            raise IndexError(f"rank must lie in [0, {self.n_ranks}), got {rank}")
        return rank


def _ranks_needed(sizes: Sequence[int], capacity: int) -> int:
    """Ranks of at most `capacity` agents that whole consecutive regions of `sizes` fill, packed from the left."""
    ranks, load = 1, 0
    for size in sizes:
        if load + size > capacity:
            ranks, load = ranks + 1, 0
        load += size
    return ranks


def _pack(sizes: Sequence[int], capacity: int, n_ranks: int) -> list[int]:
    """Exactly `n_ranks` rank sizes of at most `capacity`: regions packed from the left, a rank closed early when
    the regions left are as many as the ranks still empty."""
    ranks, load = [], 0
    for k, size in enumerate(sizes):
        must_close = load > 0 and len(sizes) - k == n_ranks - len(ranks) - 1
        if load + size > capacity or must_close:
            ranks.append(load)
            load = 0
        load += size
    return [*ranks, load]
