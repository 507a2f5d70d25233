"""The blocked CSR build of `ContactLayer.from_edges` against the sort over all edges it replaces."""

import pytest
import torch

import populace.network.build as build
from populace.network import ContactLayer


def _sorted_layer(n, src, dst, w, symmetric):
    """(crow, col, weight) by one sort over all int64 keys src * n + dst (from_edges before the blocked build)."""
    keep = src != dst
    src, dst, w = src[keep], dst[keep], None if w is None else w[keep]
    if symmetric:
        src, dst, w = torch.cat([src, dst]), torch.cat([dst, src]), None if w is None else torch.cat([w, w])
    key, inverse = torch.unique(src * n + dst, sorted=True, return_inverse=True)
    summed = None if w is None else torch.zeros(key.numel(), dtype=w.dtype).index_add_(0, inverse, w)
    crow = torch.cat([torch.zeros(1, dtype=torch.int64), torch.bincount(key // n, minlength=n).cumsum(0)])
    return crow.int(), (key % n).int(), summed


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("weight_dtype", [None, torch.float32, torch.float64])
@pytest.mark.parametrize(("n", "n_edges", "edges_per_block", "batch"), [
    (1, 3, 8, 5), (3, 40, 8, 5), (50, 400, 8, 5), (50, 400, 1000, 64), (3000, 20_000, 1000, 2048),
    (3000, 20_000, build.EDGES_PER_BLOCK, None)])
def test_blocked_from_edges_equals_the_sort_over_all_edges(monkeypatch, symmetric, weight_dtype, n, n_edges,
                                                           edges_per_block, batch):
    monkeypatch.setattr(build, "EDGES_PER_BLOCK", edges_per_block)
    if batch is not None:
        monkeypatch.setattr(build, "PAIRS_PER_DRAW", batch)
    gen = torch.Generator().manual_seed(n + n_edges)
    src = torch.randint(0, n, (n_edges,), generator=gen)  # small n: many repeats and self-loops
    dst = torch.randint(0, n, (n_edges,), generator=gen)
    w = None
    if weight_dtype is not None:  # quarters: repeats sum exactly, whatever the order
        w = (torch.randint(0, 8, (n_edges,), generator=gen) / 4).to(weight_dtype)
    layer = ContactLayer.from_edges(n, src, dst, w, symmetric=symmetric)
    crow, col, summed = _sorted_layer(n, src, dst, w, symmetric)
    assert torch.equal(layer.crow, crow)
    assert torch.equal(layer.col, col)
    if w is None:
        assert layer.weight is None
    else:
        assert layer.weight.dtype == weight_dtype
        assert torch.equal(layer.weight, summed)
    assert layer.is_symmetric == symmetric
    if symmetric and n <= 50:
        dense = layer.dense()
        assert torch.equal(dense, dense.T)


def test_from_edges_with_weights_that_need_gradients_keeps_them():
    w = torch.tensor([0.5, 1.5, 2.0], requires_grad=True)
    layer = ContactLayer.from_edges(4, [0, 1, 1], [1, 2, 2], w, symmetric=True)
    layer.weight.sum().backward()
    assert torch.equal(w.grad, torch.full((3,), 2.0))  # each edge's weight in both directions
    assert torch.equal(layer.weight.detach(), torch.tensor([0.5, 0.5, 3.5, 3.5]))
