"""Random contacts: a static Erdős–Rényi layer (daily random mixing is `populace.network.mixing`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from populace.core import rng
from populace.network.graph import INT32_MAX, ContactLayer, _crow_dtype


def erdos_renyi(n_agents: int, mean_degree: float, *, seed: int, weight: float | None = None) -> ContactLayer:
    """A static random contact layer with Poisson(`mean_degree`) contacts per agent.

    Draws round(N * mean_degree / 2) pairs with both ends uniform (counter-based, from `seed`), then drops
    self-pairs, merges repeats and adds each edge both ways. Mean contacts per agent come out a hair under
    `mean_degree` (repeats are O(mean_degree / N) of the edges). "20 contacts per agent" means about 10
    undirected edges per agent, each used in both directions: 20N directed pairs.

    The layer is the one ``ContactLayer.from_edges(n_agents, src, dst, symmetric=True)`` makes of those pairs,
    built by blocks of rows (`_symmetric_csr`) rather than one sort over all edges: at 8.4M agents and 20
    contacts, about 2.5 GiB at peak instead of 9.8.
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


MAX_BUILD_THREADS = 4
"""Threads of `_symmetric_csr` at most: each batch in flight holds about 100 bytes a pair (200 MiB)."""

EDGES_PER_BLOCK = 1 << 23
"""Directed edges sorted at a time by `_symmetric_csr` (8M: a 64 MiB int64 block of keys)."""


def _symmetric_csr(
    n: int, n_pairs: int, draw: Callable[[int, int], tuple[Tensor, Tensor]], weight: float | None, batch: int
) -> tuple[Tensor, Tensor, Tensor | None]:
    r"""(crow, col, weight) of the symmetric layer with the contacts src <-> dst of pairs 0..n_pairs-1.

    ``draw(start, stop)`` gives the pairs start..stop-1 with self-pairs dropped: (src, dst), int32 CPU tensors
    with values in [0, n). The result is the layer ``from_edges(n, src, dst, weight * ones, symmetric=True)``
    gives on all the pairs at once (a repeated pair is one contact; weighted, its weights are summed), built with
    a bounded peak and no sort over all edges: the rows are cut into blocks of 2**k rows holding about
    `EDGES_PER_BLOCK` directed edges; each batch of pairs (both directions), as keys row * 2**31 + col, goes to
    its rows' blocks (a radix sort of the block numbers), and then each block is sorted in place (numpy's
    vectorized quicksort) and its repeats merged. The buckets hold 8 bytes a directed edge (as an int32 pair
    would), freed block by block as the int32 col fills. Batches, then blocks, run on torch.get_num_threads()
    threads, at most `MAX_BUILD_THREADS` (numpy and torch release the GIL); the result does not depend on their
    order.
    """
    rows_needed = -(-n // max(1, -(-2 * n_pairs // EDGES_PER_BLOCK)))
    shift = max(0, (rows_needed - 1).bit_length())  # blocks of 2**shift rows
    n_blocks = -(-n // (1 << shift))
    block_dtype = np.uint8 if n_blocks <= 2**8 else np.uint16 if n_blocks <= 2**16 else np.uint32
    buckets: list[list[np.ndarray]] = [[] for _ in range(n_blocks)]

    def partition(start: int) -> None:
        src, dst = draw(start, min(start + batch, n_pairs))
        s, d = src.numpy().astype(np.int64), dst.numpy().astype(np.int64)
        del src, dst
        key = np.concatenate([s, d])  # [2 P_b] the edges s -> d, then d -> s, as row << 31 | col
        key <<= 31
        key[: s.size] |= d
        key[s.size :] |= s
        del s, d
        block = (key >> (31 + shift)).astype(block_dtype)
        order = np.argsort(block, kind="stable")  # a radix sort when block numbers are 8 or 16 bits
        ends = np.cumsum(np.bincount(block, minlength=n_blocks)).tolist()
        key = key[order]
        del block, order
        for b, begin in enumerate([0, *ends[:-1]]):
            if ends[b] > begin:  # a copy, so that its memory goes once the block is built
                buckets[b].append(key[begin : ends[b]].copy())  # list.append is atomic

    def build(b: int) -> tuple[np.ndarray, np.ndarray, Tensor | None]:
        r0, r1 = b << shift, min((b + 1) << shift, n)
        key = np.concatenate(buckets[b] or [np.empty(0, np.int64)])
        buckets[b] = []
        key.sort()
        is_first = np.empty(key.size, dtype=bool)
        is_first[:1] = True
        np.not_equal(key[1:], key[:-1], out=is_first[1:])
        summed = None
        if weight is not None:
            slot = torch.from_numpy(np.cumsum(is_first) - 1)
            w = torch.full((key.size,), float(weight))
            summed = torch.zeros(int(slot[-1]) + 1 if key.size else 0).index_add_(0, slot, w)
        key = key[is_first]
        del is_first
        col = (key & INT32_MAX).astype(np.int32)
        key >>= 31
        key -= r0
        return col, np.bincount(key, minlength=r1 - r0), summed

    col = np.empty(2 * n_pairs, dtype=np.int32)  # capacity: no repeats; merged repeats leave a short tail
    degree = np.zeros(n, dtype=np.int64)
    sums = []
    filled = 0
    with ThreadPoolExecutor(min(MAX_BUILD_THREADS, max(1, torch.get_num_threads()))) as pool:
        for _ in pool.map(partition, range(0, n_pairs, batch)):
            pass
        for b, (block_col, block_degree, summed) in enumerate(pool.map(build, range(n_blocks))):
            col[filled : filled + block_col.size] = block_col
            degree[b << shift : (b << shift) + block_degree.size] = block_degree
            sums.append(summed)
            filled += block_col.size
    crow = torch.from_numpy(np.concatenate([[0], np.cumsum(degree)])).to(_crow_dtype(filled))
    w_out = None if weight is None else torch.cat(sums)
    return crow, torch.from_numpy(col)[:filled], w_out
