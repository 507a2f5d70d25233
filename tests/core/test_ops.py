"""populace.core.ops: the hot-path operations equal their plain PyTorch spellings; the 0/1-state logic gives the
boolean operation on bools and the same values, with hand-computed gradients, on floats."""

import math

import pytest
import torch

from populace.core.ops import (
    attach_gradient,
    bincount,
    complement,
    count_where,
    either,
    flatnonzero,
    group_sum,
    group_total,
    hard,
    indicator,
    select,
    without,
)


@pytest.mark.parametrize("share", [0.0, 0.001, 0.5, 1.0])
def test_flatnonzero_equals_torch_nonzero(share):
    mask = torch.rand(10_000, generator=torch.Generator().manual_seed(1)) < share
    got = flatnonzero(mask)
    assert got.dtype == torch.int64
    assert torch.equal(got, mask.nonzero().squeeze(1))


def test_flatnonzero_refuses_what_is_not_a_1d_bool_mask():
    with pytest.raises(ValueError, match="1-D bool"):
        flatnonzero(torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="1-D bool"):
        flatnonzero(torch.ones(3))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int64])
def test_counts_equal_torch_bincount(dtype):
    g = torch.Generator().manual_seed(2)
    codes = torch.randint(0, 7, (5_000,), generator=g).to(dtype)
    mask = torch.rand(5_000, generator=g) < 0.3
    expected = torch.bincount(codes.long(), minlength=9).float()
    assert torch.equal(bincount(codes, 9), expected)
    assert torch.equal(count_where(codes, mask, 9), torch.bincount(codes.long()[mask], minlength=9).float())
    assert count_where(codes, torch.zeros_like(mask), 9).tolist() == [0.0] * 9


def test_group_sum_equals_index_add_and_its_gradient_is_exact():
    g = torch.Generator().manual_seed(3)
    groups = torch.randint(0, 5, (200,), generator=g).to(torch.uint8)
    values = torch.rand(200, generator=g, dtype=torch.float64, requires_grad=True)
    expected = torch.zeros(5, dtype=torch.float64).index_add(0, groups.long(), values)
    assert torch.allclose(group_sum(values, groups, 5), expected)
    assert torch.autograd.gradcheck(lambda v: group_sum(v, groups, 5), (values,))


def test_group_sum_saves_nothing_per_agent_for_backward():
    groups = torch.randint(0, 5, (1_000,), dtype=torch.uint8)
    values = torch.rand(1_000, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
        group_sum(values, groups, 5).sum().backward()
    assert saved == []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
        torch.zeros(5).index_add(0, groups.long(), values).sum()
    assert 1_000 in saved  # the plain spelling keeps the int64 index


def test_group_sum_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="both be"):
        group_sum(torch.ones(3), torch.zeros(4, dtype=torch.long), 2)


# ---- 0/1 states in both modes: the bool operation on bools, the straight-through algebra on floats --------------

A = torch.tensor([True, True, False, False])
B = torch.tensor([True, False, True, False])


def test_state_logic_on_bools_is_the_boolean_operation():
    assert without(A, A & B).tolist() == [False, True, False, False]  # a & ~b
    assert either(A & ~B, ~A & B).tolist() == [False, True, True, False]  # a | b (disjoint)
    assert complement(B).tolist() == [False, True, False, True]
    assert select(B, 0.25, 1.0).tolist() == [0.25, 1.0, 0.25, 1.0]
    assert hard(B) is B
    assert attach_gradient(B, torch.tensor(1.0, requires_grad=True)) is B
    for op in (without(A, A & B), either(A & ~B, ~A & B), complement(B)):
        assert op.dtype == torch.bool


def test_state_logic_on_floats_has_the_same_values_and_the_straight_through_gradients():
    a = A.double().requires_grad_()
    b = B.double().requires_grad_()
    part = A & B  # a part of a, as without and either require
    torch.testing.assert_close(without(a, part.double()), without(A, part).double(), rtol=0, atol=0)
    torch.testing.assert_close(either(a * ~b.bool(), b * ~a.bool()), (A ^ B).double(), rtol=0, atol=0)
    torch.testing.assert_close(complement(b), complement(B).double(), rtol=0, atol=0)
    torch.testing.assert_close(select(b, 0.25, 1.0), select(B, 0.25, 1.0).double(), rtol=0, atol=0)
    assert hard(b).tolist() == B.tolist()
    # d(a - b)/db = -1 everywhere (a * (1 - b) would give -a: 0 where a is 0); d(1 - b)/db = -1; d select/db = -0.75
    (grad_a, grad_b) = torch.autograd.grad(without(a, b).sum(), (a, b))
    assert grad_a.tolist() == [1.0] * 4
    assert grad_b.tolist() == [-1.0] * 4
    (grad_b,) = torch.autograd.grad(complement(b).sum() + select(b, 0.25, 1.0).sum(), b)
    assert grad_b.tolist() == [-1.75] * 4
    (grad_b,) = torch.autograd.grad(either(a, b).sum(), b)
    assert grad_b.tolist() == [1.0] * 4


def test_mixed_bool_and_float_operands_take_the_bool_as_0_1():
    force = torch.tensor([True, True, False])
    employed = torch.tensor([1.0, 0.0, 0.0], requires_grad=True)
    unemployed = without(force, employed)
    assert unemployed.dtype == torch.float32
    assert unemployed.tolist() == [0.0, 1.0, 0.0]
    (grad,) = torch.autograd.grad(unemployed.sum(), employed)
    assert grad.tolist() == [-1.0, -1.0, -1.0]
    assert either(torch.tensor([0.0, 1.0, 0.0]), torch.tensor([True, False, False])).tolist() == [1.0, 1.0, 0.0]


def test_attach_gradient_keeps_the_values_and_attaches_the_level_derivative():
    log_rate = torch.tensor(math.log(3.0), dtype=torch.float64, requires_grad=True)
    rate = log_rate.exp()
    x = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    carried = attach_gradient(x, rate / rate.detach())
    assert carried.tolist() == [1.0, 0.0, 1.0]
    (grad,) = torch.autograd.grad(carried.sum(), log_rate)
    assert float(grad) == pytest.approx(2.0, rel=1e-15)  # d/d log rate = 1 per unit of x: two units


def test_indicator_is_the_mask_in_fast_mode_and_its_floats_in_differentiable_mode():
    assert indicator(B, differentiable=False) is B
    got = indicator(B, differentiable=True)
    assert got.dtype == torch.float32
    assert got.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_group_total_counts_bools_and_sums_floats_with_their_gradient():
    groups = torch.tensor([0, 2, 2, 1, 2], dtype=torch.uint8)
    mask = torch.tensor([True, True, False, True, True])
    assert group_total(mask, groups, 4).tolist() == [1.0, 1.0, 2.0, 0.0]
    values = mask.float().requires_grad_()
    total = group_total(values, groups, 4)
    assert total.tolist() == [1.0, 1.0, 2.0, 0.0]
    (grad,) = torch.autograd.grad(total @ torch.tensor([1.0, 10.0, 100.0, 1000.0]), values)
    assert grad.tolist() == [1.0, 100.0, 100.0, 10.0, 100.0]
