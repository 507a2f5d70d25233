r"""CSR contact layers built by blocks of rows: no int64 edge list of all edges at once, no sort over all edges.

Used by `ContactLayer.from_edges` (CPU) and `erdos_renyi`. The rows are cut into blocks of 2**k rows holding about
`EDGES_PER_BLOCK` directed edges; each batch of pairs (and, symmetric, their reverses), as keys row * 2**31 + col,
goes to its rows' blocks (a radix sort of the block numbers), and then each block is sorted and its repeats merged.
The buckets hold 8 bytes a directed edge (as an int32 pair would; 4 more with weights), freed block by block as the
int32 col fills.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

INT32_MAX = 2**31 - 1

PAIRS_PER_DRAW = 1 << 21
"""Pairs drawn at a time (per thread): int64 ids and draws of 16 MiB each instead of [P] ones."""

MAX_BUILD_THREADS = 4
"""Threads of `blocked_csr` at most: each batch in flight holds about 100 bytes a pair (200 MiB)."""

EDGES_PER_BLOCK = 1 << 20
"""Directed edges sorted at a time by `blocked_csr` (1M: an 8 MiB int64 block of keys, sorted in cache: at 1M agents
and 20 contacts the build took 2.1 s of CPU against 3.4 with blocks of 8M)."""

Draw = Callable[[int, int], tuple[Tensor, Tensor, Tensor | None]]


def crow_dtype(n_edges: int) -> torch.dtype:
    """int32 row offsets, or int64 from 2**31 edges on."""
    return torch.int32 if n_edges <= INT32_MAX else torch.int64


def blocked_csr(
    n: int,
    n_pairs: int,
    draw: Draw,
    *,
    symmetric: bool,
    weight: float | None = None,
    weight_dtype: torch.dtype | None = None,
    batch: int | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    r"""(crow, col, weight) of the layer with the contacts src -> dst (and dst -> src if `symmetric`) of pairs
    0..n_pairs-1, repeats merged: unweighted, a repeat is one contact; weighted, the weights of repeats are summed.

    ``draw(start, stop)`` gives the pairs start..stop-1 with self-pairs dropped: (src, dst, w), integer CPU
    tensors with values in [0, n) and, given `weight_dtype`, weights w of that dtype (else None). ``weight``: one
    weight for every pair (unweighted draws), or None. ``batch``: pairs drawn at a time (default
    `PAIRS_PER_DRAW`). Batches, then blocks, run on torch.get_num_threads()
    threads, at most `MAX_BUILD_THREADS` (numpy and torch release the GIL); the result does not depend on their
    order: the weights of repeats are summed in a fixed order (batch by batch; within a batch, the pairs as drawn,
    then their reverses).
    """
    batch = batch or PAIRS_PER_DRAW
    per_pair = 2 if symmetric else 1
    rows_needed = -(-n // max(1, -(-per_pair * n_pairs // EDGES_PER_BLOCK)))
    shift = max(0, (rows_needed - 1).bit_length())  # blocks of 2**shift rows
    n_blocks = -(-n // (1 << shift))
    block_dtype = np.uint8 if n_blocks <= 2**8 else np.uint16 if n_blocks <= 2**16 else np.uint32
    weighted = weight_dtype is not None
    buckets: list[list[tuple[int, np.ndarray, np.ndarray | None]]] = [[] for _ in range(n_blocks)]

    def partition(start: int) -> None:
        src, dst, w = draw(start, min(start + batch, n_pairs))
        s, d = src.numpy().astype(np.int64), dst.numpy().astype(np.int64)
        del src, dst
        w_np = None if w is None else w.numpy()
        if symmetric:  # [2 P_b] the edges s -> d, then d -> s, as row << 31 | col
            key = np.concatenate([s, d])
            key <<= 31
            key[: s.size] |= d
            key[s.size :] |= s
            w_np = None if w_np is None else np.concatenate([w_np, w_np])
        else:
            key = s << 31
            key |= d
        del s, d
        block = (key >> (31 + shift)).astype(block_dtype)
        order = np.argsort(block, kind="stable")  # a radix sort when block numbers are 8 or 16 bits
        ends = np.cumsum(np.bincount(block, minlength=n_blocks)).tolist()
        key = key[order]
        w_np = None if w_np is None else w_np[order]
        del block, order
        for b, begin in enumerate([0, *ends[:-1]]):
            if ends[b] > begin:  # copies, so that their memory goes once the block is built
                part_w = None if w_np is None else w_np[begin : ends[b]].copy()
                buckets[b].append((start, key[begin : ends[b]].copy(), part_w))  # list.append is atomic

    def build(b: int) -> tuple[np.ndarray, np.ndarray, Tensor | None]:
        r0, r1 = b << shift, min((b + 1) << shift, n)
        parts = sorted(buckets[b], key=lambda part: part[0])  # pair order, whatever order the threads ran in
        buckets[b] = []
        key = np.concatenate([part[1] for part in parts] or [np.empty(0, np.int64)])
        w = None
        if weighted:
            w = np.concatenate([part[2] for part in parts] or [torch.empty(0, dtype=weight_dtype).numpy()])
        del parts  # the pieces go before the sort
        if weighted:
            order = np.argsort(key, kind="stable")
            key, w = key[order], w[order]
            del order
        else:
            key.sort()
        is_first = np.empty(key.size, dtype=bool)
        is_first[:1] = True
        np.not_equal(key[1:], key[:-1], out=is_first[1:])
        summed = None
        if weighted or weight is not None:
            slot = torch.from_numpy(np.cumsum(is_first) - 1)
            values = torch.from_numpy(w) if w is not None else torch.full((key.size,), float(weight))
            summed = torch.zeros(int(slot[-1]) + 1 if key.size else 0, dtype=values.dtype).index_add_(0, slot, values)
        key = key[is_first]
        del is_first
        col = (key & INT32_MAX).astype(np.int32)
        key >>= 31
        key -= r0
        return col, np.bincount(key, minlength=r1 - r0), summed

    col = np.empty(per_pair * n_pairs, dtype=np.int32)  # capacity: no repeats; merged repeats leave a short tail
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
    crow = torch.from_numpy(np.concatenate([[0], np.cumsum(degree)])).to(crow_dtype(filled))
    w_out = torch.cat(sums) if (weighted or weight is not None) else None
    return crow, torch.from_numpy(col)[:filled], w_out
