"""Building contact layers and graphs: exact CSR on tiny graphs, group cliques, and every refused input."""

import numpy as np
import pytest
import torch

from populace.network import ContactGraph, ContactLayer


def neighbours(layer: ContactLayer) -> list[list[int]]:
    crow, col = layer.crow.tolist(), layer.col.tolist()
    return [col[crow[i] : crow[i + 1]] for i in range(layer.n_agents)]


def row_weights(layer: ContactLayer) -> list[list[float]]:
    crow, w = layer.crow.tolist(), layer.weight.tolist()
    return [w[crow[i] : crow[i + 1]] for i in range(layer.n_agents)]


# ---------------------------------------------------------------------- from_edges
def test_from_edges_symmetric_three_agents():
    layer = ContactLayer.from_edges(3, [0, 0], [1, 2])  # the module docstring's example
    assert layer.crow.tolist() == [0, 2, 3, 4]
    assert layer.col.tolist() == [1, 2, 0, 0]
    assert layer.weight is None
    assert layer.is_symmetric
    assert layer.degree().tolist() == [2, 1, 1]
    assert layer.n_edges == 4


def test_edges_list_each_contact_in_weight_order_and_a_weight_of_both_ends_aggregates_as_its_sum():
    layer = ContactLayer.from_edges(4, [2, 0, 2, 0, 2], [3, 2, 0, 1, 3], [1.0, 2.0, 3.0, 4.0, 5.0], symmetric=False)
    i, j = layer.edges()
    assert (i.dtype, j.dtype) == (torch.int64, torch.int64)
    contacts = list(zip(i.tolist(), j.tolist(), layer.weight.tolist(), strict=True))
    assert contacts == [(0, 1, 4.0), (0, 2, 2.0), (2, 0, 3.0), (2, 3, 6.0)]
    x = torch.tensor([0.1, 0.2, 0.4, 0.8])
    y = layer.with_weight((x[j] - x[i]).abs()).aggregate(x)  # y_i = sum_j |x_j - x_i| x_j
    assert y.tolist() == pytest.approx([0.1 * 0.2 + 0.3 * 0.4, 0.0, 0.3 * 0.1 + 0.4 * 0.8, 0.0])


def test_from_edges_drops_self_loops_and_merges_unweighted_duplicates():
    layer = ContactLayer.from_edges(4, [3, 1, 1, 2, 0], [1, 3, 3, 2, 3], symmetric=False)
    assert neighbours(layer) == [[3], [3], [], [1]]  # 2 -> 2 dropped; 1 -> 3 listed twice, kept once
    assert not layer.is_symmetric


def test_from_edges_sums_weights_of_duplicates_after_symmetrizing():
    # (0, 1) listed both ways with 0.5 each: w_01 = w_10 = 1.0 (the documented trap); (1, 2) once with 2.0
    layer = ContactLayer.from_edges(3, [0, 1, 1], [1, 0, 2], [0.5, 0.5, 2.0])
    assert neighbours(layer) == [[1], [0, 2], [1]]
    assert row_weights(layer) == [[1.0], [1.0, 2.0], [2.0]]
    torch.testing.assert_close(layer.dense(), layer.dense().T)


def test_from_edges_directed_weighted_sorted_within_rows():
    src, dst, w = [2, 0, 2, 0, 2], [3, 2, 0, 1, 3], [1.0, 2.0, 3.0, 4.0, 5.0]
    layer = ContactLayer.from_edges(4, src, dst, w, symmetric=False)
    assert neighbours(layer) == [[1, 2], [], [0, 3], []]
    assert row_weights(layer) == [[4.0, 2.0], [], [3.0, 6.0], []]


def test_from_edges_accepts_lists_numpy_and_tensors_alike():
    src, dst, w = [0, 1, 2], [1, 2, 3], [1.0, 2.0, 3.0]
    layers = [
        ContactLayer.from_edges(4, src, dst, w),
        ContactLayer.from_edges(4, np.array(src, dtype=np.int32), np.array(dst), np.array(w)),
        ContactLayer.from_edges(4, torch.tensor(src, dtype=torch.int16), torch.tensor(dst), torch.tensor(w)),
    ]
    for layer in layers:
        assert layer.crow.tolist() == [0, 1, 3, 5, 6]
        assert layer.col.tolist() == [1, 0, 2, 1, 3, 2]
        assert layer.crow.dtype == layer.col.dtype == torch.int32
    assert layers[1].weight.dtype == torch.float64  # float weights keep their dtype
    assert ContactLayer.from_edges(2, [0], [1], [3]).weight.dtype == torch.float32  # integer weights: float32


