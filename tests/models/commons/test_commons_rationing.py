"""Rationing: hand-checked cases, the exact distribution of a small case, the expectation (the proportional share),
chunking and partition invariance, the proportional variant and the relaxation's gradient."""

import math

import pytest
import torch

from populace.models.commons import rationing
from populace.models.commons.rationing import proportional_rationing, random_rationing, relaxed_rationing


def _ids(g: int, n: int) -> torch.Tensor:
    return torch.arange(g * n, dtype=torch.int32).reshape(g, n)


def _ration(h: list[float], w: list[list[float]], seed: int = 3, month: int = 0) -> torch.Tensor:
    w_t = torch.tensor(w)
    return random_rationing(torch.tensor(h), w_t, _ids(*w_t.shape), seed=seed, month=month)


def test_demand_within_the_pool_is_served_in_full():
    assert _ration([100.0, 7.0], [[10, 20, 30], [3, 4, 0]]).tolist() == [[10, 20, 30], [3, 4, 0]]


def test_hand_checked_over_demanded_cases():
    # one agent asks for everything: it gets the whole pool
    assert _ration([4.0], [[10, 0, 0]]).tolist() == [[4, 0, 0]]
    # an empty pool serves nobody
    assert _ration([0.0], [[2, 3, 1]]).tolist() == [[0, 0, 0]]
    # 5 units for (3, 3): the pool is emptied and each gets 2 or 3
    c = _ration([5.0], [[3, 3]])
    assert c.sum().item() == 5
    assert sorted(c[0].tolist()) == [2, 3]
    # 9 of 10 units: exactly one requested unit is left unserved
    c = _ration([9.0], [[4, 6]])
    assert c.sum().item() == 9
    assert (torch.tensor([[4, 6]]) - c).sum().item() == 1


def test_catches_never_exceed_requests_and_empty_the_pool():
    g = 2000
    w = torch.randint(0, 30, (g, 5), generator=torch.Generator().manual_seed(0)).float()
    h = torch.randint(0, 101, (g,), generator=torch.Generator().manual_seed(1)).float()
    c = random_rationing(h, w, _ids(g, 5), seed=5, month=2)
    assert bool((c <= w).all())
    assert bool((c >= 0).all())
    assert torch.equal(c.sum(dim=1), torch.minimum(h, w.sum(dim=1)))


def test_small_case_follows_the_hypergeometric_distribution():
    # w = (2, 3), h = 2: c_1 = k with probability C(2, k) C(3, 2 - k) / C(5, 2) = 3/10, 6/10, 1/10
    g = 40_000
    c1 = random_rationing(torch.full((g,), 2.0), torch.tensor([[2.0, 3.0]]).expand(g, 2), _ids(g, 2), seed=11,
                          month=4)[:, 0]
    for k, p in enumerate([0.3, 0.6, 0.1]):
        share = (c1 == k).double().mean().item()
        assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / g)  # 4 standard errors


def test_expected_catch_is_the_proportional_share():
    # E[c_i] = h w_i / W; Var = h p_i (1 - p_i) (W - h) / (W - 1), p_i = w_i / W
    g, h = 50_000, 10.0
    w = torch.tensor([1.0, 2.0, 3.0, 10.0, 4.0])
    total = w.sum().item()
    c = random_rationing(torch.full((g,), h), w.expand(g, 5), _ids(g, 5), seed=2, month=7)
    p = w / total
    se = torch.sqrt(h * p * (1 - p) * (total - h) / (total - 1) / g)
    assert bool(((c.mean(dim=0) - h * p).abs() < 4 * se).all())  # 4 standard errors per agent


def test_draws_do_not_depend_on_chunking_or_on_other_groups(monkeypatch):
    g = 300
    w = torch.randint(0, 40, (g, 5), generator=torch.Generator().manual_seed(4)).float()
    h = torch.full((g,), 60.0)
    ids = _ids(g, 5)
    whole = random_rationing(h, w, ids, seed=9, month=1)
    monkeypatch.setattr(rationing, "UNITS_PER_CHUNK", 700)
    assert torch.equal(random_rationing(h, w, ids, seed=9, month=1), whole)
    picked = torch.tensor([299, 3, 150])
    assert torch.equal(random_rationing(h[picked], w[picked], ids[picked], seed=9, month=1), whole[picked])
    assert not torch.equal(random_rationing(h, w, ids, seed=9, month=2), whole)


def test_too_large_a_request_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="Cap the requests"):
        _ration([10.0], [[2.0**19, 1.0]])


def test_proportional_variant_rounds_down():
    c = proportional_rationing(torch.tensor([5.0, 100.0]), torch.tensor([[6.0, 3.0, 1.0], [6.0, 3.0, 1.0]]))
    assert c.tolist() == [[3, 1, 0], [6, 3, 1]]  # floor(5 * (6, 3, 1) / 10); the second fits


def test_relaxation_is_the_expected_catch_and_has_the_finite_difference_gradient():
    h = torch.tensor([5.0, 100.0], dtype=torch.float64)
    w = torch.tensor([[6.0, 3.0, 1.0], [6.0, 3.0, 1.0]], dtype=torch.float64)
    assert torch.allclose(relaxed_rationing(h, w), torch.tensor([[3.0, 1.5, 0.5], [6.0, 3.0, 1.0]],
                                                                dtype=torch.float64))
    w = w.requires_grad_()
    h = h.requires_grad_()
    assert torch.autograd.gradcheck(lambda h, w: relaxed_rationing(h, w, temperature=0.1), (h, w))
    assert torch.autograd.gradcheck(lambda h, w: relaxed_rationing(h, w), (h, w))
