"""push_product: the fast-mode product that starts from the few nonzero agents, against the full product."""

import pytest
import torch

from populace.network import ContactLayer
from populace.network.aggregate import aggregate, contact_product, push_product


def _layer(n: int = 2_000, weighted: bool = True, symmetric: bool = True) -> ContactLayer:
    g = torch.Generator().manual_seed(0)
    src = torch.randint(0, n, (10 * n,), generator=g)
    dst = torch.randint(0, n, (10 * n,), generator=g)
    weight = torch.rand(10 * n, generator=g) if weighted else None
    return ContactLayer.from_edges(n, src, dst, weight, symmetric=symmetric)


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("columns", [None, 3])
def test_push_matches_the_full_product_on_sparse_x(weighted, columns):
    layer = _layer(weighted=weighted)
    g = torch.Generator().manual_seed(1)
    shape = (layer.n_agents,) if columns is None else (layer.n_agents, columns)
    x = torch.rand(shape, generator=g) * (torch.rand(layer.n_agents, generator=g) < 0.02).reshape(-1, *[1] * (
        len(shape) - 1))  # about 2% of agents nonzero
    pushed = push_product(layer, x)
    assert pushed is not None
    assert torch.allclose(pushed, contact_product(layer, x), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(aggregate(layer, x), layer.dense() @ x, rtol=1e-5, atol=1e-5)


def test_push_declines_dense_x_and_directed_layers():
    layer = _layer()
    assert push_product(layer, torch.ones(layer.n_agents)) is None  # every agent active: the full product is cheaper
    directed = _layer(symmetric=False)
    x = torch.zeros(directed.n_agents)
    x[3] = 1.0
    assert push_product(directed, x) is None  # pushing along rows needs A = A^T
    assert torch.equal(push_product(layer, torch.zeros(layer.n_agents)), torch.zeros(layer.n_agents))
