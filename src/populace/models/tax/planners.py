r"""Planners: who sets the tax schedule. Each has `propose(model, world) -> TaxSchedule`.

- `USFederalPlanner`: the 2018 US federal single-filer schedule, fixed.
- `SaezPlanner`: Saez (2001, Review of Economic Studies 68(1)) rates measured on the simulated population,
  tau = (1 - G) / (1 - G + a e) per bracket (the optimal top rate for the top bracket), iterated (damped) to the
  fixed point where the rates reproduce themselves.
- `GradientPlanner`: a Stackelberg leader: gradient ascent on a welfare metric over non-decreasing rates, through
  the workers' best responses (`populace.models.tax.workers` explains how gradients pass the kinks), as the AI
  Economist's learned planner did by reinforcement learning (Zheng et al. 2022, Science Advances 8(18)); its
  Adam loop is the generic calibration fit (`populace.calibrate.fit`) on a `PlannerProblem`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from populace.calibrate import FitSettings, fit
from populace.core import World
from populace.models.tax.model import TaxPolicy
from populace.models.tax.schedule import TaxSchedule
from populace.models.tax.welfare import OBJECTIVES, welfare_metrics


def saez_rate(g: float, a: float, e: float) -> float:
    """Saez (2001) optimal top rate tau = (1 - g) / (1 - g + a e).

    g: social marginal welfare weight of top earners relative to the average (0: the revenue-maximising rate),
    a: Pareto parameter of top incomes, e: their elasticity of income with respect to the net-of-tax rate 1 - tau.
    """
    if not (0 <= g <= 1 and a > 0 and e > 0):
        raise ValueError(f"saez_rate needs 0 <= g <= 1, a > 0 and e > 0, got g={g}, a={a}, e={e}")
    return (1 - g) / (1 - g + a * e)


def pareto_parameter(income_usd: Tensor, threshold_usd: float) -> float:
    """a = m / (m - z*), m the mean income above z* (Saez 2001, eq. 8; exact in expectation on a Pareto tail)."""
    top = income_usd[income_usd > threshold_usd]
    if top.numel() < 10:
        raise ValueError(f"only {top.numel()} workers earn above {threshold_usd:,.0f} USD; the Pareto parameter needs "
                         "at least 10. Simulate more workers or lower the top threshold")
    m = float(top.mean())
    return m / (m - threshold_usd)


def local_pareto_parameter(income_usd: Tensor, at_usd: float, *, half_width: float = 0.1) -> float:
    """a(z) = z f(z) / (1 - F(z)), f from the share of incomes in [z / (1 + h), z (1 + h)] (h = `half_width`)."""
    lo, hi = at_usd / (1 + half_width), at_usd * (1 + half_width)
    in_window = float(((income_usd > lo) & (income_usd <= hi)).double().mean())
    above = float((income_usd > at_usd).double().mean())
    if above == 0:
        raise ValueError(f"no worker earns above {at_usd:,.0f} USD; simulate more workers")
    return at_usd * in_window / (hi - lo) / above


@dataclasses.dataclass(frozen=True)
class SaezEstimates:
    """What `SaezPlanner` measured per bracket: a, e and G at the bracket's evaluation income (USD)."""

    at_usd: tuple[float, ...]
    pareto_a: tuple[float, ...]
    elasticity: tuple[float, ...]
    welfare_weight_above: tuple[float, ...]


class USFederalPlanner:
    """The 2018 US federal single-filer schedule, whatever the population."""

    def propose(self, model: TaxPolicy, world: World) -> TaxSchedule:
        return TaxSchedule.us_federal_2018()


