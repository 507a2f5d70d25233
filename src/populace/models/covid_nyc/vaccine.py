r"""`VaccineEffectiveness`: protection of a vaccinated agent against infection and against death, with waning.

With d1 = t - dose1_day and df = t - full_day (days since the first dose and since the primary series was
completed; the columns are -1 until then), the protection against infection by strain s is

    v_s(t) = 0                                              unvaccinated, or d1 < delay_days,
           = e_s,1 * v_partial                              d1 >= delay_days and not fully protected,
           = e_s,2 * v_peak * exp(-lambda max(0, df - delay_days - plateau_days))   df >= delay_days,

an agent's infection hazard is multiplied by 1 - v_s, and the probability that an infection (of strain s) is
fatal is multiplied by the protection against death given infection

    r_s(t) = min(1, (1 - v_severe) / (1 - v_s(t)))   when fully protected, 1 otherwise,

so that the protection against death overall, 1 - (1 - v_s) r_s, is v_severe (a reported effectiveness against
severe outcomes is P(infected and severe | vaccinated) / P(infected and severe | not)).

Defaults (values in percent in `epi/covid19_variants_vaccines.csv`, with their citations there):
- delay_days 14: protection counted from 14 days after each dose, as the estimates below define it (Thompson MG
  et al. 2021, N Engl J Med 385:320-329, doi 10.1056/NEJMoa2107058; no protection in the first two weeks after
  dose 1, Chemaitelly H et al. 2021, N Engl J Med 385:e83, doi 10.1056/NEJMoa2114114).
- v_partial 0.81: mRNA vaccines, >= 14 days after dose 1 and before full protection, against infection
  regardless of symptoms (Thompson 2021 NEJM, Table 2, 95% CI 64-90; row ve_infection_mRNA_partial).
- v_peak 0.88 and waning to 0.47: BNT162b2 against infection in the first month after full vaccination and after
  5 months (Tartof SY et al. 2021, Lancet 398:1407-1416, doi 10.1016/S0140-6736(21)02183-8; rows
  ve_infection_BNT162b2_month1_after_dose2, ve_infection_BNT162b2_after5months_dose2). Read as the midpoints of
  month 1 (day 15 of full protection: plateau_days = 15) and of month 6 (day 165): lambda = ln(88/47) / 150 days
  = 0.00418 per day (protection halves about every 166 days).
- v_severe 0.90: BNT162b2 against hospitalisation, stable over time since vaccination (Tartof 2021; row
  ve_hospitalisation_BNT162b2_full_overall), standing in for death (no estimate against death in the table).
- escape e_s,k: effectiveness against Delta relative to Alpha after one dose (30.7 / 48.7 = 0.630) and two doses
  (88.0 / 93.7 = 0.939), against symptomatic disease (Lopez Bernal J et al. 2021, N Engl J Med 385:585-594, doi
  10.1056/NEJMoa2108891; rows ve_symptomatic_1dose_vs_alpha/delta, ve_symptomatic_BNT162b2_2doses_vs_alpha/delta);
  1 for the other strains (assumption).
Breakthrough infections transmit as much as any other (assumption).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

from populace.models.covid_nyc.variants import N_STRAINS, STRAIN_NAMES, Strain

_DELTA_ESCAPE = (30.7 / 48.7, 88.0 / 93.7)


@dataclasses.dataclass(frozen=True)
class VaccineEffectiveness:
    """Protection against infection and death by doses and days since vaccination (module docstring)."""

    delay_days: int = 14
    partial: float = 0.81
    peak: float = 0.88
    plateau_days: int = 15
    waning_per_day: float = math.log(88 / 47) / 150
    severe: float = 0.90
    escape_by_strain: tuple[tuple[float, float], ...] = tuple(
        _DELTA_ESCAPE if s == Strain.DELTA else (1.0, 1.0) for s in Strain)

    def __post_init__(self) -> None:
        for name in ("partial", "peak", "severe"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("delay_days", "plateau_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if not (math.isfinite(self.waning_per_day) and self.waning_per_day >= 0):
            raise ValueError(f"waning_per_day must be a finite number >= 0, got {self.waning_per_day}")
        escape = tuple(tuple(float(e) for e in pair) for pair in self.escape_by_strain)
        if len(escape) != N_STRAINS or not all(len(p) == 2 and all(0 <= e <= 1 for e in p) for p in escape):
            raise ValueError(f"escape_by_strain needs {N_STRAINS} pairs (one dose, full) in [0, 1], one per strain "
                             f"{STRAIN_NAMES}, got {self.escape_by_strain}")
        object.__setattr__(self, "escape_by_strain", escape)

    def levels(self, dose1_day: Tensor, full_day: Tensor, step: int) -> tuple[Tensor, Tensor]:
        """(protection before strain escape, level) of each agent at `step`: float64 [M] and int64 [M], level 0
        unprotected, 1 partly (one dose), 2 fully."""
        d1 = step - dose1_day.long()
        df = step - full_day.long()
        partly = (dose1_day >= 0) & (d1 >= self.delay_days)
        fully = (full_day >= 0) & (df >= self.delay_days)
        waned = torch.exp(-self.waning_per_day * (df - self.delay_days - self.plateau_days).clamp(min=0).double())
        v = torch.where(fully, self.peak * waned, torch.where(partly, self.partial, 0.0))
        level = torch.where(fully, 2, torch.where(partly, 1, 0))
        return v.double(), level

    def against_infection(self, dose1_day: Tensor, full_day: Tensor, step: int, strain: Tensor) -> Tensor:
        """v_s(t) for each agent and strain: dose days [M], strain codes broadcastable to [M] or [M, K']; float64."""
        v, level = self.levels(dose1_day, full_day, step)
        escape = torch.tensor([(1.0, *pair) for pair in self.escape_by_strain], dtype=torch.float64,
                              device=v.device)  # [K, 3]: level 0, 1, 2
        if strain.dim() == 2:
            return v[:, None] * escape[strain.long(), level[:, None]]
        return v * escape[strain.long(), level]

    def death_factor(self, dose1_day: Tensor, full_day: Tensor, step: int, strain: Tensor) -> Tensor:
        """r_s(t), the factor on the probability that an infection of strain `strain` [M] at `step` is fatal."""
        v = self.against_infection(dose1_day, full_day, step, strain)
        _, level = self.levels(dose1_day, full_day, step)
        r = ((1 - self.severe) / (1 - v)).clamp(max=1.0)
        return torch.where(level == 2, r, 1.0)
