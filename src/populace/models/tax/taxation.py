"""`Taxation`: collect T(z) from every worker and rebate the revenue to all as an equal lump sum."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from populace.core import Substep, World
from populace.models.tax.workers import effort_cost_usd, schedule_of


class Taxation(Substep):
    r"""Taxes, rebates, consumption and utility: the budget balances exactly.

    tax_i = T(z_i);  R = (1/N) sum_j tax_j (the same rebate for every worker, so sum_i R = sum_i tax_i);
    c_i = z_i - tax_i + R;  u_i = c_i - v_i(z_i) (USD; see `populace.models.tax.workers`).
    Reads income_usd, skill_usd, elasticity and the schedule in env; writes tax_usd, rebate_usd, consumption_usd,
    utility_usd (all float64 [N]).
    """

    writes: ClassVar[tuple[str, ...]] = ("tax_usd", "rebate_usd", "consumption_usd", "utility_usd")

    def forward(self, world: World) -> dict[str, Tensor]:
        a = world.agents
        tax = schedule_of(world).tax_usd(a.income_usd)  # [N]
        rebate = tax.mean().expand_as(tax)  # [N], revenue / N each
        consumption = a.income_usd - tax + rebate
        utility = consumption - effort_cost_usd(a.income_usd, a.skill_usd, a.elasticity)
        return {"tax_usd": tax, "rebate_usd": rebate, "consumption_usd": consumption, "utility_usd": utility}