class SaezPlanner:
    r"""Saez-style marginal rates per bracket at Saez's fixed point, measured on the simulated population.

    Saez (2001) with no income effects: T'(z) / (1 - T'(z)) = (1 - G(z)) / (a(z) e(z)), i.e.
    tau(z) = (1 - G(z)) / (1 - G(z) + a(z) e(z)), measured as an empiricist would, from the workers' incomes
    under a schedule:
    - a: top bracket, a = m / (m - z*) over incomes above its threshold z*; other brackets, the local
      a(z) = z f(z) / (1 - F(z)) at the bracket's midpoint (half its upper threshold for the first bracket);
    - e: d log Z / d log(1 - tau) over the workers strictly inside the bracket (Z: their total income), by autograd
      through the labour-supply substep; workers bunched at a threshold are left out (they would respond with 0);
    - G(z): mean welfare weight of the workers earning above z, with weights g_i proportional to 1 / c_i (inverse
      consumption, as in the AI Economist's Saez baseline) normalised to mean 1; G = 0 gives the revenue-maximising
      rates.
    a, e and G depend on the schedule they are measured under, so the formula is a fixed point t = S(t). Round 1
    measures under `reference` (default: the model's schedule) and proposes t_1 = S(reference); each later round
    moves part way, t_{j+1} = (1 - damping) S(t_j) + damping t_j (undamped rounds oscillate), until no rate moves by
    more than `tolerance` or after `iterations` rounds. `iterations=1` is one-round Saez under the reference, which
    is not the Saez optimum. After `propose`: `estimates` (last round), `rounds`, `converged`, `changes` (the
    largest rate change of each round).
    """

    def __init__(self, reference: TaxSchedule | None = None, *, iterations: int = 50, damping: float = 0.5,
                 tolerance: float = 1e-3):
        if not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be an int >= 1, got {iterations!r}")
        if not 0 <= damping < 1:
            raise ValueError(f"damping must lie in [0, 1) (the weight kept on the previous rates), got {damping}")
        if not tolerance > 0:
            raise ValueError(f"tolerance must be > 0 (a change in marginal rate, 0.001 = 0.1 point), got {tolerance}")
        self.reference = reference
        self.iterations = iterations
        self.damping = damping
        self.tolerance = tolerance
        self.estimates: SaezEstimates | None = None
        self.rounds = 0
        self.converged = False
        self.changes: tuple[float, ...] = ()

    def propose(self, model: TaxPolicy, world: World) -> TaxSchedule:
        schedule = self.reference or model.schedule
        changes = []
        for j in range(self.iterations):
            proposed = self._one_round(model, world, schedule).rates
            rates = proposed if j == 0 else (1 - self.damping) * proposed + self.damping * schedule.rates
            changes.append(float((rates - schedule.rates.detach()).abs().max()))
            schedule = schedule.with_rates(rates)
            if j > 0 and changes[-1] < self.tolerance:
                break
        self.rounds, self.changes = len(changes), tuple(changes)
        self.converged = len(changes) > 1 and changes[-1] < self.tolerance
        return schedule

    def _one_round(self, model: TaxPolicy, world: World, reference: TaxSchedule) -> TaxSchedule:
        b = reference.thresholds_usd.tolist()
        log_net_of_tax = torch.zeros((), dtype=torch.float64, requires_grad=True)
        with torch.enable_grad():
            rates = 1 - (1 - reference.rates.detach()) * log_net_of_tax.exp()  # d log(1 - t) = d s
            agents = model.respond(world, reference.with_rates(rates, validate=False)).agents
            z = agents.income_usd
            weights = (1 / agents.consumption_usd).detach()
            weights = weights / weights.mean()
            z_now = z.detach()
            at, a, e, g = [], [], [], []
            for k, start in enumerate(b):
                top = k == len(b) - 1
                end = math.inf if top else b[k + 1]
                inside = (z_now > start) & (z_now < end)
                if not bool(inside.any()):
                    raise ValueError(f"no worker earns inside bracket {k} ({start:,.0f} to {end:,.0f} USD) under "
                                     f"{reference}; simulate more workers or merge brackets")
                (slope,) = torch.autograd.grad(z[inside].sum().log(), log_net_of_tax, retain_graph=not top)
                e.append(float(slope))
                at.append(start if top else (start + end) / 2)  # b_0 = 0: half the first bracket's upper threshold
                a.append(pareto_parameter(z_now, start) if top else local_pareto_parameter(z_now, at[-1]))
                g.append(min(1.0, float(weights[z_now > at[-1]].mean())))
        self.estimates = SaezEstimates(tuple(at), tuple(a), tuple(e), tuple(g))
        proposed = [saez_rate(gk, ak, ek) if ek > 0 else 0.0 for gk, ak, ek in zip(g, a, e, strict=True)]
        return reference.with_rates(torch.tensor(proposed, dtype=torch.float64))


@dataclasses.dataclass(frozen=True)
class PlannerHistory:
    """The objective at each step of a `GradientPlanner` run (USD or unitless, per the metric)."""

    objective: str
    values: tuple[float, ...]


