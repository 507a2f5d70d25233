"""`TaxPolicy`: workers choose how much to earn under a planner's income-tax schedule; revenue is rebated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from populace import sampling
from populace.core import AgentTable, Model, World, rng
from populace.core.clock import StepLength
from populace.models.tax.income import ACS_2023_INCOME, GB2Income, ParetoIncome
from populace.models.tax.schedule import TaxSchedule
from populace.models.tax.taxation import Taxation
from populace.models.tax.welfare import welfare_metrics
from populace.models.tax.workers import Persona, RationalLabourSupply


class TaxPolicy(Model):
    """An income-tax economy on the Populace engine, one step per tax year (`StepLength.YEAR`, step 0 on January 1
    of `first_year`, so a trajectory's rows are dated by year).

    Rules, in order each step:
    1. Workers choose their income z_i under the schedule T (in `world.env`), rationally or boundedly
       (`labour_supply`: `RationalLabourSupply()` or `BoundedLabourSupply(...)`, or any substep writing income_usd
       and hours_per_year).
    2. Taxation collects T(z_i) and rebates the revenue to every worker as an equal lump sum.
    Step 0 is the untaxed economy (z_i = n_i). A planner (`populace.models.tax.planners`) changes the schedule with
    `respond(world, schedule)`; gradients flow from welfare to the rates through both substeps.

    Population: skills n_i (USD) from `income` (default: GB2 fitted to the US 2023 ACS), elasticities e_i uniform
    on `elasticity_range` (default 0.1 to 0.4, the range of the taxable-income elasticities reviewed by Saez,
    Slemrod & Giertz 2012, J. Econ. Literature 50(1)), personas drawn with `persona_shares`.
    """

    def __init__(self, n_workers: int, *, schedule: TaxSchedule | None = None, labour_supply: nn.Module | None = None,
                 income: GB2Income | ParetoIncome = ACS_2023_INCOME,
                 elasticity_range: tuple[float, float] = (0.1, 0.4),
                 persona_shares: Sequence[float] = (0.3, 0.5, 0.2), first_year: int = 2018):
        super().__init__()
        if not isinstance(n_workers, int) or n_workers < 2:
            raise ValueError(f"n_workers must be an int >= 2 (inequality needs two workers), got {n_workers!r}")
        low, high = elasticity_range
        if not 0 < low <= high:
            raise ValueError(f"elasticity_range must be (low, high) with 0 < low <= high, got {elasticity_range}")
        shares = torch.as_tensor(persona_shares, dtype=torch.float64)
        if shares.shape != (len(Persona),) or not bool((shares >= 0).all()) or abs(float(shares.sum()) - 1) > 1e-9:
            raise ValueError(f"persona_shares must be {len(Persona)} non-negative fractions summing to 1 (for "
                             f"{', '.join(p.name for p in Persona)}), got {list(persona_shares)}")
        if not isinstance(first_year, int) or not dt.MINYEAR <= first_year <= dt.MAXYEAR:
            raise ValueError(f"first_year must be a calendar year (an int), got {first_year!r}")
        self.n_workers = n_workers
        self.first_year = first_year
        self.schedule = schedule or TaxSchedule.us_federal_2018()
        self.income = income
        self.elasticity_range = (float(low), float(high))
        self.register_buffer("persona_shares", shares)
        self.labour_supply = labour_supply or RationalLabourSupply()
        self.taxation = Taxation()

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        ids = torch.arange(self.n_workers, dtype=torch.int32)
        skill = self.income.sample(seed, ids)  # [N] USD
        low, high = self.elasticity_range
        elasticity = low + (high - low) * rng.uniform(seed, 0, "elasticity", ids, dtype=torch.float64)
        persona = sampling.categorical(self.persona_shares.expand(self.n_workers, -1),
                                       rng.uniform(seed, 0, "persona", ids, dtype=torch.float64))
        zeros = torch.zeros_like(skill)
        table = AgentTable({"id": ids, "skill_usd": skill, "elasticity": elasticity,
                            "persona": persona.to(torch.uint8), "hours_per_year": zeros + 2000.0,
                            "income_usd": skill, "tax_usd": zeros, "rebate_usd": zeros, "consumption_usd": skill,
                            "utility_usd": skill * (1 - 1 / (1 + 1 / elasticity))})
        world = World.of(table, seed=seed, differentiable=differentiable, step_length=StepLength.YEAR,
                         start_date=dt.date(self.first_year, 1, 1))
        return with_schedule(world, self.schedule)

    def forward(self, world: World) -> World:
        world = world.update(self.labour_supply(world))
        return world.update(self.taxation(world))

    def respond(self, world: World, schedule: TaxSchedule) -> World:
        """The same population after one step under `schedule` (the world's schedule is replaced)."""
        return self(with_schedule(world, schedule))

    def observe(self, world: World) -> dict[str, Tensor]:
        return welfare_metrics(world.agents)


def with_schedule(world: World, schedule: TaxSchedule) -> World:
    """`world` with `schedule` in env (`tax_thresholds_usd`, `tax_rates`), where the substeps read it."""
    return world.with_env(tax_thresholds_usd=schedule.thresholds_usd.to(world.device),
                          tax_rates=schedule.rates.to(world.device))
