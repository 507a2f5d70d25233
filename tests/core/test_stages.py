"""Stages in both representations, and the world's mode-aware draws, against hand-computed cases."""

from enum import IntEnum

import pytest
import torch

from populace.core import AgentTable, Stages, World, rng


class Stage(IntEnum):
    S = 0
    I = 1  # noqa: E741
    R = 2


STAGES = Stages(Stage)
CODES = torch.tensor([0, 1, 1, 2, 0], dtype=torch.uint8)


def test_fast_and_differentiable_representations_agree():
    fast, diff = STAGES.encode(CODES, differentiable=False), STAGES.encode(CODES, differentiable=True)
    assert fast.dtype == torch.uint8
    assert diff.shape == (5, 3)
    assert STAGES.counts(fast).tolist() == STAGES.counts(diff).tolist() == [2.0, 2.0, 1.0]
    assert STAGES.member(fast, Stage.I).tolist() == [False, True, True, False, False]
    assert STAGES.mass(fast, Stage.I).tolist() == STAGES.mass(diff, Stage.I).tolist() == [0, 1, 1, 0, 0]
    today = torch.tensor([False, True, False, False, False])
    assert STAGES.member(fast, Stage.I, excluding=today).tolist() == [False, False, True, False, False]
    assert STAGES.member(diff, Stage.I, excluding=today.float()).tolist() == [0, 0, 1, 0, 0]


def test_moves_are_the_same_in_both_modes_and_carry_gradients():
    moved = torch.tensor([True, False, False, False, True])  # the two susceptible agents
    fast = STAGES.move(STAGES.encode(CODES, differentiable=False), moved, Stage.S, Stage.I)
    assert fast.tolist() == [1, 1, 1, 2, 1]
    level = torch.tensor(1.0, requires_grad=True)
    diff = STAGES.move(STAGES.encode(CODES, differentiable=True), moved.float() * level, Stage.S, Stage.I)
    assert diff.argmax(1).tolist() == fast.tolist()
    (grad,) = torch.autograd.grad(STAGES.counts(diff)[Stage.I], level)
    assert float(grad) == 2.0  # d(infectious)/d(mass moved per agent) = two agents
    rows = torch.tensor([0, 4])
    by_rows = STAGES.move_rows(STAGES.encode(CODES, differentiable=False), rows, torch.tensor([False, True]),
                               Stage.S, Stage.I)
    assert by_rows.tolist() == [0, 1, 1, 2, 1]
    diff_rows = STAGES.move_rows(STAGES.encode(CODES, differentiable=True), rows, torch.tensor([0.0, 1.0]),
                                 Stage.S, Stage.I)
    assert diff_rows.argmax(1).tolist() == by_rows.tolist()


def test_member_any_is_the_union_of_stages_in_both_modes():
    fast, diff = STAGES.encode(CODES, differentiable=False), STAGES.encode(CODES, differentiable=True)
    for ks, expected in (((Stage.I, Stage.R), [False, True, True, True, False]),  # consecutive codes: a range test
                         ((Stage.S, Stage.R), [True, False, False, True, True]),  # not consecutive
                         ((Stage.I,), [False, True, True, False, False])):
        assert STAGES.member_any(fast, ks).tolist() == expected
        assert STAGES.member_any(diff, ks).tolist() == [float(e) for e in expected]
    with pytest.raises(ValueError, match=r"distinct stages of Stage, got \[1, 1\]"):
        STAGES.member_any(fast, (Stage.I, Stage.I))


