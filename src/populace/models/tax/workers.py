r"""Labour supply: each worker chooses how much to earn under the tax schedule, rationally or boundedly.

Worker i has skill n_i (USD: the income it earns untaxed, working full time) and elasticity e_i > 0. Earning
z_i = w_i h_i (wage w_i = n_i / H per hour, H full-time hours a year) it gets the quasi-linear, isoelastic utility

    u_i = c_i - v_i(z_i),   c_i = z_i - T(z_i) + R,   v_i(z) = n_i / (1 + 1/e_i) (z / n_i)^(1 + 1/e_i)

(c: consumption = post-tax income plus the lump-sum rebate R; v: cost of effort in USD). Without income effects
e_i is exactly the elasticity of income with respect to the net-of-tax rate 1 - t (Saez 2001, Review of Economic
Studies 68(1), section 2): on a linear tax the best response is the closed form z_i = n_i (1 - t)^(e_i).

Piecewise-linear T: on bracket k (b_k <= z <= b_{k+1}) the objective is concave, so its best point is the
closed form clamped to the bracket, z_ik = clamp(n_i (1 - t_k)^(e_i), b_k, b_{k+1}); a clamped value is a kink,
where workers bunch. The worker takes the best of these K candidate plans. This is exact for any schedule, rates
rising or not (non-convex T can have several local optima; the best of all K is the global one).

Gradients (Stackelberg planner): the choice of candidate is piecewise constant in the rates and passes no
gradient; the chosen plan does. An interior plan moves with its bracket's rate, dz/dt_k = -e z / (1 - t_k); a
bunched worker stays at the kink (dz/dt = 0: clamp's gradient is zero outside its range) and its tax moves with
the rates below it. With rising rates z is continuous in the rates, so the planner's welfare is continuous and
these are its exact one-sided derivatives almost everywhere.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from populace import sampling
from populace.core import Substep, World
from populace.models.tax.schedule import TaxSchedule


class Persona(enum.IntEnum):
    """How carefully a bounded worker optimises (illustrative personas; the LLM issue brings prompted ones)."""

    ATTENTIVE = 0
    TYPICAL = 1
    INATTENTIVE = 2


def schedule_of(world: World) -> TaxSchedule:
    """The schedule a world's workers face: env `tax_thresholds_usd` and `tax_rates` (validated by the planner)."""
    return TaxSchedule(world.env["tax_thresholds_usd"], world.env["tax_rates"], validate=False)


def effort_cost_usd(income_usd: Tensor, skill_usd: Tensor, elasticity: Tensor) -> Tensor:
    """v(z) = n / (1 + 1/e) (z / n)^(1 + 1/e), in USD (broadcasts)."""
    exponent = 1 + 1 / elasticity
    return skill_usd / exponent * (income_usd / skill_usd) ** exponent


def candidate_plans(skill_usd: Tensor, elasticity: Tensor, schedule: TaxSchedule) -> tuple[Tensor, Tensor]:
    """Each bracket's best income and its private gain z - T(z) - v(z) (R left out: it does not depend on z).

    A bracket whose plan would be clamped at its upper end gets gain -inf (that kink is bracket k+1's business).

    Shapes: skill_usd, elasticity [N] -> incomes [N, K], gains [N, K].
    """
    b = schedule.thresholds_usd  # [K]
    n, e = skill_usd.unsqueeze(-1), elasticity.unsqueeze(-1)  # [N, 1]
    upper = _upper_thresholds(b)  # [K], b_{k+1}
    interior, z = _bracket_plan(n, e, schedule.rates, b, upper)  # [N, K], n (1 - t_k)^e and its clamp
    tax = schedule.tax_at_thresholds_usd() + schedule.rates * (z - b)  # [N, K], T(z) on bracket k
    gain = z - tax - effort_cost_usd(z, n, e)
    # A plan clamped at its bracket's top b_{k+1} is no better than bracket k+1's best plan: drop it, so that
    # each distinct plan is counted once (a kink would otherwise be listed twice in a logit choice).
    return z, gain.masked_fill(interior.detach() > upper, -torch.inf)


def plan_income_usd(skill_usd: Tensor, elasticity: Tensor, schedule: TaxSchedule, bracket: Tensor) -> Tensor:
    """z_ik for one bracket k per worker (int64 [N]): the chosen column of `candidate_plans`, computed alone.

    Computing only the chosen plan with gradients (the choice itself under no_grad) makes the backward pass O(N)
    instead of O(N K).
    """
    b = schedule.thresholds_usd
    upper = _upper_thresholds(b)
    return _bracket_plan(skill_usd, elasticity, schedule.rates[bracket], b[bracket], upper[bracket])[1]  # [N]


def _upper_thresholds(thresholds_usd: Tensor) -> Tensor:
    """b_{k+1} for each bracket k, inf for the top one ([K])."""
    return torch.cat([thresholds_usd[1:], thresholds_usd.new_tensor([torch.inf])])


def _bracket_plan(skill_usd: Tensor, elasticity: Tensor, rate: Tensor, lower_usd: Tensor,
                  upper_usd: Tensor) -> tuple[Tensor, Tensor]:
    """The interior plan n (1 - t)^e and that plan clamped to [lower, upper] (a kink when clamped); broadcasts."""
    interior = skill_usd * torch.exp(elasticity * torch.log1p(-rate))
    return interior, torch.minimum(torch.maximum(interior, lower_usd), upper_usd)


