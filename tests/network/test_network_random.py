"""Random contacts: Erdős–Rényi degrees and symmetry; daily random mixing's contact counts and order invariance."""

import pytest
import torch

import populace.network.build as network_build
from populace.core import AgentTable, World, rng
from populace.network import ContactLayer, RandomMixing, erdos_renyi


def test_erdos_renyi_has_poisson_degrees_no_self_loops_and_is_symmetric():
    n, k = 50_000, 12.0
    layer = erdos_renyi(n, k, seed=3)
    degree = layer.degree().double()
    # Poisson(k): mean k and variance k; the mean over n agents has standard error sqrt(k / n)
    assert float(degree.mean()) == pytest.approx(k, abs=4 * (k / n) ** 0.5 + k / n)  # + merged repeats
    assert float(degree.var()) == pytest.approx(k, rel=0.05)
    rows = torch.repeat_interleave(torch.arange(n), layer.degree().long())
    assert not bool((rows == layer.col.long()).any())
    assert layer.is_symmetric
    assert torch.equal(erdos_renyi(n, k, seed=3).col, layer.col)  # reproducible from its seed


def _erdos_renyi_by_from_edges(n: int, k: float, seed: int, weight: float | None) -> ContactLayer:
    """The layer as it was built before the blocked build: all pairs at once through from_edges."""
    pair_ids = torch.arange(round(n * k / 2))
    src = rng.randint(seed, 0, "erdos_renyi.src", pair_ids, n)
    dst = rng.randint(seed, 0, "erdos_renyi.dst", pair_ids, n)
    w = None if weight is None else torch.full((pair_ids.numel(),), float(weight))
    return ContactLayer.from_edges(n, src, dst, w, symmetric=True)


@pytest.mark.parametrize("edges_per_block", [16, 1000, network_build.EDGES_PER_BLOCK])
@pytest.mark.parametrize(
    ("n", "k", "weight"),
    # n = 3, 30: most pairs repeat or are self-pairs; 20k: a few repeats; weighted repeats have summed weights
    [(2, 0.4, None), (3, 1.5, None), (5, 3.0, 0.5), (30, 20.0, None), (30, 25.0, 2.0), (20_000, 12.0, None),
     (20_000, 12.0, 0.3)],
)
def test_erdos_renyi_builds_the_layer_from_edges_builds_from_the_same_pairs(monkeypatch, n, k, weight,
                                                                          edges_per_block):
    monkeypatch.setattr(network_build, "EDGES_PER_BLOCK", edges_per_block)
    layer = erdos_renyi(n, k, seed=5, weight=weight)
    reference = _erdos_renyi_by_from_edges(n, k, 5, weight)
    for name in ("crow", "col", "weight"):
        got, want = getattr(layer, name), getattr(reference, name)
        assert (got is None) == (want is None)
        if want is not None:
            assert got.dtype == want.dtype
            assert torch.equal(got, want), name
    assert layer.is_symmetric
    assert int(layer.crow[-1]) == layer.n_edges == int(layer.degree().sum())
    if n <= 30:
        dense = layer.dense()
        assert torch.equal(dense, dense.T)
        assert not bool(dense.diagonal().any())


def test_random_mixing_gives_two_contacts_per_call_and_no_self_contacts():
    n, calls = 20_000, 3
    world = World.of(AgentTable({"x": torch.zeros(n)}), seed=1)
    mixing = RandomMixing(calls)
    contacts = mixing.aggregate(torch.ones(n), world)  # with x = 1 the sum counts each agent's contacts
    assert mixing.mean_contacts == 6.0
    # each agent: 3 own calls (minus rare self-calls) + Binomial(3n, 1/n) incoming: mean 6, variance about 3
    assert float(contacts.mean()) == pytest.approx(6.0, abs=4 * (3 / n) ** 0.5)
    assert float(contacts.var()) == pytest.approx(3.0, rel=0.1)
    tomorrow = mixing.aggregate(torch.arange(n, dtype=torch.float32), world.advance())
    assert not torch.equal(tomorrow, mixing.aggregate(torch.arange(n, dtype=torch.float32), world))


def test_random_mixing_is_invariant_to_agent_order():
    n = 5_000
    values = torch.rand(n, generator=torch.Generator().manual_seed(0))
    world = World.of(AgentTable({"value": values}), seed=7)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    shuffled = World.of(world.agents.take(perm), seed=7)
    mixing = RandomMixing(4)
    reference = mixing.aggregate(world.agents.value, world)
    assert torch.allclose(mixing.aggregate(shuffled.agents.value, shuffled), reference[perm], atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"calls_per_agent": 0}, "calls_per_agent must be an int >= 1"), ({"calls_per_agent": 2, "weight": -1.0},
                                                                       "weight must be >= 0")],
)
def test_random_mixing_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomMixing(**kwargs)


def test_erdos_renyi_rejects_bad_settings():
    with pytest.raises(ValueError, match="at least 2 agents"):
        erdos_renyi(1, 1.0, seed=0)
    with pytest.raises(ValueError, match=r"mean_degree must be in \(0, n_agents=10\)"):
        erdos_renyi(10, 10.0, seed=0)
    with pytest.raises(ValueError, match="weight must be a finite number >= 0"):
        erdos_renyi(10, 2.0, seed=0, weight=-1.0)
