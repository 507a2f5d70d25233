"""Every learned quantity gets a finite, non-zero gradient that agrees with a finite difference of the seed-averaged
loss; the straight-through initial-infection count is exact."""

import importlib

import pytest
import torch
from calibrate_fixtures import seed_loss, synthetic_problem

from populace.calibrate import total_loss, trainable
from populace.core.parameters import unconstrained

SEEDS = range(4)
H = 0.3


def seed_averaged_gradient(calibration) -> dict[str, torch.Tensor]:
    learned = trainable(calibration)
    for p in learned.values():
        p.grad = None
    for seed in SEEDS:
        loss, _ = seed_loss(calibration, seed)
        (loss / len(SEEDS)).backward()
    return {name: p.grad.clone() for name, p in learned.items()}


@torch.no_grad()
def mean_fast_loss(calibration) -> float:
    return sum(float(seed_loss(calibration, s, differentiable=False)[0]) for s in SEEDS) / len(SEEDS)


@torch.no_grad()
def directional_difference(calibration, direction: dict[str, torch.Tensor], h: float) -> float:
    """(L(theta + h v) - L(theta - h v)) / 2h over the same seeds (common random numbers), fast mode."""
    params = trainable(calibration)
    values = []
    for step in (h, -2 * h):
        for name, v in direction.items():
            params[name] += step * v
        values.append(mean_fast_loss(calibration))
    for name, v in direction.items():
        params[name] += h * v
    return (values[0] - values[1]) / (2 * h)