def test_from_edges_random_matches_brute_force():
    g = torch.Generator().manual_seed(3)
    n = 25
    src, dst = torch.randint(0, n, (200,), generator=g), torch.randint(0, n, (200,), generator=g)
    w = torch.rand(200, generator=g, dtype=torch.float64)
    expected = torch.zeros(n, n, dtype=torch.float64)
    for s, d, x in zip(src.tolist(), dst.tolist(), w.tolist(), strict=True):
        if s != d:
            expected[s, d] += x
            expected[d, s] += x
    torch.testing.assert_close(ContactLayer.from_edges(n, src, dst, w).dense(), expected)
    unweighted = ContactLayer.from_edges(n, src, dst).dense()
    torch.testing.assert_close(unweighted, (expected > 0).float())


# ---------------------------------------------------------------------- from_groups
def test_from_groups_hand_example():
    # households: {0, 1, 5}, {2, 4}; agent 3 in none; agent 6 alone in group 9
    layer = ContactLayer.from_groups([7, 7, 2, -1, 2, 7, 9])
    assert neighbours(layer) == [[1, 5], [0, 5], [4], [], [2], [0, 1], []]
    assert layer.degree().tolist() == [2, 2, 1, 0, 1, 2, 0]
    assert layer.is_symmetric
    assert layer.weight is None
    weighted = ContactLayer.from_groups(torch.tensor([7, 7, 2, -1, 2, 7, 9]), weight=0.25)
    assert weighted.weight.tolist() == [0.25] * 8


def test_from_groups_random_matches_brute_force():
    g = torch.Generator().manual_seed(5)
    groups = torch.randint(-1, 12, (80,), generator=g)
    ids = groups.tolist()
    expected = [[j for j in range(80) if j != i and gi >= 0 and ids[j] == gi] for i, gi in enumerate(ids)]
    layer = ContactLayer.from_groups(groups)
    assert neighbours(layer) == expected
    torch.testing.assert_close(layer.transpose().dense(), layer.dense())


def test_from_groups_all_alone_or_empty():
    layer = ContactLayer.from_groups([-1, 4, -1])
    assert layer.n_edges == 0
    assert layer.crow.tolist() == [0, 0, 0, 0]


def test_graph_from_groups_builds_named_layers():
    graph = ContactGraph.from_groups(
        5, {"household": [0, 0, 1, 1, 1], "school": [-1, 3, -1, 3, -1]}, weights={"school": 0.5}
    )
    assert graph.names == ("household", "school")
    assert neighbours(graph["household"]) == [[1], [0], [3, 4], [2, 4], [2, 3]]
    assert neighbours(graph["school"]) == [[], [3], [], [1], []]
    assert graph["school"].weight.tolist() == [0.5, 0.5]
    assert graph.degree("household").tolist() == [1, 1, 2, 2, 2]
    assert graph.n_edges == 8 + 2


# ---------------------------------------------------------------------- layer and graph objects
def test_graph_mapping_and_with_layer():
    home = ContactLayer.from_edges(3, [0], [1])
    work = ContactLayer.from_edges(3, [1], [2])
    graph = ContactGraph.from_edges(3, {"home": ([0], [1]), "work": ([1], [2], [2.0])})
    assert len(graph) == 2
    assert "work" in graph
    assert "school" not in graph
    assert list(graph) == ["home", "work"]
    assert list(graph.layers) == ["home", "work"]
    torch.testing.assert_close(graph["work"].dense(), 2 * work.dense())
    bigger = graph.with_layer("school", home)
    assert bigger.names == ("home", "work", "school")
    assert graph.names == ("home", "work")  # the original is unchanged
    assert graph.with_layer("work", home)["work"] is home
    with pytest.raises(TypeError):
        graph.layers["x"] = home  # read-only mapping


def test_layer_to_dtype_and_device_in_place_like_any_module():
    layer = ContactLayer.from_edges(3, [0, 1], [1, 2], [1.0, 2.0])
    assert layer.to("cpu") is layer
    crow = layer.crow
    assert layer.to(dtype=torch.float64) is layer
    assert layer.weight.dtype == torch.float64
    assert layer.crow is crow  # indices keep their dtype (int32): not copied
    assert layer.is_symmetric
    torch.testing.assert_close(layer.aggregate(torch.ones(3, dtype=torch.float64)),
                               torch.tensor([1.0, 3.0, 2.0], dtype=torch.float64))
    graph = ContactGraph(3, {"a": ContactLayer.from_edges(3, [0], [1], [1.0])}).to(dtype=torch.float64)
    assert graph["a"].weight.dtype == torch.float64
    with pytest.raises(TypeError, match=r"only accepts floating point or complex dtypes"):
        layer.to(dtype=torch.int32)


