"""populace.core.ops: the hot-path operations equal their plain PyTorch spellings."""

import pytest
import torch

from populace.core.ops import bincount, count_where, flatnonzero, group_sum


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
