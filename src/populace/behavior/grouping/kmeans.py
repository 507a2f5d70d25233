r"""k-means clustering of n points in d dimensions, deterministic under a seed.

Minimises the inertia sum_i ||x_i - c_{a(i)}||^2 by Lloyd's iterations (assign each point to its nearest centre,
move each centre to its points' mean) from k-means++ starts (each new centre drawn with probability proportional to
the squared distance to the nearest centre so far; Arthur & Vassilvitskii 2007). A centre left without points moves
to the point farthest from its centre. `n_init` starts are tried and the lowest inertia kept; the random numbers come
from a `torch.Generator` seeded with `seed`, so the same seed gives the same clusters.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor


@dataclasses.dataclass(frozen=True)
class KMeans:
    """A fitted clustering: centres [k, d], each point's cluster [n] (int64) and the inertia."""

    centres: Tensor
    assignment: Tensor
    inertia: float


def kmeans(x: Tensor, k: int, *, seed: int = 0, n_init: int = 4, iterations: int = 100) -> KMeans:
    """Cluster the rows of x [n, d] into k clusters (see the module docstring)."""
    if x.dim() != 2:
        raise ValueError(f"x must be [points, dimensions], got {list(x.shape)}")
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of points ({n}), got {k}")
    if n_init < 1 or iterations < 1:
        raise ValueError(f"n_init and iterations must be >= 1, got {n_init} and {iterations}")
    x = x.to(torch.float64)
    generator = torch.Generator().manual_seed(seed)
    fits = [_lloyd(x, _plus_plus(x, k, generator), iterations) for _ in range(n_init)]
    return min(fits, key=lambda fit: fit.inertia)  # the first of equal inertias


def nearest(x: Tensor, centres: Tensor) -> tuple[Tensor, Tensor]:
    """(cluster [n], squared distance [n]) of each row of x to its nearest centre (lowest index on ties)."""
    d2 = (x.to(torch.float64).unsqueeze(1) - centres.to(torch.float64).unsqueeze(0)).pow(2).sum(-1)  # [n, k]
    distance, cluster = d2.min(1)
    return cluster, distance


def _plus_plus(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    n = x.shape[0]
    first = int(torch.randint(n, (1,), generator=generator))
    centres = [x[first]]
    d2 = (x - x[first]).pow(2).sum(1)
    for _ in range(1, k):
        total = float(d2.sum())
        if total <= 0:  # every point sits on a centre: take the next points in order
            pick = int(torch.randint(n, (1,), generator=generator))
        else:
            pick = int(torch.multinomial(d2 / total, 1, generator=generator))
        centres.append(x[pick])
        d2 = torch.minimum(d2, (x - x[pick]).pow(2).sum(1))
    return torch.stack(centres)


def _lloyd(x: Tensor, centres: Tensor, iterations: int) -> KMeans:
    k = centres.shape[0]
    assignment = torch.full((x.shape[0],), -1, dtype=torch.int64)
    for _ in range(iterations):
        new, d2 = nearest(x, centres)
        counts = torch.bincount(new, minlength=k)
        for empty in (counts == 0).nonzero().flatten().tolist():  # move an empty centre to the farthest point
            far = int(d2.argmax())
            centres[empty] = x[far]
            new[far], d2[far] = empty, 0.0
            counts = torch.bincount(new, minlength=k)
        if torch.equal(new, assignment):
            break
        assignment = new
        sums = torch.zeros_like(centres).index_add_(0, assignment, x)
        centres = sums / counts.clamp(min=1).unsqueeze(1).to(x.dtype)
    cluster, d2 = nearest(x, centres)
    return KMeans(centres, cluster, float(d2.sum()))