def test_contacts_move_with_the_module_that_holds_them_and_stay_out_of_its_state_dict():
    holder = torch.nn.Module()
    holder.graph = ContactGraph(3, {"home": ContactLayer.from_edges(3, [0, 1], [1, 2], [1.0, 2.0])})
    holder.layer = ContactLayer.from_edges(3, [0], [2])
    holder.layer.transpose()  # caches built from the old tensors must not survive the move
    assert holder.state_dict() == {}
    holder.to("meta")
    assert holder.graph["home"].device.type == "meta"
    assert holder.graph["home"].weight.device.type == "meta"
    assert holder.layer.device.type == "meta"
    assert holder.layer.transpose().crow.device.type == "meta"


def test_constructor_casts_indices_and_accepts_valid_csr():
    crow, col, w = torch.tensor([0, 1, 3, 3]), torch.tensor([2, 0, 1]), torch.tensor([1.0, 2.0, 3.0])
    layer = ContactLayer(3, crow, col, w)
    assert layer.crow.dtype == layer.col.dtype == torch.int32
    assert neighbours(layer) == [[2], [0, 1], []]  # self-contacts are allowed in a hand-built layer
    crow, col, w = torch.tensor([0, 1, 2]), torch.tensor([1, 0]), torch.tensor([0.5, 0.5])
    sym = ContactLayer(2, crow, col, w, is_symmetric=True)
    assert sym.transpose() is sym


