r"""`Vaccination`: residents get their first dose and complete their primary series as the DOHMH tables say.

Inputs: per region r and table day i (row 0 on step `first_step`), the cumulative numbers of agents with at least
one dose F[i, r] and fully vaccinated G[i, r] (`populace.data.dohmh_vaccination` by borough, scaled to the
population: round(count x agents in r / residents of r)). Each day t >= first_step, with i = min(t - first_step,
last row):

1. first doses: k_r = max(0, F[i, r] - agents of r with a first dose) agents of r get one today, the first k_r
   candidates of r in a fixed priority order; candidates are alive, not symptomatic, without a dose, and
   eligible today. So the count follows the table exactly while there are candidates, never exceeds them, and
   a shortfall is made up as soon as candidates appear.
2. full: k'_r = max(0, G[i, r] - fully vaccinated agents of r) agents with a first dose (today's included:
   Janssen is one dose) and alive complete the series today, earliest first dose first: the table's lag
   between first and full doses.

Eligibility follows NYC's timeline (`NYC_ELIGIBILITY`, from `nyc/vaccination/README-vaccine-data.md`): each
agent's phase is the first phase whose criterion it meets (age at least `min_age`, and for the first phase
employed in `industry`, the closest the synthetic population comes to health care personnel), and it is eligible
from that phase's step on; agents younger than every phase's minimum never are. The priority order, drawn once from
the seed (uniforms keyed on agent id: independent of row order; the daily counts need the whole population in one
table): agents who accept the vaccine first, then by phase, then at random; agent i accepts with probability equal to
the coverage its age band reached in the by-age table (`percent_1plus` on its last day), so that uptake by age follows
the data where the borough totals allow.
Columns written: dose1_day, full_day (int16 steps, -1 before); read once: age, region, and is_employed,
industry where a phase names an industry. No draw here depends on the mode; protection acts through
`VaccineEffectiveness` in transmission, importation and progression.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Sequence

import pandas as pd
import torch
from torch import Tensor

from populace.core import rng
from populace.core.agents import AgentTable
from populace.core.model import Substep
from populace.core.ops import bincount, flatnonzero, hard
from populace.core.world import World
from populace.models.covid_nyc.disease import NOT_YET, Stage
from populace.models.covid_nyc.vaccine import VaccineEffectiveness

NEVER = 255
"""Phase code of an agent no phase makes eligible."""
AGE_BAND_LOWER_AGES = (0, 5, 13, 18, 25, 35, 45, 55, 65, 75)
"""Lower ages of the DOHMH by-age bands 0_4, 5_12, ..., 75up (`populace.data.vaccination.VACCINATION_AGE_BANDS`)."""


@dataclasses.dataclass(frozen=True)
class EligibilityPhase:
    """From `start` on, agents aged at least `min_age` (and, if `industry` is set, employed in it) are eligible."""

    start: dt.date
    min_age: int
    industry: str | None = None


NYC_ELIGIBILITY = (
    EligibilityPhase(dt.date(2020, 12, 14), 16, "education_health"),  # health care personnel (phase 1a)
    EligibilityPhase(dt.date(2021, 1, 11), 75),
    EligibilityPhase(dt.date(2021, 1, 19), 65),
    EligibilityPhase(dt.date(2021, 3, 10), 60),
    EligibilityPhase(dt.date(2021, 3, 23), 50),
    EligibilityPhase(dt.date(2021, 3, 30), 30),
    EligibilityPhase(dt.date(2021, 4, 6), 16),
    EligibilityPhase(dt.date(2021, 5, 12), 12),
)
"""NYC's eligibility timeline (DOHMH covid-vaccine-data README, "Timeline of eligibility"), by age; the first phase
stands in for patient-facing health care personnel. Essential workers (from 2021-01-11) are not modelled."""
VACCINATION_START = NYC_ELIGIBILITY[0].start
"""The first day of vaccination in NYC (2020-12-14)."""


class Vaccination(Substep):
    """First doses and completed series per region from cumulative targets (module docstring).

    Args:
        first_dose_targets, full_targets: F and G, cumulative agents per table day and region, int [D, R].
        first_step: the step of table row 0 (negative when the run starts later: the doses before the start are
            given on step 0).
        phases: the eligibility phases, in date order; `phase_steps` their first steps.
        industry_codes: {industry name: code of the `industry` column} for the phases that name one.
        acceptance_by_age_band: P(accepts) per DOHMH age band (10 values in [0, 1]).
        effectiveness: the protection a dose gives (`VaccineEffectiveness`).
    """

    writes = ("dose1_day", "full_day")

    def __init__(self, first_dose_targets: Tensor, full_targets: Tensor, *, first_step: int,
                 phases: Sequence[EligibilityPhase], phase_steps: Sequence[int],
                 acceptance_by_age_band: Sequence[float], industry_codes: dict[str, int] | None = None,
                 effectiveness: VaccineEffectiveness | None = None):
        super().__init__()
        first = torch.as_tensor(first_dose_targets, dtype=torch.int64)
        full = torch.as_tensor(full_targets, dtype=torch.int64)
        if first.dim() != 2 or first.shape != full.shape or first.shape[0] == 0:
            raise ValueError(f"first_dose_targets and full_targets must both be [days, regions], got "
                             f"{list(first.shape)} and {list(full.shape)}")
        if bool((full > first).any()) or bool((first < 0).any()) or bool((first.diff(dim=0) < 0).any()):
            raise ValueError("targets must be cumulative counts >= 0 that never fall, with full_targets <= "
                             "first_dose_targets")
        if len(phases) != len(phase_steps) or not phases or len(phases) >= NEVER:
            raise ValueError(f"need one step per phase and 1 to {NEVER - 1} phases, got {len(phases)} phases and "
                             f"{len(phase_steps)} steps")
        if list(phase_steps) != sorted(phase_steps):
            raise ValueError(f"phases must be in date order, got steps {list(phase_steps)}")
        acceptance = torch.as_tensor(acceptance_by_age_band, dtype=torch.float64)
        if acceptance.shape != (len(AGE_BAND_LOWER_AGES),) or not bool(((acceptance >= 0) & (acceptance <= 1)).all()):
            raise ValueError(f"acceptance_by_age_band needs {len(AGE_BAND_LOWER_AGES)} probabilities, one per DOHMH "
                             f"age band, got {acceptance.tolist()}")
        codes = dict(industry_codes or {})
        missing = sorted({p.industry for p in phases if p.industry is not None} - set(codes))
        if missing:
            raise ValueError(f"phases name industries {missing} without a code; pass industry_codes={{name: code}} "
                             "(the population manifest's codes['industry'] gives them)")
        self.register_buffer("first_dose_targets", first)  # [D, R]
        self.register_buffer("full_targets", full)  # [D, R]
        self.register_buffer("phase_steps", torch.tensor(list(phase_steps), dtype=torch.int64))  # [P]
        self.register_buffer("acceptance", acceptance)  # [10]
        self.first_step = int(first_step)
        self.phases = tuple(phases)
        self.industry_codes = codes
        self.effectiveness = effectiveness or VaccineEffectiveness()

    def extra_repr(self) -> str:
        return (f"days={self.first_dose_targets.shape[0]}, regions={self.first_dose_targets.shape[1]}, "
                f"first_step={self.first_step}, phases={len(self.phases)}")

    @property
    def n_regions(self) -> int:
        return int(self.first_dose_targets.shape[1])

    def phase_of(self, agents: AgentTable) -> Tensor:
        """Each agent's eligibility phase, the first it meets (uint8 [N]; `NEVER` if none)."""
        phase = torch.full((agents.n,), NEVER, dtype=torch.int64, device=agents.device)
        for index in reversed(range(len(self.phases))):  # the first phase met wins
            p = self.phases[index]
            meets = agents.age.long() >= p.min_age
            if p.industry is not None:
                meets &= hard(agents.is_employed).bool() & (agents.industry.long() == self.industry_codes[p.industry])
            phase = torch.where(meets, index, phase)
        return phase.to(torch.uint8)

    def initial_columns(self, agents: AgentTable, *, seed: int) -> dict[str, Tensor]:
        """No doses yet; the fixed phase and priority rank of each agent (module docstring)."""
        n = agents.n
        if n and int(agents.region.max()) >= self.n_regions:
            raise ValueError(f"agents have region codes up to {int(agents.region.max())} but the targets cover "
                             f"{self.n_regions} regions")
        phase = self.phase_of(agents)
        u = rng.uniform(seed, 0, "vaccination_order", agents.ids, n=2, dtype=torch.float64).cpu()  # [N, 2]
        band = torch.bucketize(agents.age.long().cpu(), torch.tensor(AGE_BAND_LOWER_AGES[1:]), right=True)
        accepts = u[:, 0] < self.acceptance[band]
        # (region, refuses, phase) as integers, then a uniform: sort keys in float64 are exact below 2^53
        key = ((agents.region.long().cpu() * 2 + (~accepts).long()) * 256 + phase.long().cpu()).double() + u[:, 1]
        rank = torch.empty(n, dtype=torch.int32)
        rank[torch.argsort(key)] = torch.arange(n, dtype=torch.int32)
        never = torch.full((n,), NOT_YET, dtype=torch.int16, device=agents.device)
        return {"dose1_day": never, "full_day": never.clone(), "vaccination_phase": phase,
                "vaccination_rank": rank.to(agents.device)}

    def targets_on(self, step: int) -> tuple[Tensor, Tensor] | None:
        """(F, G) of the table day of `step` ([R] each), None before the table starts."""
        i = step - self.first_step
        if i < 0:
            return None
        i = min(i, self.first_dose_targets.shape[0] - 1)
        return self.first_dose_targets[i], self.full_targets[i]

    def forward(self, world: World) -> dict[str, Tensor]:
        targets = self.targets_on(world.step)
        if targets is None:
            return {}
        first_target, full_target = targets
        a = world.agents
        t = world.step
        region = a.region.long()
        stage = a.stage.long() if a.stage.dim() == 1 else a.stage.detach().argmax(1)  # codes [N]
        alive = stage != Stage.D
        dose1_day, full_day = a.dose1_day, a.full_day
        has_first = dose1_day >= 0
        k = (first_target - bincount(region[has_first], self.n_regions).long()).clamp(min=0)  # [R]
        if bool((k > 0).any()):
            n_open = int((self.phase_steps <= t).sum())
            eligible = a.vaccination_phase.long() < n_open
            candidate = eligible & ~has_first & alive & (stage != Stage.I)
            order = torch.empty_like(a.vaccination_rank, dtype=torch.int64)
            order[a.vaccination_rank.long()] = torch.arange(a.n, device=order.device)  # rank -> row
            chosen = order[_first_k_per_group(candidate[order], region[order], k)]
            dose1_day = dose1_day.index_fill(0, chosen, t)
        has_full = full_day >= 0
        k_full = (full_target - bincount(region[has_full], self.n_regions).long()).clamp(min=0)
        if bool((k_full > 0).any()):
            rows = flatnonzero((dose1_day >= 0) & ~has_full & alive)
            key = (region[rows] * 2**46) + dose1_day[rows].long() * 2**31 + a.vaccination_rank[rows].long()
            rows = rows[torch.argsort(key)]
            chosen = rows[_first_k_per_group(torch.ones_like(rows, dtype=torch.bool), region[rows], k_full)]
            full_day = full_day.index_fill(0, chosen, t)
        return {"dose1_day": dose1_day, "full_day": full_day}

    @classmethod
    def nyc(cls, agents: AgentTable, region_labels: Sequence[str], start_date: dt.date, *,
            industry_labels: Sequence[str] | None = None, effectiveness: VaccineEffectiveness | None = None,
            data_dir: str | os.PathLike[str] | None = None) -> Vaccination:
        """NYC's vaccination for a population of `agents` in the five boroughs (`region_labels` the borough names):
        the DOHMH borough table scaled by agents / residents (Census 2019 estimates), the by-age table's final
        coverage as acceptance, and `NYC_ELIGIBILITY`, for a run whose day 0 is `start_date`."""
        from populace.data import census_county_population, dohmh_vaccination

        by_borough = dohmh_vaccination(data_dir, by="borough")
        residents = census_county_population(data_dir, year=2019).groupby("borough", observed=True)["count"].sum()
        unknown = sorted(set(region_labels) - set(residents.index))
        if unknown:
            raise ValueError(f"region labels {unknown} are not NYC boroughs {list(residents.index)}; Vaccination.nyc "
                             "needs a population built by populace.population.nyc")
        counts = bincount(agents.region.long(), len(region_labels)).double()  # [R]
        fraction = counts / torch.tensor([float(residents[r]) for r in region_labels], dtype=torch.float64)
        dates = pd.date_range(by_borough["date"].min(), by_borough["date"].max())  # row i: day i (a gap holds)
        tables = []
        for measure in ("people_1plus", "people_fully"):
            wide = by_borough.pivot(index="date", columns="borough", values=measure)[list(region_labels)]
            wide = wide.reindex(dates, method="ffill")  # cumulative counts: a missing day keeps the day before's
            tables.append(torch.round(torch.tensor(wide.to_numpy(), dtype=torch.float64) * fraction).long())
        by_age = dohmh_vaccination(data_dir, by="age")
        last = by_age[by_age["date"] == by_age["date"].max()]
        acceptance = (torch.tensor(last["percent_1plus"].to_numpy(), dtype=torch.float64) / 100).clamp(0, 1)
        industry_codes = {name: code for code, name in enumerate(industry_labels or [])}
        phases = NYC_ELIGIBILITY if "education_health" in industry_codes else NYC_ELIGIBILITY[1:]
        return cls(tables[0], tables[1], first_step=(dates[0].date() - start_date).days, phases=phases,
                   phase_steps=[(p.start - start_date).days for p in phases], acceptance_by_age_band=acceptance,
                   industry_codes=industry_codes, effectiveness=effectiveness)


def _first_k_per_group(mask: Tensor, group: Tensor, k: Tensor) -> Tensor:
    """Positions of the first k[g] True entries of `mask` within each group g, `group` sorted (bool [M])."""
    taken = torch.cumsum(mask.long(), 0)  # [M]
    per_group = bincount(group[mask], k.numel()).long()
    before = torch.cumsum(per_group, 0) - per_group  # True entries in earlier groups
    return flatnonzero(mask & (taken - before[group] <= k[group]))
