r"""The directed follow graph: `FollowGraph`, edges follower -> followee as one sorted int64 key per edge.

Edge (i follows j) of N users is the key k = i * N + j; the keys are kept sorted and distinct, so the followees of
user i are the keys in [i * N, (i + 1) * N), a contiguous row (CSR: `crow` [N + 1] from one count of k // N), and
membership is one `searchsorted`. `with_follows` merges new edges (duplicates and self-follows dropped) without
re-sorting the old keys: each old key moves by the number of new keys below it (a count of the new keys'
insertion points), each new key by the number of old keys below it (`searchsorted`).

User-supplied edge lists (`from_edges`) must name users 0..N-1; anything else is refused with the offending rows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import Tensor


class FollowGraph:
    """Distinct directed edges follower -> followee over `n_users` users (module docstring).

    Attributes:
        n_users: N.
        keys: int64 [E], sorted and distinct, follower * N + followee.
    """

    def __init__(self, n_users: int, keys: Tensor):
        self.n_users = n_users
        self.keys = keys

    @classmethod
    def from_edges(cls, follower: Tensor, followee: Tensor, n_users: int) -> FollowGraph:
        """The graph of the edges follower[e] -> followee[e]; self-follows and repeated edges are dropped.

        Raises:
            ValueError: the arrays differ in length, hold non-integers, or name a user outside 0..n_users-1.
        """
        if isinstance(n_users, bool) or not isinstance(n_users, int) or n_users < 1:
            raise ValueError(f"n_users must be an int >= 1, got {n_users!r}")
        follower, followee = torch.as_tensor(follower), torch.as_tensor(followee)
        if follower.shape != followee.shape or follower.dim() != 1:
            raise ValueError(f"follower and followee must be 1-D of one length, got {list(follower.shape)} and "
                             f"{list(followee.shape)}")
        for name, ids in (("follower", follower), ("followee", followee)):
            if ids.is_floating_point() or ids.dtype == torch.bool or ids.is_complex():
                raise ValueError(f"{name} ids must be integers, got {ids.dtype}")
            bad = ((ids < 0) | (ids >= n_users)).nonzero().squeeze(1)
            if bad.numel():
                raise ValueError(f"the edge list names {bad.numel()} unknown user id(s) in column {name!r} (users are "
                                 f"0..{n_users - 1}): rows {bad[:5].tolist()} hold {ids[bad[:5]].tolist()}. "
                                 "Renumber the users 0..N-1 or drop those edges")
        keys = follower.long() * n_users + followee.long()
        return cls(n_users, torch.unique(keys[follower != followee]))

    @property
    def n_edges(self) -> int:
        return self.keys.numel()

    @property
    def follower(self) -> Tensor:
        """int64 [E]: the follower of each edge."""
        return self.keys // self.n_users

    @property
    def followee(self) -> Tensor:
        """int64 [E]: the followee of each edge."""
        return self.keys % self.n_users

    def crow(self) -> Tensor:
        """int64 [N + 1]: user i's followees are edges crow[i]..crow[i + 1] - 1."""
        counts = torch.bincount(self.follower, minlength=self.n_users)
        return torch.nn.functional.pad(counts.cumsum(0), (1, 0))

    def followers_count(self) -> Tensor:
        """int64 [N]: followers of each user (in-degree)."""
        return torch.bincount(self.followee, minlength=self.n_users)

    def followees_count(self) -> Tensor:
        """int64 [N]: users each user follows (out-degree)."""
        return torch.bincount(self.follower, minlength=self.n_users)

    def contains(self, follower: Tensor, followee: Tensor) -> Tensor:
        """bool [M]: whether each edge follower[m] -> followee[m] is in the graph."""
        wanted = follower.long() * self.n_users + followee.long()
        at = torch.searchsorted(self.keys, wanted).clamp(max=max(self.n_edges - 1, 0))
        return (self.keys[at] == wanted) if self.n_edges else torch.zeros_like(wanted, dtype=torch.bool)

    def with_follows(self, follower: Tensor, followee: Tensor) -> tuple[FollowGraph, int]:
        """The graph with the edges follower[m] -> followee[m] added, and how many were new (not already there,
        not self-follows, not repeated among them)."""
        new = torch.unique(follower.long() * self.n_users + followee.long())
        new = new[(new // self.n_users != new % self.n_users) & ~self.contains(new // self.n_users,
                                                                                new % self.n_users)]
        if new.numel() == 0:
            return self, 0
        merged = torch.empty(self.n_edges + new.numel(), dtype=torch.int64, device=self.keys.device)
        below = torch.searchsorted(self.keys, new)  # [M]: the old keys below each new key
        new_at = torch.arange(new.numel(), device=self.keys.device) + below
        shift = torch.bincount(below, minlength=self.n_edges + 1).cumsum(0)[:self.n_edges]  # new keys below each
        old_at = torch.arange(self.n_edges, device=self.keys.device) + shift
        merged[old_at] = self.keys
        merged[new_at] = new
        return FollowGraph(self.n_users, merged), new.numel()


def synthetic_follows(n_users: int, mean_followees: float, *, seed: int, fame_exponent: float = 1.0) -> FollowGraph:
    r"""A heavy-tailed follow graph: user i follows Poisson-many (mean `mean_followees`) users drawn with
    probability proportional to fame f_j = (j + 1)^(-fame_exponent) over a random ranking of the users (Zipf),
    so a few users have most followers (the setting of the friendship paradox)."""
    if not mean_followees > 0:
        raise ValueError(f"mean_followees must be > 0, got {mean_followees}")
    generator = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((n_users,), float(mean_followees)), generator=generator).long()
    counts = counts.clamp(max=max(n_users - 1, 0))
    fame = torch.arange(1, n_users + 1, dtype=torch.float64).pow(-fame_exponent)
    rank = torch.randperm(n_users, generator=generator)  # rank[j]: the user of fame rank j
    cdf = (fame / fame.sum()).cumsum(0)
    follower = torch.arange(n_users).repeat_interleave(counts)
    u = torch.rand(follower.numel(), generator=generator, dtype=torch.float64)
    followee = rank[torch.searchsorted(cdf, u).clamp(max=n_users - 1)]
    return FollowGraph.from_edges(follower, followee, n_users)


EDGE_COLUMNS = ("follower", "followee")


def read_edge_list(path: str | Path, n_users: int) -> FollowGraph:
    """The follow graph of a CSV or Parquet file with integer columns `follower` and `followee` (one row per edge,
    users numbered 0..n_users-1); a `ValueError` names a missing column or the rows naming unknown users."""
    path = Path(path)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = [c for c in EDGE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} has no column(s) {missing} (it has: {', '.join(map(str, frame.columns))}); an edge "
                         "list needs integer columns follower and followee, one row per 'follower follows followee'")
    if frame[list(EDGE_COLUMNS)].isna().any().any():
        raise ValueError(f"{path} has empty follower or followee cells; every edge needs both users")
    return FollowGraph.from_edges(torch.tensor(frame["follower"].to_numpy()),
                                  torch.tensor(frame["followee"].to_numpy()), n_users)
