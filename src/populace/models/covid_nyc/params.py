"""`CovidParams`: every number of the COVID-19 disease model, with its unit and where it comes from.

The defaults are a compact committed copy of the published estimates that `populace.data.covid_parameters()`
reads from `epi/covid19_natural_history.csv` (see `../shared/data/SOURCES.md`), so the model runs without the raw
data; `CovidParams.from_data()` rebuilds them from the file, and a test checks that the two agree. Values that
are modelling assumptions, not estimates from that table, say so.
"""

from __future__ import annotations

import dataclasses
import math
import os

import torch
from torch import Tensor

from populace.data.epi import IFR_AGE_BANDS

N_DISEASE_AGE_BANDS = len(IFR_AGE_BANDS)
"""19 age bands, 0-4, 5-9, ..., 85-89, 90+ (Brazeau 2022's), indexed by `age_band_index(age)`."""

IFR_PERCENT_BY_AGE = (0.0, 0.01, 0.01, 0.02, 0.03, 0.04, 0.06, 0.1, 0.16, 0.24, 0.38, 0.59, 0.92, 1.43, 2.23, 3.47,
                      5.41, 8.43, 16.4)
"""Infection fatality ratio (%) by band, with seroreversion: Brazeau NF et al. 2022, Communications Medicine 2:54,
doi 10.1038/s43856-022-00106-7, Table 2 (median estimates, published to 2 decimals, so 0-4 reads 0)."""


