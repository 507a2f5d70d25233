"""Aggregation y = A x: against a dense reference, gradcheck in float64, and what the backward keeps."""

import pytest
import torch

from populace.network import ContactGraph, ContactLayer, aggregate


def random_layer(
    n: int = 30, n_edges: int = 120, *, weighted: bool = True, symmetric: bool = True, seed: int = 0
) -> ContactLayer:
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (n_edges,), generator=g)
    dst = torch.randint(0, n, (n_edges,), generator=g)
    w = torch.rand(n_edges, generator=g, dtype=torch.float64) + 0.1 if weighted else None
    return ContactLayer.from_edges(n, src, dst, w, symmetric=symmetric)


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("shape", [(30,), (30, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_aggregate_matches_dense_reference(symmetric, weighted, shape, dtype):
    layer = random_layer(weighted=weighted, symmetric=symmetric)
    x = torch.rand(shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    y = layer.aggregate(x)
    expected = layer.dense().to(torch.float64) @ x.to(torch.float64)
    assert y.dtype == dtype
    assert y.shape == x.shape
    torch.testing.assert_close(y.to(torch.float64), expected, rtol=1e-6, atol=1e-6)


def test_aggregate_sums_weighted_contacts_by_hand():
    # 0 -> 1 (w 2), 0 -> 2 (w 3), 2 -> 0 (w 5); agent 1 has no contacts
    layer = ContactLayer.from_edges(3, [0, 0, 2], [1, 2, 0], [2.0, 3.0, 5.0], symmetric=False)
    x = torch.tensor([1.0, 10.0, 100.0])
    torch.testing.assert_close(layer.aggregate(x), torch.tensor([2 * 10.0 + 3 * 100.0, 0.0, 5 * 1.0]))


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("shape", [(12,), (12, 2)])
def test_gradcheck_x(symmetric, shape):
    layer = random_layer(n=12, n_edges=30, symmetric=symmetric)
    x = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer.aggregate, (x,))


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("shape", [(12,), (12, 2)])
def test_gradcheck_weights_and_x(symmetric, shape):
    base = random_layer(n=12, n_edges=30, symmetric=symmetric)
    w = base.weight.detach().clone().requires_grad_()
    x = torch.rand(shape, dtype=torch.float64, requires_grad=True)

    def f(w, x):
        return base.with_weight(w).aggregate(x)  # not claimed symmetric: the backward uses the transpose

    assert torch.autograd.gradcheck(f, (w, x))


def test_gradcheck_weights_of_symmetric_layer_reuses_layer():
    base = random_layer(n=12, n_edges=30, symmetric=True)
    w = base.weight.detach().clone().requires_grad_()
    x = torch.rand(12, 2, dtype=torch.float64, requires_grad=True)

    def f(w, x):  # gradcheck perturbs single weights, making A asymmetric: skip the check
        return base.with_weight(w, is_symmetric=True, validate=False).aggregate(x)

    assert torch.autograd.gradcheck(f, (w, x))


def test_unsymmetric_backward_is_transposed_product():
    layer = random_layer(symmetric=False)
    a = layer.dense()
    assert not torch.equal(a, a.T)  # the test needs a layer that is not symmetric
    x = torch.rand(30, 2, dtype=torch.float64, requires_grad=True)
    g = torch.rand(30, 2, dtype=torch.float64)
    layer.aggregate(x).backward(g)
    torch.testing.assert_close(x.grad, a.T @ g)


def test_weight_gradient_is_grad_y_at_row_times_x_at_col():
    layer = random_layer(symmetric=False)
    w = layer.weight.detach().clone().requires_grad_()
    x = torch.rand(30, 2, dtype=torch.float64)
    g = torch.rand(30, 2, dtype=torch.float64)
    layer.with_weight(w).aggregate(x).backward(g)
    rows = torch.repeat_interleave(torch.arange(30), layer.degree().long())
    torch.testing.assert_close(w.grad, (g[rows] * x[layer.col.long()]).sum(1))


def test_float32_weights_with_float64_x():
    layer = random_layer().to(dtype=torch.float32)
    w = layer.weight.detach().clone().requires_grad_()
    x = torch.rand(30, dtype=torch.float64, requires_grad=True)
    y = layer.with_weight(w, is_symmetric=True).aggregate(x)
    assert y.dtype == torch.float64
    torch.testing.assert_close(y, layer.dense().double() @ x.detach())
    y.sum().backward()
    assert w.grad.dtype == torch.float32
    assert x.grad.dtype == torch.float64


def test_no_grad_path_builds_no_graph():
    layer = random_layer()
    x = torch.rand(30, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        y = layer.aggregate(x)
    assert y.grad_fn is None
    assert layer.aggregate(x.detach()).grad_fn is None
    assert layer.aggregate(x).grad_fn is not None


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("weight_grad", [True, False])
def test_backward_saves_nothing_per_edge(symmetric, weight_grad):
    layer = random_layer(n=30, n_edges=200, symmetric=symmetric)
    n_edges = layer.n_edges
    assert n_edges not in (30, 60)  # so that a per-edge tensor is recognisable by its size
    w = layer.weight.detach().clone().requires_grad_(weight_grad)
    layer = layer.with_weight(w, is_symmetric=symmetric)
    x = torch.rand(30, 2, dtype=torch.float64, requires_grad=True)
    saved = []

    def pack(t):
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = layer.aggregate(x)
    assert all(numel != n_edges for numel in saved), saved
    assert saved == ([60] if weight_grad else [])  # x only, and only for grad_w
    y.sum().backward()


def test_transpose_is_cached_and_exact():
    layer = random_layer(symmetric=False)
    t = layer.transpose()
    assert t is layer.transpose()
    assert t.transpose() is layer
    torch.testing.assert_close(t.dense(), layer.dense().T)
    symmetric = random_layer(symmetric=True)
    assert symmetric.transpose() is symmetric


def test_int32_indices_go_to_the_kernel_without_copy():
    layer = random_layer()
    assert layer.crow.dtype == torch.int32
    assert layer.col.dtype == torch.int32
    csr = layer.to_sparse_csr(torch.float64)
    assert csr.crow_indices().data_ptr() == layer.crow.data_ptr()
    assert csr.col_indices().data_ptr() == layer.col.data_ptr()
    assert csr.values().data_ptr() == layer.weight.data_ptr()  # same dtype: no copy of the weights either


def test_int64_row_offsets_path():
    # layers with E >= 2**31 keep int64 crow; simulate one on a small layer (col gets a cached int64 copy)
    small = random_layer(n=12, n_edges=30)
    big = ContactLayer._trusted(small.n_agents, small.crow.long(), small.col, small.weight, False)
    x = torch.rand(12, 2, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(big.aggregate(x), small.aggregate(x))
    assert torch.autograd.gradcheck(big.aggregate, (x,))


def test_layer_without_edges_gives_zeros():
    layer = ContactLayer.from_edges(4, [], [])
    assert layer.n_edges == 0
    x = torch.rand(4, 2, requires_grad=True)
    y = layer.aggregate(x)
    torch.testing.assert_close(y, torch.zeros(4, 2))
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.zeros(4, 2))


def test_module_function_equals_method():
    layer = random_layer()
    x = torch.rand(30, dtype=torch.float64)
    torch.testing.assert_close(aggregate(layer, x), layer.aggregate(x))


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.arange(30), TypeError, "must be float32 or float64, got torch.int64"),
        (torch.rand(29), ValueError, r"shape \[N\] or \[N, K\] with N = n_agents = 30, got \(29,\)"),
        (torch.rand(30, 2, 2), ValueError, r"got \(30, 2, 2\)"),
        ([0.0] * 30, TypeError, "must be a torch.Tensor"),
    ],
)
def test_bad_x_is_refused(x, error, match):
    with pytest.raises(error, match=match):
        random_layer().aggregate(x)


def test_graph_aggregate_scales_layers_and_gradient_reaches_scale():
    home = random_layer(seed=1)
    work = random_layer(seed=2, weighted=False)
    graph = ContactGraph(30, {"home": home, "work": work})
    x = torch.rand(30, dtype=torch.float64)
    lockdown = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    y = graph.aggregate(x, scale={"work": lockdown})
    a_home, a_work = home.dense(), work.dense().double()
    torch.testing.assert_close(y, a_home @ x + 0.3 * (a_work @ x))
    y.sum().backward()
    torch.testing.assert_close(lockdown.grad, (a_work @ x).sum())  # d/ds sum(A_home x + s A_work x)


def test_graph_aggregate_layer_choice_and_zero_scale():
    home, work = random_layer(seed=1), random_layer(seed=2)
    graph = ContactGraph(30, {"home": home, "work": work})
    x = torch.rand(30, 2, dtype=torch.float64)
    torch.testing.assert_close(graph.aggregate(x), home.aggregate(x) + work.aggregate(x))
    torch.testing.assert_close(graph.aggregate(x, layers="work"), work.aggregate(x))
    torch.testing.assert_close(graph.aggregate(x, scale={"work": 0.0}), home.aggregate(x))
    doubled = graph.aggregate(x, scale={"work": 2})
    torch.testing.assert_close(doubled, home.aggregate(x) + 2 * work.aggregate(x))
    torch.testing.assert_close(graph.aggregate(x, layers=[]), torch.zeros(30, 2, dtype=torch.float64))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layers": ["school"]}, KeyError, "unknown layer 'school'.*home, work"),
        ({"layers": ["home"], "scale": {"work": 0.5}}, KeyError, "scale given for layer 'work'"),
        ({"scale": {"work": -1.0}}, ValueError, r"scale\['work'\] must be a finite number >= 0"),
        ({"scale": {"work": float("nan")}}, ValueError, r"scale\['work'\] must be a finite number >= 0"),
        ({"scale": {"work": torch.ones(2)}}, ValueError, r"0-dim tensor, got shape \(2,\)"),
    ],
)
def test_graph_aggregate_bad_arguments(kwargs, error, match):
    graph = ContactGraph(30, {"home": random_layer(seed=1), "work": random_layer(seed=2)})
    with pytest.raises(error, match=match):
        graph.aggregate(torch.rand(30), **kwargs)