def unit_direction(params: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    v = {name: torch.randn(p.shape, generator=g) for name, p in params.items()}
    norm = sum(float((x**2).sum()) for x in v.values()) ** 0.5
    return {name: x / norm for name, x in v.items()}


@pytest.fixture(scope="module", params=["free", "network"])
def problem(request):
    calibration = synthetic_problem(mode=request.param)
    return calibration, seed_averaged_gradient(calibration)


def test_every_learned_tensor_gets_a_finite_nonzero_gradient(problem):
    calibration, grad = problem
    expected = {"model.parametrizations.initial_infections.original",
                "model.importation.parametrizations.rate.original",
                "model.labour.parametrizations.rehire_per_week.original",
                "observation.parametrizations.reference_ascertainment.original",
                "observation.tests_slope"}
    if calibration.mode == "free":
        expected |= {"model.transmission.parametrizations.beta_by_week.original",
                     "model.behaviour.decision_model.isolate_logit_by_week"}
    else:
        expected |= {f"network.layers.{k}.{w}" for k in (0, 2, 4) for w in ("weight", "bias")}
    assert expected <= set(grad)
    assert len(grad) == len(expected) + 5  # and the five other labour parameters
    for name, g in grad.items():
        assert torch.isfinite(g).all(), name
        assert float(g.abs().sum()) > 0, name
    if calibration.mode == "free":  # every week of beta and every week and region of isolation is reached
        assert bool((grad["model.transmission.parametrizations.beta_by_week.original"][:4] != 0).all())
        assert float((grad["model.behaviour.decision_model.isolate_logit_by_week"] != 0).float().mean()) > 0.5


# Finite differences: central, h = 0.3 along a random unit direction per tensor, seeds 0-3 (the autograd seeds), fast
# mode (the same samples). The observation parameters act after the simulation, smoothly: autograd equals the
# difference up to its O(h^2) curvature (h = 0.01: within 1%). The simulator's draws use straight-through estimators,
# biased: autograd / FD measured on this problem (N = 1,000, 28 days) with seeds 0-3 and 4-7: beta 1.08, 0.88;
# labour 1.74, 0.72 (job loss), 1.15, 0.77 (lockdown job loss), 0.81, 0.72 (stay home), 0.63, 0.62 (re-hiring), 0.94,
# 0.31 (lockdown re-hiring reduction), all five along one direction 1.46, 0.86; network weights (one direction)
# 0.69-1.18; importation rate 2.36, 1.20 (its imports are an exact straight-through count, their onward spread
# passes through the biased transmission estimator). The test checks beta and importations alone, the labour rates
# together (each tensor alone costs 8 more runs; the per-tensor figures above came from this test run tensor by
# tensor). Tolerance: same sign, ratio in [0.25, 4].
# The isolation shifts [W, R] are checked along their common direction (all weeks and regions shifted alike): ratio
# 1.92 and 0.43 (loss), and for their effect on the cases term alone 1.03, on total infections 0.98 (seeds 0-7).
# Along a random direction the difference is noise: shifting 20 cells by +-0.3 at random reshuffles which of 1,000
# agents isolate, and the finite difference (0.03-0.05) is as large as along the common direction while the
# directional derivative is 10x smaller (ratios -0.07 and 0.11). So the check uses the direction the data can see.
# The initial infections are only checked for a finite non-zero gradient above (ratio -4.9 and 1.2: the difference
# moves +-35% of the first infections, too discrete for 4 seeds); their straight-through count is exact (below).
LABOUR_RATES = ("job_loss_per_week", "lockdown_job_loss_per_week", "stay_home_job_loss_factor", "rehire_per_week",
                "lockdown_rehire_reduction")
BIASED = ("model.transmission.parametrizations.beta_by_week.original",
          "model.importation.parametrizations.rate.original",
          *(f"model.labour.parametrizations.{name}.original" for name in LABOUR_RATES))
ISOLATION = "model.behaviour.decision_model.isolate_logit_by_week"


@pytest.mark.parametrize("problem", ["free"], indirect=True)  # the observation is the same in both modes
def test_observation_gradients_equal_finite_differences(problem):
    calibration, grad = problem
    with torch.no_grad():  # the observation acts on finished runs: simulate once, observe at theta +- h
        runs = [calibration.trajectory(s, differentiable=False) for s in SEEDS]

    def loss() -> float:
        with torch.no_grad():
            terms = [calibration.terms(calibration.series(r)) for r in runs]
            return sum(float(total_loss(calibration, t)) for t in terms) / len(runs)

    params = trainable(calibration)
    for name in ("observation.parametrizations.reference_ascertainment.original", "observation.tests_slope"):
        values = []
        for step in (0.01, -0.02):
            with torch.no_grad():
                params[name] += step
            values.append(loss())
        with torch.no_grad():
            params[name] += 0.01
        assert float(grad[name]) == pytest.approx((values[0] - values[1]) / 0.02, rel=0.01), name


def test_simulator_gradients_agree_with_finite_differences(problem):
    calibration, grad = problem
    if calibration.mode == "free":  # beta and the importations each on their own, the five labour rates together
        groups = [[BIASED[0]], list(BIASED[1:-1]), [BIASED[-1]]]
    else:  # one direction over all network weights (the labour parameters are the same as in free mode)
        groups = [[name for name in grad if name.startswith("network.")]]
    directions = [unit_direction({name: grad[name] for name in names}, seed=10 + k) for k, names in enumerate(groups)]
    if calibration.mode == "free":  # the isolation shifts along their common direction (all weeks and regions)
        shifts = grad[ISOLATION]
        groups.append([ISOLATION])
        directions.append({ISOLATION: torch.full_like(shifts, shifts.numel() ** -0.5)})
    for names, v in zip(groups, directions, strict=True):
        fd = directional_difference(calibration, v, H)
        autograd = sum(float((grad[name] * v[name]).sum()) for name in names)
        assert fd != 0, names
        assert 0.25 <= autograd / fd <= 4, (names, autograd, fd)


def test_initial_infections_are_a_straight_through_count():
    calibration = synthetic_problem(days=7)
    model = calibration.model
    k = model.initial_infected
    fast = model.initial_world(seed=3).agents
    diff = model.initial_world(seed=3, differentiable=True).agents
    assert int((fast.stage == 1).sum()) == k == 20
    assert torch.equal(diff.stage.detach().argmax(-1), fast.stage.long())  # the same agents, values exactly 0/1
    (grad,) = torch.autograd.grad(diff.stage[:, 1].sum(), unconstrained(model, "initial_infections"))
    assert float(grad) == k  # d(first infections)/d log n0 = n0
    with torch.no_grad():
        unconstrained(model, "initial_infections").add_(0.5)
    assert model.initial_infected == round(20 * 2.718281828**0.5)


def test_contact_products_pushed_from_the_infectious_give_the_full_products_gradients(monkeypatch):
    # differentiable transmission pushes from the infectious agents (`aggregate(..., support=...)`); forcing the
    # full sparse products instead must give the same loss and the same gradient for every learned tensor
    aggregate_module = importlib.import_module("populace.network.aggregate")  # the package re-exports a function
    calibration = synthetic_problem(days=21)

    def loss_and_grads():
        loss, _ = seed_loss(calibration, 5)
        names, params = zip(*trainable(calibration).items(), strict=True)
        return float(loss.detach()), dict(zip(names, torch.autograd.grad(loss, params), strict=True))

    decided = []
    pays = aggregate_module.pays_to_push
    monkeypatch.setattr(aggregate_module, "pays_to_push", lambda *args: decided.append(pays(*args)) or decided[-1])
    pushed_loss, pushed = loss_and_grads()
    assert sum(decided) >= 20  # 38 of the 156 products were pushed (the rest: too many infectious agents)
    monkeypatch.setattr(aggregate_module, "pays_to_push", lambda *args: False)
    full_loss, full = loss_and_grads()
    assert pushed_loss == pytest.approx(full_loss, rel=1e-6)
    for name, g in full.items():
        torch.testing.assert_close(pushed[name], g, rtol=1e-4, atol=1e-6, msg=name)
    assert float(full["model.behaviour.decision_model.isolate_logit_by_week"].abs().sum()) > 0
