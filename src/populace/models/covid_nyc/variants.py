r"""SARS-CoV-2 variants in the NYC model: strain codes, their transmissibility and severity, and the weekly mix.

Every infection carries a strain (`Strain`, agent column `strain`, uint8 [N]; 0 for the ancestral lineages and
every lineage the model does not follow). An infected agent of strain s transmits m_s times as much as an
ancestral one (`Strains.transmissibility`), and a symptomatic infection of strain s is fatal with m'_s times the
ancestral probability (`Strains.severity`, capped at 1). New strains enter only through importations
(`Importation`): each imported infection draws its strain from the week's mix of sequenced cases in NYC
(`VariantMix`, from `populace.data.dohmh_variants`); from then on they spread through transmission, each new
infection taking the strain of its source (drawn in proportion to the pressure of each strain on the agent).

Defaults, all relative to the lineages that circulated before the variants of concern (non-VOC):

- transmissibility: Alpha (B.1.1.7) 1.29 and Delta (B.1.617.2) 1.97, increases in the reproduction number
  pooled over countries (Campbell F et al. 2021, Euro Surveill 26(24):2100509, doi
  10.2807/1560-7917.ES.2021.26.24.2100509, abstract: +29% (24-33), +97% (76-117)); Iota (B.1.526) 1.35, its
  transmission advantage over earlier lineages in NYC (Annavajhala MK et al. 2021, Nature 597:703-708, doi
  10.1038/s41586-021-03908-2, abstract: 35%). Values and citations from `epi/covid19_variants_vaccines.csv`
  (rows alpha_Rt_increase_vs_nonVOC_global, delta_Rt_increase_vs_nonVOC_global, iota_transmission_advantage_NYC).
- severity (death given infection): Alpha 1.61, the hazard ratio of death of community-tested B.1.1.7 cases in
  England (Davies NG et al. 2021, "Increased mortality in community-tested cases of SARS-CoV-2 lineage B.1.1.7",
  Nature 593:270-274, doi 10.1038/s41586-021-03426-1: 1.61, 95% CI 1.42-1.82); Delta 2.33, the adjusted odds
  ratio of death vs non-VOC infections in Ontario (Fisman DN, Tuite AR 2021, CMAJ 193(42):E1619-E1625, doi
  10.1503/cmaj.211248: +133%, 95% CI 54-231%); Iota 1.0 (assumption: no estimate). These three are not in the
  data directory's table (read from the papers' abstracts); treat them as priors to calibrate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from enum import IntEnum

import pandas as pd
import torch
from torch import Tensor

from populace.data.variants import VARIANTS


class Strain(IntEnum):
    """Strain codes of the `strain` column; the order of `populace.data.variants.VARIANTS`."""

    ANCESTRAL = 0  # every lineage not named below ("other" in the DOHMH table)
    ALPHA = 1  # B.1.1.7
    IOTA = 2  # B.1.526, with or without E484K
    DELTA = 3  # B.1.617.2


N_STRAINS = len(Strain)
STRAIN_NAMES = tuple(s.name.lower() for s in Strain)


def ancestral_only() -> Tensor:
    """The mix of a week before any variant: every infection ancestral (float64 [K])."""
    return torch.eye(N_STRAINS, dtype=torch.float64)[Strain.ANCESTRAL]


@dataclasses.dataclass(frozen=True)
class Strains:
    """Per-strain multipliers, indexed by `Strain` (module docstring for the sources).

    transmissibility: infectiousness of an infection of each strain relative to an ancestral one (> 0).
    severity: probability of death of a symptomatic infection relative to an ancestral one (>= 0; the product
        with the age-specific probability is capped at 1).
    """

    transmissibility: tuple[float, ...] = (1.0, 1.29, 1.35, 1.97)
    severity: tuple[float, ...] = (1.0, 1.61, 1.0, 2.33)

    def __post_init__(self) -> None:
        for name, low in (("transmissibility", 0.0), ("severity", 0.0)):
            values = tuple(float(v) for v in getattr(self, name))
            object.__setattr__(self, name, values)
            if len(values) != N_STRAINS or not all(math.isfinite(v) and v >= low for v in values):
                raise ValueError(f"{name} needs {N_STRAINS} finite values >= {low}, one per strain {STRAIN_NAMES}, "
                                 f"got {values}")
        if not all(v > 0 for v in self.transmissibility):
            raise ValueError(f"transmissibility must be > 0 for every strain, got {self.transmissibility}")


class VariantMix:
    r"""The share of each strain among sequenced cases, week by week, as a function of the model's step.

    shares [W, K]: row w is the week ending on step `first_week_end_step` + 7w (Sunday to Saturday, the six days
    before it and itself); each row sums to 1. Before the first week every infection is ancestral; after the last
    week the last week's mix holds.
    """

    def __init__(self, shares: Tensor, first_week_end_step: int):
        shares = torch.as_tensor(shares, dtype=torch.float64)
        if shares.dim() != 2 or shares.shape[1] != N_STRAINS or shares.shape[0] == 0:
            raise ValueError(f"shares must be [weeks, {N_STRAINS}] (strains {STRAIN_NAMES}), got {list(shares.shape)}")
        if not bool((shares >= 0).all()) or not torch.allclose(shares.sum(1), torch.ones(len(shares),
                                                                                         dtype=torch.float64)):
            raise ValueError("every week's shares must be >= 0 and sum to 1")
        self.shares = shares
        self.first_week_end_step = int(first_week_end_step)

    def __repr__(self) -> str:
        return f"VariantMix(weeks={len(self.shares)}, first_week_end_step={self.first_week_end_step})"

    def on(self, step: int) -> Tensor:
        """The strain shares of the day `step` (float64 [K])."""
        week = (step - (self.first_week_end_step - 6)) // 7
        if week < 0:
            return ancestral_only()
        return self.shares[min(week, len(self.shares) - 1)]

    @classmethod
    def nyc(cls, start_date: dt.date, data_dir: str | os.PathLike[str] | None = None) -> VariantMix:
        """The weekly mix of sequenced cases in NYC (`populace.data.dohmh_variants`) for a run from `start_date`.

        Weeks with no sequenced case, or missing from the table, take the previous week's mix (the first such week:
        all ancestral)."""
        from populace.data.variants import dohmh_variants

        table = dohmh_variants(data_dir).set_index("week_ending")
        weeks = pd.date_range(table.index[0], table.index[-1], freq="7D")  # row w: week w (a missing week: no cases)
        counts = torch.tensor(table[list(VARIANTS)].reindex(weeks, fill_value=0).to_numpy(), dtype=torch.float64)
        shares: list[Tensor] = []
        for row in counts:
            total = float(row.sum())
            shares.append(row / total if total > 0 else (shares[-1] if shares else ancestral_only()))
        first_end = weeks[0].date()
        return cls(torch.stack(shares), (first_end - start_date).days)
