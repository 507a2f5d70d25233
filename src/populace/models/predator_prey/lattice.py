"""Square lattices as contact structures: each site's neighbours on a torus, weighted to give neighbour fractions."""

from __future__ import annotations

import torch

from populace.network import ContactGraph


def torus_lattice(side: int) -> ContactGraph:
    r"""The side x side square lattice with periodic edges (a torus), von Neumann neighbourhood (4 neighbours).

    Site (r, c) is agent r * side + c; each of its 4 contacts has weight 1/4, so `aggregate(x)` is the fraction of a
    site's neighbours with x (for x 0/1). One layer, "lattice". side >= 3 (below, a site would neighbour itself or
    the same site twice).
    """
    if isinstance(side, bool) or not isinstance(side, int) or side < 3:
        raise ValueError(f"side must be an int >= 3 (sites per row of the lattice), got {side!r}")
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    site = (rows * side + cols).reshape(-1)
    right = (rows * side + (cols + 1) % side).reshape(-1)
    down = (((rows + 1) % side) * side + cols).reshape(-1)
    src, dst = torch.cat([site, site]), torch.cat([right, down])
    return ContactGraph.from_edges(side * side, {"lattice": (src, dst, torch.full((src.numel(),), 0.25))})