def test_several_moves_on_rows_read_the_stage_before_any_and_agree_across_modes():
    rows = torch.tensor([0, 1, 3, 4])  # stages S, I, R, S
    fast = STAGES.encode(CODES, differentiable=False)
    before = fast[rows]
    s, i = STAGES.member(before, Stage.S), STAGES.member(before, Stage.I)
    infect = torch.tensor([True, True, True, False])  # row 1 is not in S: no S -> I move there
    moved = STAGES.move_rows_many(fast, rows, [(s * infect, Stage.S, Stage.I), (i, Stage.I, Stage.R)])
    assert moved.tolist() == [1, 2, 1, 2, 0]  # agent 0 S -> I only (not on to R: moves read the stage before)
    level = torch.tensor(1.0, requires_grad=True)
    diff = STAGES.encode(CODES, differentiable=True)
    d_before = diff[rows]
    d_s, d_i = STAGES.member(d_before, Stage.S), STAGES.member(d_before, Stage.I)
    smooth = STAGES.move_rows_many(diff, rows, [(d_s * infect * level, Stage.S, Stage.I), (d_i * level, Stage.I,
                                                                                          Stage.R)])
    assert smooth.argmax(1).tolist() == moved.tolist()
    assert torch.equal(smooth.sum(1), torch.ones(5))  # mass is conserved
    (grad,) = torch.autograd.grad(STAGES.counts(smooth)[Stage.R], level)
    assert float(grad) == 1.0  # one agent moved on to R
    assert STAGES.move_rows_many(fast, rows, []) is fast


def test_move_rows_many_refuses_an_agent_moved_twice_in_fast_mode():
    fast = STAGES.encode(CODES, differentiable=False)  # S I I R S
    rows = torch.tensor([4, 0])
    s = STAGES.member(fast[rows], Stage.S)  # [True, True]
    to_i, to_r = s & torch.tensor([True, False]), s  # agent 4 in both
    with pytest.raises(ValueError, match=r"moves 1 agent\(s\) more than once in fast mode \(rows \[4\]\)"):
        STAGES.move_rows_many(fast, rows, [(to_i, Stage.S, Stage.I), (to_r, Stage.S, Stage.R)])
    disjoint = STAGES.move_rows_many(fast, rows, [(to_i, Stage.S, Stage.I), (to_r & ~to_i, Stage.S, Stage.R)])
    assert disjoint.tolist() == [2, 1, 1, 2, 1]  # agent 4 S -> I, agent 0 S -> R


def test_stage_values_must_be_consecutive():
    class Gap(IntEnum):
        A = 0
        B = 2

    with pytest.raises(ValueError, match=r"0..K-1, got values \[0, 2\]"):
        Stages(Gap)


def _world(n: int, differentiable: bool) -> World:
    return World.of(AgentTable({"id": torch.arange(n, dtype=torch.int32)}), seed=7, step=3,
                    differentiable=differentiable)


def test_world_bernoulli_is_u_below_p_on_the_step_uniforms_in_both_modes():
    p = torch.linspace(0, 1, 50)
    u = rng.uniform(7, 3, "s", torch.arange(50, dtype=torch.int32))
    fast = _world(50, False).bernoulli("s", p)
    assert fast.dtype == torch.bool
    assert torch.equal(fast, u < p)
    p_diff = p.clone().requires_grad_()
    diff = _world(50, True).bernoulli("s", p_diff)
    assert torch.equal(diff.detach(), (u < p).float())
    (grad,) = torch.autograd.grad(diff.sum(), p_diff)
    assert torch.equal(grad, torch.ones(50))  # identity surrogate
    rows = torch.tensor([3, 10, 40])
    assert torch.equal(_world(50, False).bernoulli("s", p[rows], rows=rows), fast[rows])


def test_world_categorical_is_the_inverse_cdf_on_the_step_uniforms():
    probs = torch.tensor([[0.2, 0.5, 0.3]]).expand(400, 3)
    u = rng.uniform(7, 3, "c", torch.arange(400, dtype=torch.int32))
    expected = (u >= 0.2).long() + (u >= 0.7).long()
    fast = _world(400, False).categorical("c", probs)
    assert fast.dtype == torch.int64
    assert torch.equal(fast, expected)
    diff = _world(400, True).categorical("c", probs.clone().requires_grad_())
    assert torch.equal(diff.detach().argmax(1), expected)
