"""`Partition`: agents split into contiguous ranges of global ids, one range per rank (sizes may differ).

Rank r owns ids [bounds[r], bounds[r + 1]); on 3 ranks, `Partition.even(10, 3)` owns [0, 4), [4, 7), [7, 10).
Number agents so that contacts are close in id (by region, neighbourhood, household) and few contacts cross ranks.
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