class GradientPlanner:
    r"""Gradient ascent on a welfare metric over the bracket rates, differentiating through the best responses.

    Rates are t_k = sigmoid(theta_k), so they stay in (0, 1); theta starts at the logit of the starting schedule
    (default: the model's) and Adam (Kingma & Ba 2015) climbs W(t) = metric(workers' responses to t) for `steps`
    steps: the generic fit (`populace.calibrate.fit`, no gradient clipping) minimises the loss term -W of a
    `PlannerProblem`. The thresholds stay fixed. One step is one population response and one backward pass: O(N K).

    With `non_decreasing=True` (the default) theta is projected after every step (and at the start) onto
    theta_0 <= ... <= theta_{K-1} (isotonic regression by pool-adjacent-violators), so the rates never fall with
    income. On such schedules the best response is continuous in the rates and the autograd gradient is exact
    (`populace.models.tax.workers`). On falling rates workers jump between brackets as the rates move and autograd
    misses the jumps: on the tests' falling schedule it overstates the derivatives in the lower brackets' rates by
    9% to 90% (central differences); with `non_decreasing=False` the planner follows that biased gradient. The
    planner returns the best schedule it evaluated (`history` holds every value), which need not be as good as an
    unprojected start.
    """

    def __init__(self, objective: str = "equality_x_productivity_usd", *, steps: int = 100,
                 learning_rate: float = 0.05, non_decreasing: bool = True):
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        self.objective = objective
        self.steps = steps
        self.learning_rate = learning_rate
        self.non_decreasing = non_decreasing
        self.history: PlannerHistory | None = None

    def objective_value(self, model: TaxPolicy, world: World, schedule: TaxSchedule) -> Tensor:
        """W(schedule): the objective metric of the population's response (differentiable in the rates)."""
        return welfare_metrics(model.respond(world, schedule).agents)[self.objective]

    def propose(self, model: TaxPolicy, world: World, *, start: TaxSchedule | None = None) -> TaxSchedule:
        start = start or model.schedule
        theta = torch.logit(start.rates.detach().clamp(1e-4, 1 - 1e-4))
        problem = PlannerProblem(isotonic(theta) if self.non_decreasing else theta, self.objective,
                                 lambda rates: self.objective_value(model, world, start.with_rates(rates,
                                                                                                   validate=False)))
        settings = FitSettings(iterations=self.steps, learning_rate=self.learning_rate, clip_norm=math.inf)
        with torch.enable_grad():
            fit(problem, settings, progress=False, after_step=problem.project if self.non_decreasing else None)
        with torch.no_grad():
            problem.loss_terms(0)  # the last step's point is evaluated too
        self.history = PlannerHistory(self.objective, tuple(problem.values))
        return start.with_rates(problem.best_rates)


class PlannerProblem(nn.Module):
    r"""The planner's problem for `populace.calibrate.fit`: logit rates theta [K] and the loss term -W(sigmoid(theta)).

    `objective(rates [K]) -> W` is the welfare of the workers' response (differentiable). The world is fixed, so a
    run ignores its seed. Every evaluation is recorded: `values` (W, in order), `best_rates` (the rates of the
    highest W so far, the first on ties).
    """

    def __init__(self, theta: Tensor, objective: str, value: Callable[[Tensor], Tensor]):
        super().__init__()
        self.theta = nn.Parameter(theta.detach().clone())
        self.term = f"minus_{objective}"
        self.value = value
        self.values: list[float] = []
        self.best_value = -math.inf
        self.best_rates = torch.sigmoid(self.theta.detach())

    @property
    def loss_weights(self) -> dict[str, float]:
        return {}

    def loss_terms(self, seed: int, *, differentiable: bool = True) -> dict[str, Tensor]:
        rates = torch.sigmoid(self.theta)
        value = self.value(rates)
        self.values.append(float(value.detach()))
        if self.values[-1] > self.best_value:
            self.best_value, self.best_rates = self.values[-1], rates.detach().clone()
        return {self.term: -value}

    def project(self) -> None:
        """theta <- the closest non-decreasing sequence (`isotonic`), in place."""
        self.theta.copy_(isotonic(self.theta))


def isotonic(values: Tensor) -> Tensor:
    """The non-decreasing sequence closest to `values` [K] in least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [sum, count] of each pooled run
    for v in values.detach().tolist():
        blocks.append([v, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    pooled = [total / count for total, count in blocks for _ in range(count)]
    return torch.tensor(pooled, dtype=values.dtype, device=values.device)
