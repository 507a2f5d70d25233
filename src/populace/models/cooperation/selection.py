r"""Selection and inheritance between generations, per society of n seats.

Seats are ranked by final resources, most first; equal resources are ordered by a uniform u per seat from the
counter-based RNG (smaller u first), so ties are broken at random yet reproducibly, whatever the number of
societies. The first m ranks (m = `DonorGameRules.n_survivors`) survive in their seats with their strategies; the
seat ranked m + k gets a newcomer whose parent is the survivor ranked k mod m (with m = n / 2: one newcomer per
survivor, the best survivor's child in the best loser's seat). Example, n = 4, m = 2:

    resources [3, 7, 7, 1], u [.9, .5, .2, .4]  ->  order [2, 1, 0, 3] (seat 2 wins the tie by its smaller u)
    survives [F, T, T, F]; parent [2, 1, 2, 1]  (seat 0, ranked 2, is seat 2's child; seat 3 is seat 1's)
"""

from __future__ import annotations

import torch
from torch import Tensor


def rank(resources: Tensor, u: Tensor) -> Tensor:
    """order int64 [S, n]: each society's seats from most to fewest resources [S, n], ties by smaller u [S, n]."""
    by_u = torch.argsort(u, dim=1)
    by_resources = torch.sort(resources.gather(1, by_u), dim=1, descending=True, stable=True).indices
    return by_u.gather(1, by_resources)


def parents(order: Tensor, n_survivors: int) -> tuple[Tensor, Tensor]:
    """(parent int64 [S, n], survives bool [S, n]): each seat's parent seat (itself for a survivor) and whether it
    survives, from the ranking `order` [S, n] (module docstring)."""
    s, n = order.shape
    ranks = torch.arange(n, device=order.device)
    survives_by_rank = ranks < n_survivors
    parent_rank = torch.where(survives_by_rank, ranks, (ranks - n_survivors) % n_survivors)
    parent = torch.empty_like(order).scatter_(1, order, order[:, parent_rank])
    survives = torch.empty(s, n, dtype=torch.bool, device=order.device).scatter_(
        1, order, survives_by_rank.expand(s, n))
    return parent, survives