class RationalLabourSupply(Substep):
    """Best response: z_i = argmax over brackets k of the gain of plan z_ik (module docstring); exact.

    Reads skill_usd, elasticity ([N] float64) and the schedule in env; writes income_usd and hours_per_year.
    """

    writes: ClassVar[tuple[str, ...]] = ("income_usd", "hours_per_year")

    def __init__(self, full_time_hours_per_year: float = 2000.0):
        super().__init__()
        if not full_time_hours_per_year > 0:
            raise ValueError(f"full_time_hours_per_year must be > 0, got {full_time_hours_per_year}")
        self.full_time_hours_per_year = full_time_hours_per_year

    def forward(self, world: World) -> dict[str, Tensor]:
        a = world.agents
        schedule = schedule_of(world)
        with torch.no_grad():
            best = candidate_plans(a.skill_usd, a.elasticity, schedule)[1].argmax(-1)  # [N], the best bracket
        income = plan_income_usd(a.skill_usd, a.elasticity, schedule, best)  # [N], differentiable
        return {"income_usd": income, "hours_per_year": income / a.skill_usd * self.full_time_hours_per_year}

    def extra_repr(self) -> str:
        return f"full_time_hours_per_year={self.full_time_hours_per_year}"


class BoundedLabourSupply(Substep):
    r"""Noisy, persona-dependent choice: a logit choice among the K candidate plans, then an hours error.

    P(plan k) = softmax_k(gain_ik / lambda_p) with temperature lambda_p (USD) for persona p, drawn by inverse CDF
    from the counter-based uniform of stream "labour_choice"; then z_i = z_ik exp(s_p eps_i - s_p^2 / 2),
    eps_i ~ N(0, 1) from stream "hours_error" (mean-preserving lognormal error, log sd s_p). As lambda, s -> 0
    this is the rational best response. Quantal response: McKelvey & Palfrey 1995, Games Econ. Behav. 10(1).
    In differentiable mode the plan is a straight-through one-hot (`populace.sampling.categorical`).
    The defaults are illustrative, not estimates: attentive workers lose about 100 USD to confusion, inattentive
    ones about 5,000 USD, and miss their hours by 2% to 15%.

    Reads skill_usd, elasticity, persona (uint8 [N]) and the schedule in env; writes income_usd, hours_per_year.
    """

    writes: ClassVar[tuple[str, ...]] = ("income_usd", "hours_per_year")

    def __init__(self, temperature_usd_by_persona: Sequence[float] = (100.0, 1_000.0, 5_000.0),
                 hours_error_sd_by_persona: Sequence[float] = (0.02, 0.05, 0.15),
                 full_time_hours_per_year: float = 2000.0):
        super().__init__()
        temperature = torch.as_tensor(temperature_usd_by_persona, dtype=torch.float64)
        error_sd = torch.as_tensor(hours_error_sd_by_persona, dtype=torch.float64)
        if temperature.shape != (len(Persona),) or error_sd.shape != (len(Persona),):
            raise ValueError(f"give one value per persona ({', '.join(p.name for p in Persona)}): got "
                             f"{temperature.numel()} temperatures and {error_sd.numel()} hours errors")
        if not bool((temperature > 0).all()) or not bool((error_sd >= 0).all()):
            raise ValueError(f"temperatures must be > 0 USD and hours errors >= 0, got {temperature.tolist()} and "
                             f"{error_sd.tolist()}; for exact optimisers use RationalLabourSupply")
        if not full_time_hours_per_year > 0:
            raise ValueError(f"full_time_hours_per_year must be > 0, got {full_time_hours_per_year}")
        self.register_buffer("temperature_usd_by_persona", temperature)
        self.register_buffer("hours_error_sd_by_persona", error_sd)
        self.full_time_hours_per_year = full_time_hours_per_year

    def forward(self, world: World) -> dict[str, Tensor]:
        a = world.agents
        persona = a.persona.long()
        z, gain = candidate_plans(a.skill_usd, a.elasticity, schedule_of(world))  # [N, K]
        probs = torch.softmax(gain / self.temperature_usd_by_persona[persona].unsqueeze(-1), -1)  # [N, K]
        u_choice = world.uniform("labour_choice", dtype=torch.float64)
        plan = sampling.categorical(probs, u_choice, straight_through=True, validate=False)  # [N, K] one-hot
        if not world.differentiable:
            plan = plan.detach()
        sd = self.hours_error_sd_by_persona[persona]  # [N]
        eps = torch.special.ndtri(world.uniform("hours_error", dtype=torch.float64))  # [N], N(0, 1)
        income = (plan * z).sum(-1) * torch.exp(sd * eps - sd**2 / 2)
        return {"income_usd": income, "hours_per_year": income / a.skill_usd * self.full_time_hours_per_year}

    def extra_repr(self) -> str:
        return (f"temperature_usd_by_persona={self.temperature_usd_by_persona.tolist()}, "
                f"hours_error_sd_by_persona={self.hours_error_sd_by_persona.tolist()}")
