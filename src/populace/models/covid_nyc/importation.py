r"""`Importation`: infections brought in from outside the population (travel, visitors, commuters).

Each day K ~ Poisson(iota x N) residents meet an infection from outside, iota = exp(`log_rate`) / 10^6 (imported
exposures per resident per day), N the agents; each is a resident drawn uniformly at random, and it is infected
if it is still susceptible. K and the residents come from the counter-based RNG (seed, step), so fast and
differentiable runs import into exactly the same agents. In differentiable mode each imported infection carries E
mass 1 + (l - stop_grad(l)), l = `log_rate`: a straight-through count with d(imports)/dl = K, whose mean is
d E[K]/dl = E[K] (the derivative of a Poisson mean in its log rate), so calibration can learn the rate.

Without importations an epidemic in a small population can die out for good (a finite-size effect the real city,
open to travel, does not have); once it has, later weeks give calibration no gradient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from populace.core import rng
from populace.core.model import Substep
from populace.core.ops import attach_gradient, hard
from populace.core.parameters import Positive, natural_parameter
from populace.core.world import World
from populace.models.covid_nyc.disease import STAGES, Stage
from populace.models.covid_nyc.vaccine import VaccineEffectiveness
from populace.models.covid_nyc.variants import VariantMix

PER_MILLION = 1e6


def poisson_quantile(mean: float, u: float) -> int:
    """The smallest k with P(K <= k) > u for K ~ Poisson(`mean`): a Poisson draw by inversion of one uniform."""
    if not (math.isfinite(mean) and mean >= 0 and 0 < u < 1):
        raise ValueError(f"need a finite mean >= 0 and u in (0, 1), got {mean!r} and {u!r}")
    if mean > 700:  # exp(-mean) underflows: normal approximation with continuity correction
        return max(0, round(mean + math.sqrt(mean) * _normal_quantile(u)))
    k, term = 0, math.exp(-mean)
    cumulative = term
    while cumulative <= u and term > 0:
        k += 1
        term *= mean / k
        cumulative += term
    return k


def _normal_quantile(u: float) -> float:
    return math.sqrt(2) * float(torch.special.erfinv(torch.tensor(2 * u - 1, dtype=torch.float64)))


class Importation(Substep):
    """Imported infections at `per_million_per_day` per million residents per day (module docstring).

    Args:
        per_million_per_day: the rate, >= 0. Stored as the positive parameter `rate` (`populace.core.parameters`)
            that calibration can learn; at 0 there is no parameter (`rate` is None) and the substep does nothing.

        mix: the strain mix of imported infections by day (`VariantMix`); each imported infection draws its strain
            from the day's shares (uniforms of stream "importation_strain" keyed on the agent). None: no strains.
        vaccine: the protection of vaccinated residents (`VaccineEffectiveness`): an imported exposure infects a
            susceptible agent with probability 1 - v_s (stream "importation_protection"). None: always.

    Reads stage, infection_day, newly_infected (today's transmissions); writes the same three, and `strain` with a
    mix.
    """

    writes = ("stage", "newly_infected", "infection_day")

    def __init__(self, per_million_per_day: float = 0.0, *, mix: VariantMix | None = None,
                 vaccine: VaccineEffectiveness | None = None):
        super().__init__()
        self.mix = mix
        self.vaccine = vaccine
        if mix is not None:
            self.writes = (*Importation.writes, "strain")
        if not (math.isfinite(per_million_per_day) and per_million_per_day >= 0):
            raise ValueError(f"per_million_per_day must be a finite number >= 0, got {per_million_per_day!r}")
        if per_million_per_day > 0:
            natural_parameter(self, "rate", per_million_per_day, Positive())
        else:
            self.rate = None

    @property
    def per_million_per_day(self) -> float:
        return 0.0 if self.rate is None else float(self.rate.detach())

    def extra_repr(self) -> str:
        return f"per_million_per_day={self.per_million_per_day:.4g}"

    def imported(self, world: World) -> Tensor:
        """Rows of the residents exposed from outside today (int64 [K], may repeat), whatever their stage."""
        n = world.agents.n
        mean = self.per_million_per_day / PER_MILLION * n
        if mean == 0 or n == 0:
            return torch.zeros(0, dtype=torch.int64, device=world.device)
        u = rng.uniform(world.seed, world.step, "importation_count", torch.zeros(1, dtype=torch.int64),
                        dtype=torch.float64)
        k = poisson_quantile(mean, float(u))
        if k == 0:
            return torch.zeros(0, dtype=torch.int64, device=world.device)
        return rng.randint(world.seed, world.step, "importation_agent", torch.arange(k), n).to(world.device)

    def forward(self, world: World) -> dict[str, Tensor]:
        rows = self.imported(world)
        if rows.numel() == 0:
            return {}
        a = world.agents
        stage = a.stage  # uint8 [N] | float one-hot [N, 6]
        rows = torch.unique(rows)
        rows = rows[hard(STAGES.member(stage[rows], Stage.S))]  # [M], still susceptible
        strain = self.strains_of(world, rows)  # uint8 [M] | None
        if self.vaccine is not None and rows.numel() and bool((a.dose1_day[rows] >= 0).any()):
            v = self.vaccine.against_infection(a.dose1_day[rows], a.full_day[rows], world.step,
                                               torch.zeros_like(rows) if strain is None else strain)
            kept = world.uniform("importation_protection", rows=rows, dtype=torch.float64) < 1 - v
            rows, strain = rows[kept], (None if strain is None else strain[kept])
        if rows.numel() == 0:
            return {}
        # True, or (differentiable mode) the S mass 1 times rate / stop_grad(rate): value 1, d/d log rate = 1 each
        new = attach_gradient(STAGES.member(stage[rows], Stage.S), self.rate / self.rate.detach())  # [M]
        infection_day = a.infection_day.clone()
        infection_day[rows] = world.step
        out = {"stage": STAGES.move_rows(stage, rows, new, Stage.S, Stage.E),
               "newly_infected": a.newly_infected.index_put((rows,), new),  # 0 there before: still susceptible
               "infection_day": infection_day}
        if strain is not None:
            out["strain"] = a.strain.index_put((rows,), strain)
        return out

    def strains_of(self, world: World, rows: Tensor) -> Tensor | None:
        """The strain of an infection imported into each of `rows` today, by the day's mix (uint8 [M]; None
        without a mix)."""
        if self.mix is None:
            return None
        cdf = torch.cumsum(self.mix.on(world.step), 0)  # [K]
        u = world.uniform("importation_strain", rows=rows, dtype=torch.float64)  # [M]
        return (u[:, None] * cdf[-1] >= cdf).sum(1).clamp(max=cdf.numel() - 1).to(torch.uint8)
