"""`draw_from_table` draws exactly the options `draw_options` draws from the gathered rows, in fast mode (the
thresholds and bins) and in differentiable mode; `option_thresholds` against the inverse CDF at every u near them."""

import numpy as np
import pytest
import torch

from populace.behavior import YES_NO, draw_options
from populace.behavior.interface import decision_stream, draw_from_table, option_thresholds
from populace.core import AgentTable, World
from populace.core.rng import FLOAT32_UNIFORMS, float32_uniform
from populace.sampling import bernoulli, categorical


class Options:
    def __init__(self, k):
        self.decisions = {"act": YES_NO if k == 2 else tuple(f"o{i}" for i in range(k))}


def agents(n):
    return AgentTable({"age": torch.zeros(n, dtype=torch.uint8)})


def rows_table(k, rows=40, dtype=torch.float32, seed=0):
    """Random rows with some zeros (a skipped option, a last option never drawn, a sure first option)."""
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(rows, k, generator=g, dtype=torch.float64) ** 3
    p[:5, 1], p[5:10, -1], p[10:12] = 0, 0, 0
    p[10:12, 0] = 1
    return (p / p.sum(-1, keepdim=True)).to(dtype)


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_thresholds_split_the_uniforms_as_the_inverse_cdf_does(k, dtype):
    p = rows_table(k, dtype=dtype)
    t = option_thresholds(p)  # [R, K - 1]
    finite = torch.isfinite(t)
    m = torch.where(finite, t.double() * FLOAT32_UNIFORMS - 0.5, 0.0).round().long()  # each threshold's step
    steps = torch.cat([m + d for d in (-1, 0, 1)] + [torch.tensor([[0, FLOAT32_UNIFORMS - 1]]).expand(len(p), 2)], 1)
    u = float32_uniform(steps.clamp(0, FLOAT32_UNIFORMS - 1))  # [R, U]: at, just below and above each threshold
    rows = p.repeat_interleave(u.shape[1], 0)
    expected = (~bernoulli(rows[:, 0], u.reshape(-1), validate=False)).long() if k == 2 else categorical(
        rows, u.reshape(-1), validate=False)
    got = (u.reshape(-1, 1) >= t.repeat_interleave(u.shape[1], 0)).sum(1)
    assert torch.equal(got, expected)
    assert torch.isinf(t[10:12]).all()  # a sure first option: no u picks another


@pytest.mark.parametrize("k", [2, 5])
def test_draws_from_the_table_are_the_draws_from_its_rows(k):
    n = 50_000
    world = World.of(agents(n), seed=4).advance(3)
    table = rows_table(k)
    keys = np.random.default_rng(1).integers(0, 30, n).astype(np.uint16)  # rows 30.. are never used
    expected = draw_options(world, decision_stream("act"), table[torch.from_numpy(keys.astype(np.int64))])
    used = torch.from_numpy(np.unique(keys).astype(np.int64))
    assert torch.equal(draw_from_table(Options(k), "act", world, table, keys, used), expected)
    assert torch.equal(draw_from_table(Options(k), "act", world, table, torch.from_numpy(keys).int()), expected)
    same = draw_options(world, decision_stream("act"), table[7].expand(n, k))
    assert torch.equal(draw_from_table(Options(k), "act", world, table, 7), same)


def test_differentiable_draws_are_the_straight_through_rows():
    n = 1000
    world = World.of(agents(n), seed=2, differentiable=True)
    table = rows_table(5, dtype=torch.float64).requires_grad_()
    keys = np.arange(n, dtype=np.uint16) % 40
    draws = draw_from_table(Options(5), "act", world, table, keys)
    assert torch.equal(draws, draw_options(world, decision_stream("act"), table[torch.from_numpy(keys.astype(int))]))
    draws[:, 2].sum().backward()
    assert table.grad[:, 2].sum() == n  # the identity gradient of each agent's row


def test_a_bad_table_is_refused():
    world = World.of(agents(4), seed=0)
    with pytest.raises(ValueError, match="sum to 1"):
        draw_from_table(Options(2), "act", world, torch.tensor([[0.5, 0.6]]), 0)
