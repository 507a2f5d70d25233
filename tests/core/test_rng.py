"""Counter-based randomness: uniform, independent across streams/steps/seeds, order and batch invariant."""

import pytest
import torch
from scipy import stats

from populace.core import rng

N = 200_000
IDS = torch.arange(N, dtype=torch.int32)


def _reference_bits(seed: int, step: int, stream: str, agent_id: int) -> int:
    """The documented construction in plain Python integers (unbounded, masked by hand)."""
    m32 = 0xFFFFFFFF

    def mix(x: int) -> int:
        x ^= x >> 16
        x = (x * 0x21F0AAAD) & m32
        x ^= x >> 15
        x = (x * 0x735A2D97) & m32
        return x ^ (x >> 15)

    k1, k2 = rng.draw_keys(seed, step, stream)
    return mix(mix(agent_id ^ k1) ^ k2)


def test_tensor_ops_match_scalar_reference_arithmetic():
    ids = torch.tensor([0, 1, 2, 12345, 2**31 - 1, 2**32 - 1], dtype=torch.int64)
    got = rng.random_bits(7, 3, "transmission", ids).tolist()
    assert got == [_reference_bits(7, 3, "transmission", int(i)) for i in ids]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_uniform_is_uniform_chi_square_and_ks(dtype):
    u = rng.uniform(seed=1, step=0, stream="test", agent_ids=IDS, dtype=dtype)
    assert u.dtype == dtype
    assert float(u.min()) > 0.0
    assert float(u.max()) < 1.0
    counts = torch.histc(u.double(), bins=100, min=0.0, max=1.0)
    # fixed seed; false-alarm rate 1e-3 per test
    assert stats.chisquare(counts.numpy()).pvalue > 1e-3
    assert stats.kstest(u.double().numpy(), "uniform").pvalue > 1e-3


def test_float32_extremes_stay_inside_the_open_interval():
    # the largest and smallest 23-bit codes map to 1 - 2**-24 and 2**-24, both exactly representable
    top = (torch.tensor([2**23 - 1, 0]).float() + 0.5) * 2.0**-23
    assert top.tolist() == [1 - 2**-24, 2**-24]


@pytest.mark.parametrize(
    ("other_seed", "other_step", "other_stream"),
    [(1, 0, "b"), (1, 1, "a"), (2, 0, "a")],
    ids=["stream", "step", "seed"],
)
def test_draws_are_independent_across_streams_steps_and_seeds(other_seed, other_step, other_stream):
    a = rng.uniform(1, 0, "a", IDS, dtype=torch.float64)
    b = rng.uniform(other_seed, other_step, other_stream, IDS, dtype=torch.float64)
    corr = torch.corrcoef(torch.stack([a, b]))[0, 1]
    assert abs(float(corr)) < 4 / N**0.5  # 4 standard errors of a zero correlation
    # joint 10x10 histogram of the pairs: independent uniforms fill cells evenly
    cells = (a * 10).long() * 10 + (b * 10).long()
    joint = torch.bincount(cells, minlength=100).double()
    assert stats.chisquare(joint.numpy()).pvalue > 1e-3
    # consecutive agents are not correlated either
    assert abs(float(torch.corrcoef(torch.stack([a[:-1], a[1:]]))[0, 1])) < 4 / N**0.5


def test_lanes_are_independent_columns():
    u = rng.uniform(3, 5, "gumbel", IDS, n=4, dtype=torch.float64)
    assert u.shape == (N, 4)
    corr = torch.corrcoef(u.T)
    off_diagonal = corr[~torch.eye(4, dtype=torch.bool)]
    assert float(off_diagonal.abs().max()) < 4 / N**0.5


