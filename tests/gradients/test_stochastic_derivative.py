"""Stochastic derivatives: unbiased against the exact derivative of an enumerated Markov chain, the pieces by hand."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
import torch
import torch.autograd.forward_ad as fwad

from populace import sampling
from populace.core import AgentTable, World
from populace.core.coupling import DrawCoupling, Flip, Mode, Reservoir, coupled, flip_weights
from populace.gradients import stochastic_derivative, stochastic_gradient
from populace.gradients.compare import EstimatorFigures, compare_estimators, straight_through
from populace.models.sir import SIR
from populace.models.sir.model import STAGES, Stage
from populace.network.graph import ContactLayer

LOG_BETA = "transmission.parametrizations.beta_per_day.original"
LOGIT_RECOVERY = "recovery.parametrizations.p_recovery.original"
BETA, INFECTIOUS_DAYS, DAYS, TRIANGLES = 0.4, 2.0, 5, 50


class SeededTriangles(SIR):
    """SIR on disjoint triangles whose first agent is infectious on day 0: every triangle is one small Markov chain."""

    def __init__(self, **params: float):
        src = [3 * t + i for t in range(TRIANGLES) for i, _ in ((0, 1), (0, 2), (1, 2))]
        dst = [3 * t + j for t in range(TRIANGLES) for _, j in ((0, 1), (0, 2), (1, 2))]
        super().__init__(ContactLayer.from_edges(3 * TRIANGLES, src, dst), 3 * TRIANGLES, **params)

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        codes = torch.full((self.n_agents,), Stage.S, dtype=torch.uint8)
        codes[::3] = Stage.I
        table = AgentTable({"id": torch.arange(self.n_agents, dtype=torch.int32),
                            "stage": STAGES.encode(codes, differentiable=differentiable),
                            "newly_infected": torch.zeros(self.n_agents, dtype=torch.float32 if differentiable
                                                          else torch.bool)})
        return World.of(table, seed=seed, differentiable=differentiable)


def triangles() -> SeededTriangles:
    return SeededTriangles(beta_per_day=BETA, infectious_days=INFECTIOUS_DAYS)


def share_ever_infected(traj) -> torch.Tensor:
    return 1 - traj["susceptible"][-1].double() / (3 * TRIANGLES)


def exact_share_and_derivatives() -> tuple[float, float, float]:
    """E[share ever infected after DAYS] of one triangle and its derivatives in log beta and in logit(1 / D), by
    enumerating its 27 states day by day (each susceptible infected w.p. 1 - exp(-beta I), each infectious
    recovering w.p. 1 / D)."""
    log_beta = torch.tensor(math.log(BETA), dtype=torch.float64, requires_grad=True)
    logit_recovery = torch.tensor(-math.log(INFECTIOUS_DAYS - 1), dtype=torch.float64, requires_grad=True)
    beta, recovery = log_beta.exp(), torch.sigmoid(logit_recovery)
    states = list(itertools.product((Stage.S, Stage.I, Stage.R), repeat=3))
    probability = {state: torch.tensor(float(state == (Stage.I, Stage.S, Stage.S)), dtype=torch.float64)
                   for state in states}
    for _ in range(DAYS):
        following = dict.fromkeys(states, torch.zeros((), dtype=torch.float64))
        for state in states:
            p = -torch.expm1(-beta * state.count(Stage.I))
            moves = [((Stage.S, 1 - p), (Stage.I, p)) if s == Stage.S else
                     ((Stage.I, 1 - recovery), (Stage.R, recovery)) if s == Stage.I else ((Stage.R, 1.0),)
                     for s in state]
            for outcome in itertools.product(*moves):
                following[tuple(s for s, _ in outcome)] = (following[tuple(s for s, _ in outcome)] + probability[state]
                                                           * math.prod(chance for _, chance in outcome))
        probability = following
    share = sum(probability[state] * sum(s != Stage.S for s in state) / 3 for state in states)
    share.backward()
    return float(share.detach()), float(log_beta.grad), float(logit_recovery.grad)


def test_the_enumerated_chain_matches_simulated_runs():
    share, _, _ = exact_share_and_derivatives()
    runs = [float(share_ever_infected(triangles().run(DAYS, seed=seed, progress=False))) for seed in range(40)]
    standard_error = statistics.stdev(runs) / math.sqrt(len(runs))
    assert abs(statistics.fmean(runs) - share) < 4 * standard_error


@pytest.mark.parametrize("step_exponent", [1.0, 0.0])
def test_stochastic_derivative_is_unbiased_where_straight_through_is_not(step_exponent):
    _, exact, _ = exact_share_and_derivatives()  # 0.2484
    estimates = [stochastic_derivative(triangles(), share_ever_infected, DAYS, seed=seed, wrt=LOG_BETA, paths=16,
                                       step_exponent=step_exponent).derivative for seed in range(40)]
    standard_error = statistics.stdev(estimates) / math.sqrt(len(estimates))
    assert standard_error < 0.1 * exact
    assert abs(statistics.fmean(estimates) - exact) < 4 * standard_error
    surrogate = [straight_through(triangles(), share_ever_infected, DAYS, seed=seed, wrt=LOG_BETA)
                 for seed in range(40)]
    assert statistics.fmean(surrogate) < 0.9 * exact  # the "fired" surrogate: 0.21, 15% low


def test_the_derivative_in_the_recovery_rate_is_unbiased_too():
    # a second draw of the step, whose flips go the other way: more recovery, fewer infections
    _, _, exact = exact_share_and_derivatives()  # -0.0878
    estimates = [stochastic_derivative(triangles(), share_ever_infected, DAYS, seed=seed, wrt=LOGIT_RECOVERY,
                                       paths=16).derivative for seed in range(40)]
    standard_error = statistics.stdev(estimates) / math.sqrt(len(estimates))
    assert exact < 0
    assert standard_error < 0.15 * abs(exact)
    assert abs(statistics.fmean(estimates) - exact) < 4 * standard_error


def test_the_primal_value_is_the_fast_run_and_the_continuous_part_of_a_count_is_zero():
    estimate = stochastic_derivative(triangles(), share_ever_infected, DAYS, seed=3, wrt=LOG_BETA, paths=2)
    assert estimate.value == float(share_ever_infected(triangles().run(DAYS, seed=3, progress=False)))
    assert estimate.continuous == 0.0
    assert len(estimate.jumps) == 2
    assert estimate.derivative == pytest.approx(sum(estimate.jumps) / 2)


def test_a_loss_with_a_continuous_dependence_keeps_it():
    model = triangles()

    def beta_times_share(traj) -> torch.Tensor:  # d/dlog beta of beta x share, discrete outcomes held: beta x share
        return model.transmission.beta_per_day * share_ever_infected(traj)

    estimate = stochastic_derivative(model, beta_times_share, DAYS, seed=1, wrt=LOG_BETA)
    assert estimate.continuous == pytest.approx(estimate.value)


def test_stochastic_gradient_gives_each_number_its_own_derivative():
    gradient = stochastic_gradient(triangles(), share_ever_infected, DAYS, seed=2, paths=3)
    assert set(gradient) == {LOG_BETA, LOGIT_RECOVERY}
    for name in (LOG_BETA, LOGIT_RECOVERY):
        assert float(gradient[name]) == stochastic_derivative(triangles(), share_ever_infected, DAYS, seed=2,
                                                              wrt=name, paths=3).derivative


def test_flip_weights_by_hand():
    p = torch.tensor([0.2, 0.5, 0.5, 0.3, 0.4])
    dp = torch.tensor([0.1, 0.1, -0.2, -0.3, 0.0])
    drawn = torch.tensor([False, True, True, False, False])
    # 0 -> 1 at rate dp / (1 - p) where dp > 0; 1 -> 0 at rate -dp / p where dp < 0; never the other way
    assert flip_weights(p, dp, drawn).tolist() == pytest.approx([0.125, 0.0, 0.4, 0.0, 0.0])


def test_the_primal_coupling_records_weights_only_among_the_draws_that_count():
    coupling = DrawCoupling(Mode.PRIMAL)
    with fwad.dual_level():
        p = fwad.make_dual(torch.tensor([0.5, 0.5, 0.5]), torch.tensor([0.1, 0.1, 0.1]))
        drawn = coupling.bernoulli(p, torch.tensor([0.7, 0.7, 0.2]), among=torch.tensor([True, False, True]))
        plain = coupling.bernoulli(fwad.make_dual(torch.tensor([0.5]), torch.tensor([0.0])), torch.tensor([0.1]))
    assert drawn.tolist() == [False, False, True]
    assert plain.tolist() == [True]
    assert coupling.weights[0].tolist() == pytest.approx([0.2, 0.0, 0.0])
    assert coupling.weights[1].tolist() == [0.0]


def test_a_replayed_step_flips_exactly_the_chosen_draw():
    coupling = DrawCoupling(Mode.REPLAY, flip_call=1, flip_position=0)
    u = torch.tensor([0.1, 0.9])
    first, second = coupling.bernoulli(torch.tensor([0.5, 0.5]), u), coupling.bernoulli(torch.tensor([0.5, 0.5]), u)
    assert first.tolist() == [True, False]
    assert second.tolist() == [False, False]


def test_the_reservoir_keeps_each_flip_with_its_weight_on_average():
    steps = [[torch.tensor([1.0, 3.0], dtype=torch.float64)], [None, torch.tensor([2.0], dtype=torch.float64)],
             [torch.tensor([0.5, 0.5], dtype=torch.float64)]]
    flips = [(0, Flip(0, 0)), (0, Flip(0, 1)), (1, Flip(1, 0)), (2, Flip(0, 0)), (2, Flip(0, 1))]
    weights = [1.0, 3.0, 2.0, 0.5, 0.5]
    for exponent in (1.0, 0.5):
        runs, kept = 4000, {flip: [] for flip in flips}
        for seed in range(runs):
            reservoir, chosen = Reservoir(seed, exponent), None
            for step, step_weights in enumerate(steps):
                flip = reservoir.choose(step_weights)
                chosen = chosen if flip is None else (step, flip)
            if exponent == 1:
                assert reservoir.weight == pytest.approx(7.0)  # the paper's pruning: the total of all weights
            for flip in flips:
                kept[flip].append(reservoir.weight if chosen == flip else 0.0)
        for flip, weight in zip(flips, weights, strict=True):  # E[path weight x 1(this flip kept)] = its weight
            standard_error = statistics.stdev(kept[flip]) / math.sqrt(runs)
            assert abs(statistics.fmean(kept[flip]) - weight) < 4 * standard_error, (exponent, flip)


def test_a_step_without_flips_keeps_the_current_alternative():
    reservoir = Reservoir(0)
    assert reservoir.choose([None]) is None
    assert reservoir.weight == 0.0
    assert reservoir.choose([torch.tensor([2.0], dtype=torch.float64)]) == Flip(0, 0)
    assert reservoir.choose([torch.zeros(3, dtype=torch.float64)]) is None
    assert reservoir.weight == 2.0


def test_estimator_figures_by_hand():
    figures = EstimatorFigures("x", estimates=(1.0, 2.0, 3.0), seconds_per_gradient=0.5, reference=(2.0, 2.0, 2.0))
    assert (figures.mean, figures.sd, figures.ratio) == (2.0, 1.0, 1.0)
    assert figures.standard_error == pytest.approx(1 / math.sqrt(3))
    half = 1.96 / math.sqrt(3) / 2  # the paired differences (-1, 0, 1) have sd 1, relative to the mean of 2
    assert figures.ratio_interval == pytest.approx((1 - half, 1 + half))


def test_compare_estimators_runs_each_estimator_on_every_seed():
    figures = compare_estimators(triangles, share_ever_infected, DAYS, seeds=range(3), wrt=LOG_BETA, h=0.05, paths=2)
    assert list(figures) == ["finite difference", "straight-through", "stochastic derivative"]
    assert all(len(f.estimates) == 3 and f.seconds_per_gradient > 0 for f in figures.values())
    assert figures["finite difference"].ratio == 1.0
    with pytest.raises(ValueError, match="unknown estimator"):
        compare_estimators(triangles, share_ever_infected, DAYS, seeds=range(1), wrt=LOG_BETA, h=0.05,
                           estimators=["reinforce"])


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"wrt": "transmission.beta"}, KeyError, "no parameter"),
    ({"wrt": {LOG_BETA: torch.ones(2)}}, ValueError, "shape"),
    ({"wrt": LOG_BETA, "paths": 0}, ValueError, "paths"),
    ({"wrt": LOG_BETA, "step_exponent": 2.0}, ValueError, "step_exponent"),
])
def test_bad_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        stochastic_derivative(triangles(), share_ever_infected, DAYS, seed=0, **kwargs)


def test_a_differentiable_world_and_negative_steps_are_refused():
    model = triangles()
    with pytest.raises(ValueError, match="fast-mode world"):
        stochastic_derivative(model, share_ever_infected, DAYS, seed=0, wrt=LOG_BETA,
                              world=model.initial_world(seed=0, differentiable=True))
    with pytest.raises(ValueError, match="steps"):
        stochastic_derivative(model, share_ever_infected, -1, seed=0, wrt=LOG_BETA)


def test_a_parameter_dependent_draw_outside_the_world_is_refused_in_a_coupled_run():
    with fwad.dual_level(), coupled(DrawCoupling(Mode.PRIMAL)):
        p = fwad.make_dual(torch.tensor([0.5]), torch.tensor([1.0]))
        with pytest.raises(RuntimeError, match=r"world\.bernoulli"):
            sampling.bernoulli(p, torch.tensor([0.3]))
        world = triangles().initial_world(seed=0)
        probs = fwad.make_dual(torch.full((world.agents.n, 2), 0.5), torch.ones(world.agents.n, 2))
        with pytest.raises(NotImplementedError, match="Bernoulli draws only"):
            world.categorical("choice", probs)


def test_the_covid_model_takes_stochastic_derivatives_through_its_transmission_draws():
    from populace.models.covid_nyc import CovidNYC, CovidParams
    from populace.population.synthetic import layered_synthetic_population

    city = layered_synthetic_population(600, seed=1)
    model = CovidNYC.from_population(city, CovidParams(beta_by_week=(0.3, 0.3)), initial_infected=20)

    def infections(traj) -> torch.Tensor:
        return traj["new_infections"].sum().double()

    estimate = stochastic_derivative(model, infections, 14, seed=4, paths=4,
                                     wrt={"transmission.parametrizations.beta_by_week.original": torch.ones(2)})
    assert estimate.value == float(infections(model.run(14, seed=4, progress=False)))
    assert estimate.continuous == 0.0  # a count of discrete outcomes
    assert estimate.derivative > 0  # more transmission, more infections
