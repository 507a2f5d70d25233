"""The decision protocol for K options: hand-computed probabilities, categorical draws and their frequencies, the
K = 2 case against the Bernoulli draw, straight-through gradients against a closed form."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (PyTorch's own convention)

from populace import sampling
from populace.behavior import (
    YES_NO,
    DecisionError,
    chosen,
    decide,
    decision_stream,
    draw_options,
    is_decision_step,
    options_of,
    yes_no,
)
from populace.core import AgentTable, World
from populace.core.clock import StepLength

HARVEST = "harvest"
LEVELS = ("low", "medium", "high")


class Harvest(nn.Module):
    """P_ik = softmax_k(a_k + b_k s_i): how much fisher i takes from a lake with stock s_i in [0, 1].

    a = (0, 0, 0) and b = (-1, 0, 1) by default: with a full lake (s = 1) the odds of high : medium : low are
    e : 1 : 1/e; an empty one (s = 0) is a uniform choice.
    """

    decisions = {HARVEST: LEVELS}  # noqa: RUF012 (a test double)

    def __init__(self, a=(0.0, 0.0, 0.0), b=(-1.0, 0.0, 1.0), dtype=torch.float32):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=dtype))
        self.b = nn.Parameter(torch.tensor(b, dtype=dtype))

    def probabilities(self, decision, world, situation):
        s = situation["stock"].to(self.a.dtype)  # [N]
        return torch.softmax(self.a + self.b * s[:, None], dim=-1)  # [N, 3]


class YesNo(nn.Module):
    """A yes/no decision with a given P(yes) per agent, as rows (p, 1 - p) or as a softmax (rows 1 within a ulp)."""

    decisions = {"vote": YES_NO}  # noqa: RUF012 (a test double)

    def __init__(self, p_yes, *, as_softmax=False):
        super().__init__()
        self.logit = nn.Parameter(torch.logit(p_yes))
        self.as_softmax = as_softmax

    def probabilities(self, decision, world, situation):
        if self.as_softmax:
            return torch.softmax(torch.stack([self.logit, torch.zeros_like(self.logit)], -1), dim=-1)
        return yes_no(torch.sigmoid(self.logit))


def world_of(n, *, seed=0, step=0, differentiable=False):
    return World.of(AgentTable({"age": torch.zeros(n, dtype=torch.uint8)}), seed=seed, step=step,
                    differentiable=differentiable)


def test_a_three_option_decision_has_its_hand_computed_probabilities_and_inverse_cdf_draws():
    stock = torch.tensor([0.0, 1.0, 0.5, 1.0, 0.0, 0.25])
    world = world_of(6, seed=4, step=3)
    model = Harvest()
    probs = model.probabilities(HARVEST, world, {"stock": stock})
    e = math.e
    expected = [[1 / 3] * 3, [1 / (e ** -1 + 1 + e) * x for x in (e ** -1, 1, e)]]
    torch.testing.assert_close(probs[:2], torch.tensor(expected))
    half = [math.exp(-0.5), 1.0, math.exp(0.5)]
    torch.testing.assert_close(probs[2], torch.tensor([x / sum(half) for x in half]))
    # the draw: x_i = min{k : u_i < c_ik}, with u_i the world's uniforms of the stream "decision/harvest"
    u = world.uniform(decision_stream(HARVEST)).tolist()
    cdf = probs.cumsum(-1).tolist()
    by_hand = [next(k for k in range(3) if u_i < c[k]) for u_i, c in zip(u, cdf, strict=True)]
    x = decide(model, HARVEST, world, {"stock": stock})
    assert x.dtype == torch.int64
    assert x.tolist() == by_hand
    assert options_of(model, HARVEST) == LEVELS
    # differentiable mode: the one-hot of the same options
    smooth = decide(model, HARVEST, world_of(6, seed=4, step=3, differentiable=True), {"stock": stock})
    assert smooth.shape == (6, 3)
    assert smooth.dtype == torch.float32
    assert torch.equal(smooth.detach(), nn.functional.one_hot(x, 3).float())
    assert [chosen(x, k).tolist() for k in range(3)] == [(smooth.detach()[:, k] == 1).tolist() for k in range(3)]


def test_categorical_draws_have_the_frequencies_of_their_probabilities():
    # 200,000 agents with P = (0.2, 0.5, 0.3): each count is Binomial(n, p_k); within 4.5 standard errors (three
    # two-sided checks: false-alarm rate about 2e-5), and the three sum to n
    n = 200_000
    model = Harvest()
    target = torch.tensor([0.2, 0.5, 0.3])
    with torch.no_grad():
        model.a.copy_(target.log())
        model.b.zero_()
    x = decide(model, HARVEST, world_of(n, seed=11, step=7), {"stock": torch.zeros(n)})
    counts = torch.bincount(x, minlength=3).double()
    se = (n * target * (1 - target)).double().sqrt()
    assert bool(((counts - n * target).abs() <= 4.5 * se).all()), (counts.tolist(), (n * target).tolist())
    # other streams and steps give other (independent) draws of the same distribution
    again = decide(model, HARVEST, world_of(n, seed=11, step=14), {"stock": torch.zeros(n)})
    assert 0.3 < float((again == x).double().mean()) < 0.4  # sum_k p_k^2 = 0.38 for independent draws


@pytest.mark.parametrize("as_softmax", [False, True])
def test_a_yes_no_decision_draws_exactly_the_old_bernoulli(as_softmax):
    # the old protocol drew is_yes = u < p_yes with u = world.uniform("decision/<name>"); K = 2 draws the same
    # booleans in fast mode, and the same values with the same gradient in differentiable mode
    n = 50_000
    gen = torch.Generator().manual_seed(3)
    p = torch.rand(n, generator=gen).clamp(1e-4, 1 - 1e-4)
    p[:4] = torch.tensor([1e-4, 0.5, 0.25, 1 - 1e-4])
    model = YesNo(p, as_softmax=as_softmax)
    world = world_of(n, seed=9, step=21)
    p_yes = model.probabilities("vote", world, {})[:, 0]
    old = sampling.bernoulli(p_yes, world.uniform(decision_stream("vote")))
    new = chosen(decide(model, "vote", world, {}), YES_NO.index("yes"))
    assert new.dtype == torch.bool
    assert torch.equal(new, old)
    assert 0.4 < float(new.float().mean()) < 0.6
    assert torch.equal(chosen(decide(model, "vote", world, {}), 1), ~old)

    smooth_world = world_of(n, seed=9, step=21, differentiable=True)
    weights = torch.linspace(-1, 1, n)
    old_smooth = sampling.bernoulli(model.probabilities("vote", smooth_world, {})[:, 0],
                                    smooth_world.uniform(decision_stream("vote")), straight_through=True)
    (weights * old_smooth).sum().backward()
    old_grad = model.logit.grad.clone()
    model.zero_grad()
    new_smooth = chosen(decide(model, "vote", smooth_world, {}), 0)
    (weights * new_smooth).sum().backward()
    assert torch.equal(new_smooth.detach(), old.float())
    assert torch.equal(model.logit.grad, old_grad)


def test_straight_through_gradient_of_a_linear_loss_is_the_gradient_of_its_expectation():
    # L = sum_i f . x_i with x_i the one-hot draw: the straight-through gradient is f . dP_i/dtheta for every draw
    # (dx/dP = I), which is exactly d E[L] / dtheta = d/dtheta sum_i f . P_i. Checked against a central finite
    # difference of that expectation (float64, h = 1e-6: error O(h^2) ~ 1e-12), for K = 3, and for K = 2.
    n = 40
    stock = torch.linspace(0, 1, n, dtype=torch.float64)
    f = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)  # the value of a low, medium and high harvest
    model = Harvest(a=(0.3, -0.2, 0.1), b=(-1.0, 0.5, 1.5), dtype=torch.float64)
    world = world_of(n, seed=2, differentiable=True)
    x = decide(model, HARVEST, world, {"stock": stock})
    (x @ f).sum().backward()

    def expected_loss() -> float:
        return float((model.probabilities(HARVEST, world, {"stock": stock}) @ f).sum())

    h = 1e-6
    for param in (model.a, model.b):
        for k in range(3):
            with torch.no_grad():
                param[k] += h
                up = expected_loss()
                param[k] -= 2 * h
                down = expected_loss()
                param[k] += h
            assert float(param.grad[k]) == pytest.approx((up - down) / (2 * h), rel=1e-7, abs=1e-9)

    p = torch.linspace(0.05, 0.95, n, dtype=torch.float64)
    yes = YesNo(p)
    draws = decide(yes, "vote", world, {})  # [N, 2]
    (draws @ f[:2]).sum().backward()
    closed_form = (f[0] - f[1]) * p * (1 - p)  # d/dlogit of f_0 p + f_1 (1 - p)
    torch.testing.assert_close(yes.logit.grad, closed_form, rtol=1e-12, atol=0)


def test_draw_options_is_the_categorical_inverse_cdf_for_every_k():
    gen = torch.Generator().manual_seed(5)
    world, smooth = world_of(1000, seed=5, step=2), world_of(1000, seed=5, step=2, differentiable=True)
    u = world.uniform("draws").double()  # the step's uniforms of the stream
    for k in (2, 3, 5):
        probs = torch.softmax(torch.randn(1000, k, generator=gen, dtype=torch.float64), -1)
        x = draw_options(world, "draws", probs)
        assert torch.equal(x, sampling.categorical(probs, u))
        assert torch.equal(draw_options(smooth, "draws", probs), F.one_hot(x, k).double())  # the same options


class Fixed(nn.Module):
    decisions = {HARVEST: LEVELS, "one": ("only",)}  # noqa: RUF012 (a test double)

    def __init__(self, probs):
        super().__init__()
        self.probs = probs

    def probabilities(self, decision, world, situation):
        return self.probs


@pytest.mark.parametrize(("probs", "match"), [
    (torch.full((4, 3), 0.5), r"must sum to 1 over the options \['low', 'medium', 'high'\].*4 of 4 rows do not"),
    (torch.full((4, 2), 0.5), r"must have shape \[4, 3\] \(one row per agent, one column per option"),
    (torch.tensor([[0.5, 0.7, -0.2]]).expand(4, 3), r"must lie in \[0, 1\]; 4 of 12 values do not"),
])
def test_bad_probabilities_of_k_options_are_refused(probs, match):
    with pytest.raises(DecisionError, match=match):
        decide(Fixed(probs), HARVEST, world_of(4), {})


def test_a_decision_needs_two_options():
    with pytest.raises(DecisionError, match=r"'one' needs at least two options, got \['only'\]"):
        decide(Fixed(torch.ones(4, 1)), "one", world_of(4), {})


def test_weekly_decisions_follow_the_step_length():
    table = AgentTable({"id": torch.arange(2, dtype=torch.int32)})
    daily = [is_decision_step(World.of(table, step=t)) for t in range(15)]
    assert [t for t, yes in enumerate(daily) if yes] == [0, 7, 14]  # once a week in a model of day steps
    assert [t for t in range(15) if is_decision_step(World.of(table, step=t), day_of_week=3)] == [3, 10]
    for length in (StepLength.WEEK, StepLength.MONTH, StepLength.YEAR):  # a step lasts the week: every step
        assert all(is_decision_step(World.of(table, step=t, step_length=length)) for t in range(15))
    with pytest.raises(ValueError, match=r"day_of_week must be an int in 0\.\.6, got 7"):
        is_decision_step(World.of(table), day_of_week=7)
