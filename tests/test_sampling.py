"""Tests for populace.sampling: distributions of the draws, their gradients, edge cases and errors."""

import doctest
import math

import pytest
import torch
from scipy import stats

from populace import sampling
from populace.sampling import bernoulli, categorical, gumbel, gumbel_softmax

N_DRAWS = 100_000
K_SE = 4  # tolerance in standard errors: two-sided false-alarm rate 6.3e-5 per check
P_MIN = 1e-3  # chi-square / KS p-value threshold with a fixed seed (false-alarm rate 1e-3 per test)


def uniforms(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Uniforms in the open interval (0, 1), like the engine's RNG: midpoints of 2^24 equal bins."""
    g = torch.Generator().manual_seed(seed)
    bins = torch.randint(0, 2**24, shape, generator=g, dtype=torch.int64)
    return ((bins.double() + 0.5) / 2**24).to(dtype)  # exact in float32 and float64


# --- forward distributions -------------------------------------------------------------------------------


def test_bernoulli_frequencies_match_p():
    p = torch.tensor([0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0], dtype=torch.float64)
    u = uniforms(N_DRAWS, len(p), seed=1)
    freq = bernoulli(p.expand_as(u), u).double().mean(0)
    standard_error = (p * (1 - p) / N_DRAWS).sqrt()  # 0 at p = 0 and 1: those must be exact
    assert torch.all((freq - p).abs() <= K_SE * standard_error)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bernoulli_straight_through_has_the_fast_sample_as_value(dtype):
    p = torch.rand(1000, generator=torch.Generator().manual_seed(2), dtype=dtype)  # full mantissas
    u = uniforms(1000, seed=3, dtype=torch.float32)
    fast = bernoulli(p, u)
    differentiable = bernoulli(p.requires_grad_(), u, straight_through=True)
    assert fast.dtype == torch.bool
    assert differentiable.dtype == dtype
    assert torch.equal(differentiable.detach(), fast.to(dtype))
    assert 0 < fast.sum() < 1000  # both outcomes occur, so the equality above is not vacuous


def test_categorical_frequencies_match_probs_chisquare():
    probs = torch.tensor([[0.1, 0.25, 0.0, 0.4, 0.25],
                          [0.0, 0.0, 0.0, 0.0, 1.0],
                          [0.5, 0.3, 0.1, 0.05, 0.05]], dtype=torch.float64)  # [3, K]
    u = uniforms(N_DRAWS, 3, seed=4)
    index = categorical(probs.expand(N_DRAWS, 3, 5), u)  # [n, 3]
    assert index.dtype == torch.int64
    for row in range(3):
        counts = torch.bincount(index[:, row], minlength=5)
        positive = probs[row] > 0
        assert torch.all(counts[~positive] == 0)
        if positive.sum() > 1:
            expected = probs[row][positive] * N_DRAWS
            assert stats.chisquare(counts[positive].numpy(), expected.numpy()).pvalue > P_MIN


def test_categorical_straight_through_has_the_fast_sample_as_value():
    probs = torch.softmax(torch.randn(1000, 6, generator=torch.Generator().manual_seed(5)), -1)
    u = uniforms(1000, seed=6, dtype=torch.float32)
    fast = categorical(probs, u)
    onehot = categorical(probs.requires_grad_(), u, straight_through=True).detach()
    assert onehot.dtype == torch.float32
    assert torch.equal(onehot, torch.nn.functional.one_hot(fast, 6).float())


def test_gumbel_inverts_the_gumbel_cdf():
    t = torch.tensor([-2.0, -0.5, 0.0, 1.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(gumbel(torch.exp(-torch.exp(-t))), t, rtol=1e-12, atol=1e-12)


def test_gumbel_softmax_with_zero_noise_is_softmax_of_logits_over_temperature():
    logits = torch.tensor([[0.3, -1.0, 2.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    u = torch.full((2, 3), math.exp(-1.0), dtype=torch.float64)  # gumbel(u) = 0
    torch.testing.assert_close(gumbel_softmax(logits, u, temperature=0.25),
                               torch.softmax(logits / 0.25, -1), rtol=1e-12, atol=1e-15)


def test_gumbel_matches_standard_gumbel_distribution_ks():
    g = gumbel(uniforms(N_DRAWS, seed=7))
    assert stats.kstest(g.numpy(), "gumbel_r").pvalue > P_MIN


def test_hard_gumbel_softmax_is_exactly_one_hot_and_samples_softmax_of_logits():
    logits = torch.tensor([1.0, -0.5, 0.0, 2.0, -math.inf], dtype=torch.float64)  # last category masked
    u = uniforms(N_DRAWS, 5, seed=8)
    x = gumbel_softmax(logits.expand_as(u), u, temperature=0.7, hard=True)
    assert torch.all((x == 0) | (x == 1))
    assert torch.all(x.sum(-1) == 1)
    counts = x.sum(0)
    assert counts[4] == 0
    expected = torch.softmax(logits, -1)[:4] * N_DRAWS
    assert stats.chisquare(counts[:4].numpy(), expected.numpy()).pvalue > P_MIN


def test_hard_gumbel_softmax_value_does_not_depend_on_temperature():
    # Gumbel-max: x = onehot(argmax(logits + g)) at any temperature, even where a large temperature makes
    # the soft y of near-tied categories equal in float32.
    logits = torch.randn(N_DRAWS, 4, generator=torch.Generator().manual_seed(23))
    u = uniforms(N_DRAWS, 4, seed=24, dtype=torch.float32)
    cold = gumbel_softmax(logits, u, temperature=0.1, hard=True)
    assert torch.equal(cold, gumbel_softmax(logits, u, temperature=1e4, hard=True))


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-6), (torch.float64, 1e-14)])
def test_soft_gumbel_softmax_rows_lie_on_the_simplex(dtype, tolerance):
    logits = torch.randn(1000, 7, generator=torch.Generator().manual_seed(9), dtype=dtype) * 3
    y = gumbel_softmax(logits, uniforms(1000, 7, seed=10, dtype=torch.float32), temperature=0.3)
    assert y.dtype == dtype
    assert torch.all(y >= 0)
    assert torch.all((y.sum(-1) - 1).abs() <= tolerance)


# --- gradients ---------------------------------------------------------------------------------------------


def test_bernoulli_straight_through_gradient_of_linear_loss_is_exact_scalar_p():
    p = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    c = 0.75  # d/dp mean(c x) = c; dyadic c and n = 2^12 make the autograd sum exact
    u = uniforms(2**12, seed=11)
    (c * bernoulli(p.expand_as(u), u, straight_through=True)).mean().backward()
    assert p.grad.item() == c


def test_bernoulli_straight_through_gradient_of_linear_loss_is_exact_vector_p():
    p = torch.tensor([0.05, 0.3, 0.5, 0.8, 0.99], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([1.0, -2.5, 0.125, 3.0, -0.75], dtype=torch.float64)
    u = uniforms(2**12, 5, seed=12)
    (c * bernoulli(p.expand_as(u), u, straight_through=True)).mean(0).sum().backward()
    assert torch.equal(p.grad, c)


@pytest.mark.parametrize("p_value", [0.02, 0.3, 0.9])
def test_bernoulli_fired_gradient_is_unbiased_for_linear_losses(p_value):
    # dx/dp = x / p: mean over N draws is (fraction fired) / p, whose standard error is sqrt((1-p) / (N p))
    p = torch.tensor(p_value, dtype=torch.float64, requires_grad=True)
    u = uniforms(N_DRAWS, seed=21)
    x = bernoulli(p.expand_as(u), u, straight_through=True, gradient="fired")
    assert torch.equal(x.detach(), (u < p_value).double())  # the value is the hard sample, exactly
    x.mean().backward(retain_graph=True)
    assert abs(p.grad.item() - 1.0) < K_SE * math.sqrt((1 - p_value) / (N_DRAWS * p_value))
    fired_grad = torch.autograd.grad(x[x.detach() > 0][0], p)[0]
    assert fired_grad.item() == pytest.approx(1 / p_value)  # a draw that fired carries 1/p


def test_bernoulli_rejects_unknown_gradient():
    u = uniforms(3)
    with pytest.raises(ValueError, match="gradient must be 'identity' or 'fired', got 'score'"):
        bernoulli(torch.full((3,), 0.5, dtype=torch.float64), u, straight_through=True, gradient="score")


def test_bernoulli_straight_through_bias_for_nonlinear_loss_is_as_documented():
    # L(x) = (x - a)^2: d/dp E[L] = 1 - 2a = 0.6, but straight-through averages to 2(p - a) = 0.2.
    p = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    a = 0.2
    u = uniforms(N_DRAWS, seed=13)
    ((bernoulli(p.expand_as(u), u, straight_through=True) - a) ** 2).mean().backward()
    standard_error = 2 * math.sqrt(0.3 * 0.7 / N_DRAWS)  # gradient is 2(mean x - a)
    assert abs(p.grad.item() - 2 * (0.3 - a)) <= K_SE * standard_error
    assert abs(p.grad.item() - (1 - 2 * a)) > 0.3


def test_categorical_straight_through_gradient_through_softmax_is_analytic():
    logits = torch.tensor([0.2, -1.0, 0.7, 0.0], dtype=torch.float64, requires_grad=True)
    f = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    probs = torch.softmax(logits, -1)
    u = uniforms(2**12, seed=14)
    x = categorical(probs.expand(2**12, 4), u, straight_through=True)  # [n, K]
    (x @ f).mean().backward()  # d/dlogits E[f . x] = J_softmax^T f = p * (f - p . f)
    p = probs.detach()
    torch.testing.assert_close(logits.grad, p * (f - p @ f), rtol=1e-12, atol=1e-15)


def test_soft_gumbel_softmax_pathwise_gradient_matches_central_difference():
    f = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    u = uniforms(256, 4, seed=15)  # common random numbers at logits, logits + h, logits - h

    def loss(logits: torch.Tensor) -> torch.Tensor:  # seed-averaged smooth loss
        y = gumbel_softmax(logits.expand_as(u), u, temperature=0.5)
        return ((y @ f) ** 2).mean()

    logits = torch.tensor([0.2, -1.0, 0.7, 0.0], dtype=torch.float64, requires_grad=True)
    loss(logits).backward()
    h = 1e-6  # truncation error O(h^2) ~ 1e-12, rounding ~ eps / h ~ 1e-10
    with torch.no_grad():
        finite_difference = torch.stack([(loss(logits + h * e) - loss(logits - h * e)) / (2 * h)
                                         for e in torch.eye(4, dtype=torch.float64)])
    torch.testing.assert_close(logits.grad, finite_difference, rtol=1e-6, atol=1e-9)


def test_gradcheck_smooth_pieces():
    logits = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(16))
    u = 0.05 + 0.9 * uniforms(3, 4, seed=17)  # away from 0 and 1 so that u +- 1e-6 stays inside
    assert torch.autograd.gradcheck(lambda lg, uu: gumbel_softmax(lg, uu, temperature=0.5),
                                    (logits.requires_grad_(), u.clone().requires_grad_()))
    assert torch.autograd.gradcheck(gumbel, (u.clone().requires_grad_(),))


def test_straight_through_jacobians_are_exact():
    # gradcheck does not apply here: the forward value is piecewise constant (finite differences give 0)
    # while the backward is the surrogate by design, so compare the Jacobians with the surrogate's exactly.
    jacobian = torch.autograd.functional.jacobian
    p = uniforms(6, seed=18)
    u = uniforms(6, seed=19)
    assert torch.equal(jacobian(lambda q: bernoulli(q, u, straight_through=True), p),
                       torch.eye(6, dtype=torch.float64))
    g = torch.Generator().manual_seed(20)
    probs = torch.softmax(torch.randn(2, 3, dtype=torch.float64, generator=g), -1)
    u_rows = uniforms(2, seed=20)
    assert torch.equal(jacobian(lambda q: categorical(q, u_rows, straight_through=True), probs),
                       torch.eye(6, dtype=torch.float64).reshape(2, 3, 2, 3))
    logits = torch.randn(2, 5, dtype=torch.float64, generator=g)
    u_k = uniforms(2, 5, seed=21)
    hard = jacobian(lambda lg: gumbel_softmax(lg, u_k, temperature=0.5, hard=True), logits)
    soft = jacobian(lambda lg: gumbel_softmax(lg, u_k, temperature=0.5), logits)
    assert torch.equal(hard, soft)
    assert hard.abs().sum() > 0


# --- edge cases -------------------------------------------------------------------------------------------

EXTREME_U = torch.tensor([2**-25, 2**-24, 0.5, 1 - 2**-24], dtype=torch.float32)


def test_bernoulli_fires_strictly_below_p():
    u = torch.tensor([0.5 - 2**-24, 0.5, 0.5 + 2**-24])
    assert bernoulli(torch.full((3,), 0.5), u).tolist() == [True, False, False]


@pytest.mark.parametrize("straight_through", [False, True])
def test_bernoulli_p0_never_fires_and_p1_always_fires(straight_through):
    never = bernoulli(torch.zeros(4), EXTREME_U, straight_through=straight_through)
    always = bernoulli(torch.ones(4), EXTREME_U, straight_through=straight_through)
    assert never.sum() == 0
    assert always.sum() == 4


def test_categorical_u_near_one_never_returns_k_nor_a_zero_probability_category():
    # float32 probabilities whose cumulative sum rounds to 1 - 1.2e-7 < u = 1 - 2^-24, then a 0 category.
    probs = torch.tensor([0.1194748654961586, 0.25902512669563293, 0.1932956874370575,
                          0.22372397780418396, 0.20448024570941925, 0.0])
    u_top = torch.tensor(1 - 2**-24)
    assert probs.cumsum(0)[-1] < u_top  # the rounding this guards against really happens
    assert categorical(probs, u_top).item() == 4
    assert categorical(torch.tensor([0.5, 0.5]), u_top).item() == 1


def test_categorical_never_returns_a_zero_probability_category_at_a_boundary():
    probs = torch.tensor([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    u = torch.tensor([0.5, 2**-25, 1 - 2**-24])  # exactly on c_0 = c_1, and the extremes
    assert categorical(probs, u).tolist() == [2, 1, 1]


def test_categorical_random_rows_with_zeros_sampled_at_u_near_one():
    g = torch.Generator().manual_seed(22)
    probs = torch.rand(10_000, 8, generator=g) * (torch.rand(10_000, 8, generator=g) < 0.6)
    probs[:, 0] += 1e-3  # every row has a positive category
    probs = probs / probs.sum(-1, keepdim=True)
    index = categorical(probs, torch.full((10_000,), 1 - 2**-24))
    assert torch.all(probs.gather(-1, index.unsqueeze(-1)) > 0)


def test_validate_false_skips_range_checks_only():
    p = torch.tensor([1.5, -0.5])
    u = torch.tensor([0.9, 0.1])
    assert bernoulli(p, u, validate=False).tolist() == [True, False]
    with pytest.raises(ValueError, match="p has shape"):
        bernoulli(p, torch.tensor([0.5]), validate=False)


def test_docstring_examples_run_as_written():
    result = doctest.testmod(sampling)
    assert result.attempted > 0
    assert result.failed == 0


# --- errors -----------------------------------------------------------------------------------------------

U3 = torch.full((3,), 0.5)
P3 = torch.full((3,), 0.5)
PROBS = torch.tensor([[0.5, 0.5], [0.2, 0.8], [1.0, 0.0]])
LOGITS = torch.zeros(3, 2)
U32 = torch.full((3, 2), 0.5)

VALUE_ERRORS = [
    (lambda: bernoulli(P3, torch.full((4,), 0.5)), r"p has shape \(3,\) but u has shape \(4,\)"),
    (lambda: bernoulli(torch.tensor([0.5, 1.5, 0.2]), U3), r"p must be a probability in \[0, 1\].*1\.5"),
    (lambda: bernoulli(torch.tensor([0.5, -0.1, 0.2]), U3), r"p must be a probability in \[0, 1\]"),
    (lambda: bernoulli(torch.tensor([0.5, math.nan, 0.2]), U3), r"p must be a probability.*nan"),
    (lambda: bernoulli(P3, torch.tensor([0.5, 0.0, 0.2])), r"u must be in the open interval \(0, 1\)"),
    (lambda: bernoulli(P3, torch.tensor([0.5, 1.0, 0.2])), r"u must be in the open interval \(0, 1\)"),
    (lambda: categorical(torch.tensor(1.0), torch.tensor(0.5)), r"probs must have shape \[\*, K\]"),
    (lambda: categorical(torch.zeros(3, 0), U3), r"probs must have shape \[\*, K\] with K >= 1"),
    (lambda: categorical(PROBS, torch.full((2,), 0.5)), r"so u must have shape \(3,\).*got \(2,\)"),
    (lambda: categorical(torch.tensor([[1.2, -0.2]]), torch.tensor([0.5])), r"probs must be a probability"),
    (lambda: categorical(torch.tensor([[0.5, 0.4]]), torch.tensor([0.5])), r"row sums of probs must be 1"),
    (lambda: categorical(PROBS, torch.tensor([0.5, 0.0, 0.2])), r"u must be in the open interval"),
    (lambda: gumbel(torch.tensor([0.5, 1.0])), r"u must be in the open interval"),
    (lambda: gumbel_softmax(LOGITS, U32, temperature=0.0), r"temperature must be a finite number > 0"),
    (lambda: gumbel_softmax(LOGITS, U32, temperature=-1.0), r"temperature must be a finite number > 0"),
    (lambda: gumbel_softmax(LOGITS, U32, temperature=math.nan), r"temperature must be a finite number"),
    (lambda: gumbel_softmax(LOGITS, U32, temperature=math.inf), r"temperature must be a finite number"),
    (lambda: gumbel_softmax(torch.tensor(0.0), torch.tensor(0.5), temperature=1.0),
     r"logits must have shape \[\*, K\]"),
    (lambda: gumbel_softmax(LOGITS, torch.full((2,), 0.5), temperature=1.0),
     r"logits has shape \(3, 2\) but u has shape \(2,\)"),
    (lambda: gumbel_softmax(torch.tensor([[0.0, math.nan]]), torch.full((1, 2), 0.5), temperature=1.0),
     r"logits must be a number or -inf"),
    (lambda: gumbel_softmax(torch.tensor([[0.0, math.inf]]), torch.full((1, 2), 0.5), temperature=1.0),
     r"logits must be a number or -inf"),
    (lambda: gumbel_softmax(LOGITS, torch.zeros(3, 2), temperature=1.0), r"u must be in the open interval"),
]


@pytest.mark.parametrize(("call", "match"), VALUE_ERRORS)
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


TYPE_ERRORS = [
    (lambda: bernoulli(0.5, U3), r"p must be a torch.Tensor, got float"),
    (lambda: bernoulli(torch.ones(3, dtype=torch.int64), U3), r"p must have a floating dtype, got torch.int"),
    (lambda: bernoulli(P3, torch.ones(3, dtype=torch.int32)), r"u must have a floating dtype"),
    (lambda: categorical(PROBS.long(), U3), r"probs must have a floating dtype"),
    (lambda: gumbel(torch.ones(3, dtype=torch.uint8)), r"u must have a floating dtype"),
    (lambda: gumbel_softmax(LOGITS.long(), U32, temperature=1.0), r"logits must have a floating dtype"),
]


@pytest.mark.parametrize(("call", "match"), TYPE_ERRORS)
def test_type_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


@pytest.mark.parametrize("gradient", ["identity", "fired"])
@pytest.mark.parametrize("with_among", [False, True])
def test_straight_through_node_equals_its_formula(gradient, with_among):
    """The one-node straight-through draw gives the values and gradients of its formula written as separate ops:
    x = hard + (p - p.detach()) or hard * p / p.detach() where fired, then among * x."""
    torch.manual_seed(0)
    p = torch.rand(50, dtype=torch.float64).requires_grad_()
    u = torch.rand(50, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
    among = (torch.rand(50, dtype=torch.float64) < 0.7).double().requires_grad_() if with_among else None
    weights = torch.randn(50, dtype=torch.float64)

    x = bernoulli(p, u, straight_through=True, gradient=gradient, among=among)
    (x * weights).sum().backward()
    grads = (p.grad.clone(), None if among is None else among.grad.clone())
    p.grad = None
    if among is not None:
        among.grad = None

    hard = u < p
    reference = hard.double()
    if gradient == "fired":
        reference = reference * (p / torch.where(hard, p.detach(), torch.ones_like(p)))
    else:
        reference = reference + (p - p.detach())
    if among is not None:
        reference = among * reference
    (reference * weights).sum().backward()
    assert torch.equal(x, reference.detach())
    assert torch.equal(grads[0], p.grad)
    if among is not None:
        assert torch.equal(grads[1], among.grad)


def test_among_in_fast_mode_masks_the_draw():
    p, u = torch.tensor([0.9, 0.9, 0.1]), torch.tensor([0.5, 0.5, 0.5])
    assert bernoulli(p, u, among=torch.tensor([True, False, True])).tolist() == [True, False, False]