# ---------------------------------------------------------------------- refused input
@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((3, [0, 3, 5], [1, 1, -1]), {"name": "work"}, IndexError,
         r"layer 'work': 3 agent ids out of range \[0, 3\) \(e.g. src\[1\]=3, src\[2\]=5, dst\[2\]=-1\)"),
        ((3, [0.0, 1.0], [1, 2]), {}, TypeError, "src must hold integer agent ids, got dtype torch.float"),
        ((3, [True], [False]), {}, TypeError, "got dtype torch.bool"),
        ((3, [0, 1], [1]), {}, ValueError, "src and dst must have the same length, got 2 and 1"),
        ((3, [[0, 1]], [[1, 2]]), {}, ValueError, r"src must be 1-D, got shape \(1, 2\)"),
        ((3, [0, 1], [1, 2], [1.0, -2.0]), {}, ValueError, r"finite and >= 0; 1 bad .*weight\[1\]=-2.0"),
        ((3, [0, 1], [1, 2], [float("nan"), 1.0]), {}, ValueError, r"weight\[0\]=nan"),
        ((3, [0, 1], [1, 2], [1.0]), {}, ValueError, r"shape \[E\] = \(2,\)"),
        ((0, [], []), {}, ValueError, r"n_agents must be in \[1, 2\*\*31 - 1\] \(int32 agent ids\), got 0"),
        ((3.0, [0], [1]), {}, TypeError, "n_agents must be an int, got float"),
        ((True, [0], [1]), {}, TypeError, "n_agents must be an int, got bool"),
    ],
)
def test_from_edges_refuses(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ContactLayer.from_edges(*args, **kwargs)


def test_from_groups_refuses_large_groups_with_the_fix():
    groups = torch.tensor([0] * 6 + [1] * 3)
    with pytest.raises(ValueError, match=r"layer 'work': group 0 has 6 agents, over max_group_size=5 .*"
                       r"30 contacts.*pass max_group_size=6"):
        ContactLayer.from_groups(groups, max_group_size=5, name="work")
    assert ContactLayer.from_groups(groups, max_group_size=6).n_edges == 30 + 6


@pytest.mark.parametrize(
    ("groups", "kwargs", "error", "match"),
    [
        ([0, -2, -3], {}, ValueError, r"2 agents have other negative ids \(e.g. group_of_agent\[1\]=-2"),
        ([0.5, 1.0], {}, TypeError, "group_of_agent must hold integer group ids"),
        ([], {}, ValueError, "group_of_agent is empty"),
        ([0, 0], {"weight": -1.0}, ValueError, "weight must be a finite number >= 0 or None, got -1.0"),
        ([0, 0], {"weight": float("inf")}, ValueError, "weight must be a finite number >= 0"),
    ],
)
def test_from_groups_refuses(groups, kwargs, error, match):
    with pytest.raises(error, match=match):
        ContactLayer.from_groups(groups, **kwargs)


@pytest.mark.parametrize(
    ("crow", "col", "weight", "kwargs", "error", "match"),
    [
        ([0, 1, 2], [1, 0], None, {}, ValueError, r"crow must have N \+ 1 = 4 entries"),
        ([1, 1, 2, 2], [1, 0], None, {}, ValueError, r"crow must start at 0.*crow\[0\]=1"),
        ([0, 2, 1, 2], [1, 0], None, {}, ValueError, "never decrease"),
        ([0, 1, 2, 2], [1, 3], None, {}, IndexError, r"1 col ids out of range \[0, 3\) \(e.g. col\[1\]=3\)"),
        ([0, 2, 2, 2], [2, 1], None, {}, ValueError, r"strictly increasing within each row.*col\[1\]=1"),
        ([0, 2, 2, 2], [1, 1], None, {}, ValueError, "no duplicate contacts"),
        ([0, 1, 2, 2], [1, 0], [1.0, -1.0], {}, ValueError, "finite and >= 0"),
        ([0, 1, 2, 2], [1, 0], [1, 1], {}, TypeError, "weight must be a float tensor, got torch.int64"),
        ([0, 1, 1, 1], [1], None, {"is_symmetric": True}, ValueError, r"is_symmetric=True but A != A\^T"),
        ([0, 1, 2, 2], [1, 0], [1.0, 2.0], {"is_symmetric": True}, ValueError, "contacts or weights"),
    ],
)
def test_constructor_refuses(crow, col, weight, kwargs, error, match):
    w = None if weight is None else torch.tensor(weight)
    with pytest.raises(error, match=match):
        ContactLayer(3, torch.tensor(crow), torch.tensor(col), w, **kwargs)


def test_constructor_refuses_float_indices():
    with pytest.raises(TypeError, match=r"crow must be a 1-D integer tensor, got torch.float32 \(4,\)"):
        ContactLayer(3, torch.zeros(4), torch.zeros(0, dtype=torch.int32))


def test_with_weight_refuses_asymmetric_claim_and_bad_shape():
    layer = ContactLayer.from_edges(3, [0, 1], [1, 2])
    with pytest.raises(ValueError, match=r"A != A\^T"):
        layer.with_weight(torch.tensor([1.0, 2.0, 3.0, 4.0]), is_symmetric=True)
    with pytest.raises(ValueError, match=r"must have shape \[E\] = \(4,\)"):
        layer.with_weight(torch.ones(3))
    assert not layer.with_weight(torch.ones(4)).is_symmetric


def test_graph_refuses_mismatched_layers_and_specs():
    small, big = ContactLayer.from_edges(3, [0], [1]), ContactLayer.from_edges(4, [0], [1])
    with pytest.raises(ValueError, match="layer 'work' has 4 agents but the graph has n_agents=3"):
        ContactGraph(3, {"home": small, "work": big})
    with pytest.raises(TypeError, match="layer 'home' must be a ContactLayer, got tuple"):
        ContactGraph(3, {"home": ([0], [1])})
    with pytest.raises(TypeError, match="layer names must be non-empty strings"):
        ContactGraph(3, {"": small})
    with pytest.raises(ValueError, match=r"'home': expected \(src, dst\) or .*, got tuple of length 1"):
        ContactGraph.from_edges(3, {"home": ([0],)})
    with pytest.raises(ValueError, match="'school': group_of_agent has 2 entries, expected one per agent"):
        ContactGraph.from_groups(3, {"school": [0, 0]})
    with pytest.raises(KeyError, match=r"weights given for unknown layers \['work'\]"):
        ContactGraph.from_groups(3, {"school": [0, 0, 1]}, weights={"work": 1.0})
    graph = ContactGraph(3, {"home": small})
    with pytest.raises(KeyError, match="no layer 'work' \\(it has: home\\)"):
        graph["work"]


def test_dense_refuses_huge_layers():
    layer = ContactLayer.from_edges(20_000, [0], [1])
    with pytest.raises(ValueError, match=r"dense\(\) of 20000 agents would hold 400,000,000 entries"):
        layer.dense()


def test_graph_aggregate_refuses_layers_where_the_world_goes():
    graph = ContactGraph(3, {"work": ContactLayer.from_edges(3, [0], [1])})
    with pytest.raises(TypeError, match="pass the layers by keyword"):
        graph.aggregate(torch.ones(3), ["work"])