def age_band_index(age: Tensor) -> Tensor:
    """The band of each age in years: 0 for 0-4, 1 for 5-9, ..., 17 for 85-89, 18 for 90+; int64 [N]."""
    return torch.clamp(age.long() // 5, max=N_DISEASE_AGE_BANDS - 1)


def lognormal_log_parameters(mean: float, sd: float) -> tuple[float, float]:
    """(meanlog, sdlog) of the lognormal with this mean and standard deviation."""
    sdlog2 = math.log1p((sd / mean) ** 2)
    return math.log(mean) - sdlog2 / 2, math.sqrt(sdlog2)


@dataclasses.dataclass(frozen=True)
class CovidParams:
    """Parameters of the COVID-19 disease substeps; units are in the names.

    Transmission:
        beta_by_week: transmission rate of each week of the run from day 0 (the last one holds for later weeks),
            in infections per unit contact weight per infection: with a low hazard, an infected agent infects a
            contact of weight w and susceptibility s with probability about beta * s * w over its whole
            infection, since the infectiousness profile sums to 1. Default 0.12: R0 about 2.4 for ~22 contacts
            (0.12 x 22 x (1 - 0.5 x asymptomatic_fraction)); calibrated later.
        susceptibility_by_age: relative susceptibility per age band (19, `age_band_index`). Assumption: 1 for
            every band (no age-specific estimate in the data directory yet); calibrate or replace it.
        asymptomatic_relative_infectiousness: infectiousness of an asymptomatic infection relative to a
            symptomatic one, 0.5 (the assumption of Ferguson NM et al. 2020, Imperial College Report 9).
        generation_time_mean_days, generation_time_sd_days: the infectiousness profile by days since infection is
            a gamma density with this mean and sd, discretised to whole days 1..`infectiousness_days` and
            normalised to sum 1. Mean 5.7 days: generation time, Lau YC et al. 2021, J Infect Dis, doi
            10.1093/infdis/jiab424; sd 2.9 days: serial interval sd, Nishiura H et al. 2020, Int J Infect Dis,
            doi 10.1016/j.ijid.2020.02.060 (a stand-in: no generation-time sd in the table). It peaks near the
            median onset (5.1 days), as He X et al. 2020 (Nat Med, corrected, doi 10.1038/s41591-020-1016-z) found.
        infectiousness_days: days after infection past which an agent no longer transmits (21).
        importations_per_million_per_day: residents exposed to an infection from outside the population per
            million per day (`Importation`). Default 0: a closed population, as the published runs assume;
            calibration learns it (`populace.models.covid_nyc.calibration.calibration_model` starts it at 10).

    Progression (delays are drawn at infection and rounded to whole days, at least 1):
        incubation_days_meanlog, incubation_days_sdlog: infection to symptom onset (end of E), lognormal with
            meanlog 1.63, sdlog 0.5 (median 5.1 days, mean 5.8): McAloon C et al. 2020, BMJ Open, doi
            10.1136/bmjopen-2020-039652 (pooled, 8 studies; Lauer SA et al. 2020 gives the same median).
        asymptomatic_fraction: share of infections that never show symptoms, 0.20 (Buitrago-Garcia D et al. 2020,
            PLoS Med, doi 10.1371/journal.pmed.1003346; 79 studies).
        recovery_days_mean, recovery_days_sd: onset (or end of incubation, if asymptomatic) to recovery,
            lognormal. Assumption: mean 10, sd 3 days, after the 10 days of isolation from onset recommended for
            mild illness (no estimate in the data directory); transmission after it is negligible anyway.
        onset_to_death_days_mean, onset_to_death_days_sd: symptom onset to death for fatal infections,
            lognormal with mean 20.2, sd 11.6 days (Linton NM et al. 2020, J Clin Med, doi 10.3390/jcm9020538).
        ifr_by_age: infection fatality ratio per age band (19): Brazeau 2022 (`IFR_PERCENT_BY_AGE` / 100).
            Deaths happen among symptomatic infections, with probability ifr / (1 - asymptomatic_fraction).
    """

    beta_by_week: tuple[float, ...] = (0.12,)
    susceptibility_by_age: tuple[float, ...] = (1.0,) * N_DISEASE_AGE_BANDS
    asymptomatic_relative_infectiousness: float = 0.5
    generation_time_mean_days: float = 5.7
    generation_time_sd_days: float = 2.9
    infectiousness_days: int = 21
    incubation_days_meanlog: float = 1.63
    incubation_days_sdlog: float = 0.5
    asymptomatic_fraction: float = 0.20
    recovery_days_mean: float = 10.0
    recovery_days_sd: float = 3.0
    onset_to_death_days_mean: float = 20.2
    onset_to_death_days_sd: float = 11.6
    ifr_by_age: tuple[float, ...] = tuple(v / 100 for v in IFR_PERCENT_BY_AGE)
    importations_per_million_per_day: float = 0.0

    def __post_init__(self) -> None:
        for name in ("beta_by_week", "susceptibility_by_age", "ifr_by_age"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if not self.beta_by_week or not all(math.isfinite(b) and b > 0 for b in self.beta_by_week):
            raise ValueError(f"beta_by_week must hold one finite value > 0 per week, got {self.beta_by_week}. To "
                             "switch transmission off, set every layer's contact scale to 0 instead")
        for name, n in (("susceptibility_by_age", N_DISEASE_AGE_BANDS), ("ifr_by_age", N_DISEASE_AGE_BANDS)):
            values = getattr(self, name)
            if len(values) != n or not all(math.isfinite(v) and v >= 0 for v in values):
                raise ValueError(f"{name} needs {n} finite values >= 0, one per age band {IFR_AGE_BANDS[0]} ... "
                                 f"{IFR_AGE_BANDS[-1]}, got {len(values)}: {values}")
        for name in ("asymptomatic_fraction", "asymptomatic_relative_infectiousness"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if max(self.ifr_by_age) > 1 - self.asymptomatic_fraction:
            raise ValueError(f"ifr_by_age reaches {max(self.ifr_by_age)}, more than the symptomatic fraction "
                             f"{1 - self.asymptomatic_fraction}: deaths happen only among symptomatic infections")
        if not (math.isfinite(self.importations_per_million_per_day) and self.importations_per_million_per_day >= 0):
            raise ValueError(f"importations_per_million_per_day must be a finite number >= 0, got "
                             f"{self.importations_per_million_per_day}")
        for name in ("generation_time_mean_days", "generation_time_sd_days", "incubation_days_sdlog",
                     "recovery_days_mean", "recovery_days_sd", "onset_to_death_days_mean", "onset_to_death_days_sd"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {getattr(self, name)}")
        if not (isinstance(self.infectiousness_days, int) and 1 <= self.infectiousness_days <= 365):
            raise ValueError(f"infectiousness_days must be an int in [1, 365], got {self.infectiousness_days!r}")

    @classmethod
    def from_data(cls, data_dir: str | os.PathLike[str] | None = None, **overrides: object) -> CovidParams:
        """Parameters read from the natural-history table (`populace.data.covid_parameters`), then `overrides`."""
        from populace.data.epi import covid_parameters

        table = covid_parameters(data_dir)
        scalar = dict(zip(table["name"], table["value"], strict=False))
        values = {
            "incubation_days_meanlog": scalar["incubation_period_meanlog"],
            "incubation_days_sdlog": scalar["incubation_period_sdlog"],
            "asymptomatic_fraction": scalar["asymptomatic_fraction"],
            "onset_to_death_days_mean": scalar["onset_to_death_mean"],
            "onset_to_death_days_sd": scalar["onset_to_death_sd"],
            "generation_time_mean_days": scalar["generation_time_mean"],
            "generation_time_sd_days": scalar["serial_interval_sd"],
            "ifr_by_age": tuple(table.loc[table["name"] == "ifr", "value"]),
        }
        return cls(**{**values, **overrides})  # type: ignore[arg-type]

    def replace(self, **changes: object) -> CovidParams:
        """A copy with these fields changed (validated again)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"CovidParams has no field(s) {unknown}; the fields are "
                            f"{[f.name for f in dataclasses.fields(self)]}")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # ---- derived tables -------------------------------------------------------------------------------------

    def infectiousness_by_day(self) -> Tensor:
        """Relative infectiousness by days since infection, [infectiousness_days + 1] float64, summing to 1.

        Entry d is P(d - 1/2 < X <= d + 1/2) for X ~ Gamma(mean, sd) (day 1 takes all of (0, 1.5]), then
        normalised over d = 1..infectiousness_days; entry 0 (the day of infection) is 0.
        """
        shape = (self.generation_time_mean_days / self.generation_time_sd_days) ** 2
        scale = self.generation_time_sd_days**2 / self.generation_time_mean_days
        edges = torch.arange(self.infectiousness_days + 1, dtype=torch.float64) + 0.5  # 0.5, 1.5, ...
        edges[0] = 0.0
        cdf = torch.special.gammainc(torch.tensor(shape, dtype=torch.float64), edges / scale)
        mass = cdf[1:] - cdf[:-1]  # [K], days 1..K
        return torch.cat([torch.zeros(1, dtype=torch.float64), mass / mass.sum()])

    def p_death_if_symptomatic_by_age(self) -> Tensor:
        """P(death | symptomatic) per age band, ifr / (1 - asymptomatic_fraction); float64 [19]."""
        ifr = torch.tensor(self.ifr_by_age, dtype=torch.float64)
        return ifr / (1 - self.asymptomatic_fraction) if self.asymptomatic_fraction < 1 else torch.zeros_like(ifr)

    @property
    def recovery_days_log_parameters(self) -> tuple[float, float]:
        """(meanlog, sdlog) of the recovery delay."""
        return lognormal_log_parameters(self.recovery_days_mean, self.recovery_days_sd)

    @property
    def onset_to_death_days_log_parameters(self) -> tuple[float, float]:
        """(meanlog, sdlog) of the onset-to-death delay: (2.863, 0.534) for Linton 2020 (median 17.5 days)."""
        return lognormal_log_parameters(self.onset_to_death_days_mean, self.onset_to_death_days_sd)
