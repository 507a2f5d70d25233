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


@pytest.mark.parametrize("columns", [None, 2])
def test_a_differentiable_push_from_the_support_gives_the_full_products_gradient_there(columns):
    # x = g * v with v nonzero on ~2% of agents (the support) and g a factor that is 0 for some of them: the pushed
    # product equals the full one, and its gradient equals the full one's on the support rows (0 elsewhere), so
    # the gradient reaching g and v (through x = g * v) is the same
    layer = _layer()
    gen = torch.Generator().manual_seed(2)
    n = layer.n_agents
    shape = (n,) if columns is None else (n, columns)
    on = torch.rand(n, generator=gen) < 0.02
    v = torch.rand(shape, generator=gen) * on.reshape(-1, *[1] * (len(shape) - 1)).float()
    support = torch.nonzero(on).flatten()
    factor = (torch.rand(n, generator=gen) < 0.7).float()  # zeros on the support too
    grad_y = torch.randn(shape, generator=gen)
    grads = []
    for rows in (support, None):
        g = factor.clone().requires_grad_(True)
        w = v.clone().requires_grad_(True)
        x = g.reshape(-1, *[1] * (len(shape) - 1)) * w
        y = aggregate(layer, x, support=rows)
        y.backward(grad_y)
        grads.append((y.detach(), g.grad, w.grad))
    (y_push, g_push, w_push), (y_full, g_full, w_full) = grads
    assert torch.allclose(y_push, y_full, rtol=1e-5, atol=1e-6)
    assert torch.allclose(g_push, g_full, rtol=1e-5, atol=1e-5)
    assert torch.allclose(w_push[support], w_full[support], rtol=1e-5, atol=1e-5)
    assert float(g_push[support].abs().sum()) > 0  # a factor of 0 still gets its gradient
    assert float(w_push[~on].abs().sum()) == 0  # off the support: no gradient (the promise of `support`)