def test_order_and_batch_invariance():
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(0))
    whole = rng.uniform(9, 4, "x", IDS)
    shuffled = rng.uniform(9, 4, "x", IDS[perm])
    assert torch.equal(shuffled, whole[perm])
    halves = torch.cat([rng.uniform(9, 4, "x", IDS[: N // 3]), rng.uniform(9, 4, "x", IDS[N // 3 :])])
    assert torch.equal(halves, whole)
    assert torch.equal(rng.uniform(9, 4, "x", IDS.long()), whole)  # id dtype does not matter


def test_randint_is_uniform_over_its_range():
    k = rng.randint(2, 0, "partners", IDS, high=7)
    assert int(k.min()) == 0
    assert int(k.max()) == 6
    assert stats.chisquare(torch.bincount(k, minlength=7).numpy()).pvalue > 1e-3


def test_stream_ids_are_stable_names():
    assert rng.stream_id("transmission") == rng.stream_id("transmission")
    assert rng.stream_id("transmission") != rng.stream_id("recovery")
    assert rng.stream_id(5) == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"agent_ids": torch.tensor([0.5])}, TypeError, "integer tensor"),
        ({"agent_ids": torch.tensor([-1])}, ValueError, r"agent ids must lie in \[0, 2\*\*32\)"),
        ({"agent_ids": torch.tensor([2**32])}, ValueError, "agent ids must lie"),
        ({"stream": ""}, TypeError, "non-empty str"),
        ({"stream": -3}, ValueError, "stream must be"),
        ({"seed": -1}, ValueError, "seed, step and lane must be >= 0"),
        ({"n": 0}, ValueError, "n \\(values per agent\\) must be >= 1"),
        ({"dtype": torch.int32}, TypeError, "float32 or float64, got torch.int32"),
        ({"dtype": torch.float16}, TypeError, "half-precision types round"),
    ],
)
def test_bad_arguments_raise_specific_errors(kwargs, error, match):
    args = {"seed": 1, "step": 0, "stream": "s", "agent_ids": torch.arange(3), **kwargs}
    with pytest.raises(error, match=match):
        rng.uniform(**args)


def test_randint_rejects_bad_high():
    with pytest.raises(ValueError, match="high must be in"):
        rng.randint(1, 0, "s", torch.arange(3), high=0)


def _int64_reference_bits(seed: int, step: int, stream: str, ids: torch.Tensor, lane: int = 0) -> torch.Tensor:
    """The hash as whole-tensor int64 operations with explicit masks (the implementation before the uint32 chunks)."""
    def mix(x: torch.Tensor) -> torch.Tensor:
        x = x ^ (x >> 16)
        x = (x * 0x21F0AAAD) & 0xFFFFFFFF
        x = x ^ (x >> 15)
        x = (x * 0x735A2D97) & 0xFFFFFFFF
        return x ^ (x >> 15)

    k1, k2 = rng.draw_keys(seed, step, stream, lane)
    return mix(mix(ids.long() ^ k1) ^ k2)


@pytest.mark.parametrize(("chunk", "block"), [(7, 20), (rng.CHUNK, rng.WRITE_BLOCK)])
def test_chunked_uint32_hash_equals_the_int64_reference_on_random_ids(monkeypatch, chunk, block):
    monkeypatch.setattr(rng, "CHUNK", chunk)
    monkeypatch.setattr(rng, "WRITE_BLOCK", block)
    gen = torch.Generator().manual_seed(12)
    for n in (1, chunk - 1, chunk + 1, block, block + chunk + 3):
        ids = torch.randint(0, 2**32, (n,), generator=gen, dtype=torch.int64)
        ids[:2] = torch.tensor([0, 2**32 - 1])[:n]
        bits = _int64_reference_bits(4, 9, "s", ids, lane=2)
        assert torch.equal(rng.random_bits(4, 9, "s", ids, n=3)[:, 2], bits)
        assert torch.equal(rng.randint(4, 9, "s", ids, 1000, lane=2), (bits * 1000) >> 32)
        assert torch.equal(rng.uniform(4, 9, "s", ids, n=3)[:, 2],
                           ((bits >> 9).float() + 0.5) * 2.0**-23)
        assert torch.equal(rng.uniform(4, 9, "s", ids, dtype=torch.float64, n=3)[:, 2],
                           (bits.double() + 0.5) * 2.0**-32)
