r"""COVID-19 disease substeps: `Transmission` (S -> E) and `Progression` (E -> A or I -> R or D).

Stages (`Stage`): S susceptible; E exposed (infected, before symptom onset: may already transmit, following the
infectiousness profile); A infected past the incubation period without symptoms (never develops them); I
symptomatic; R recovered; D dead. How much an infected agent transmits depends on days since infection, not on
the stage (only whether it is E, A or I, and whether the infection is asymptomatic). Event times are
stored as days (columns compared with the clock, never countdowns): `infection_day`, `onset_day` (end of E) and
`end_day` (recovery or death), -1 until set, all drawn on the day of infection from the counter-based RNG.

Fast mode: `stage` is a uint8 code [N], `newly_infected` / `newly_dead` bool [N]. Differentiable mode: `stage` is a
float one-hot [N, 6] and the infection draw is a straight-through Bernoulli (gradient="fired", see
`populace.sampling.bernoulli`) from the same uniforms, so both modes sample exactly the same epidemic and the
gradient reaches the weekly `beta_by_week`. Delays and fates (asymptomatic, fatal) are integers and booleans drawn
from uniforms alone: they carry no gradient, but the float stage mass of each agent moves along with them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from populace.core.clock import DAYS_PER_WEEK
from populace.core.model import Substep
from populace.core.ops import flatnonzero, group_total, hard
from populace.core.parameters import Positive, natural_parameter
from populace.core.stages import Stages
from populace.core.world import World
from populace.models.covid_nyc.params import N_DISEASE_AGE_BANDS, age_band_index
from populace.network.graph import ContactGraph

if TYPE_CHECKING:
    from populace.models.covid_nyc.vaccine import VaccineEffectiveness
    from populace.models.covid_nyc.variants import Strains

NOT_YET = -1
"""Value of an event-day column before the event is scheduled."""


class Stage(IntEnum):
    S = 0
    E = 1
    A = 2
    I = 3  # noqa: E741 (the standard name of the infectious stage)
    R = 4
    D = 5


STAGES = Stages(Stage)
INFECTED_ALIVE = (Stage.E, Stage.A, Stage.I)
"""The stages of an infected agent that can still transmit (whatever its infectiousness today)."""


def contact_scale_key(layer: str) -> str:
    """The `World.env` key that scales contact layer `layer` (a 0-dim tensor >= 0; absent means 1)."""
    return f"contact_scale_{layer}"


def contact_factor_key(layer: str) -> str:
    """The agent column of per-agent factors on contact layer `layer` (float [N] >= 0; absent means 1)."""
    return f"contact_factor_{layer}"


def lognormal_days(u: Tensor, meanlog: float, sdlog: float) -> Tensor:
    """Whole-day delays max(1, round(exp(meanlog + sdlog * Phi^-1(u)))) from uniforms u in (0, 1); int64 [*].

    So P(T = k) = F(k + 1/2) - F(k - 1/2) for k >= 2 and P(T = 1) = F(3/2), F the lognormal CDF.
    """
    days = torch.round(torch.exp(meanlog + sdlog * torch.special.ndtri(u.double())))
    return days.clamp(1, 2**14).long()


def _is_zero_constant(scale: Tensor | float) -> bool:
    """Whether a layer scale is the constant 0 (a number, or a tensor that does not require grad)."""
    if isinstance(scale, Tensor):
        return not scale.requires_grad and bool(scale == 0)
    return scale == 0


class Transmission(Substep):
    r"""Infect susceptible agents through their contacts, once per day.

    p_i = 1 - exp(-beta(t) * s[a_i] * sum_l c_l g_li sum_j w_lij g_lj f_j), with
    beta(t) = beta_by_week[min(t // 7, W - 1)]: the transmission rate of week t // 7 of the run, in infections per
    unit contact weight per infection (calibrated; one `nn.Parameter` of W weekly values);
    s[a]: relative susceptibility of age band a (`age_band_index(age)`, 19 bands);
    c_l: scale of contact layer l, read from `world.env[contact_scale_key(l)]` (absent: 1), so a policy can close
    or damp a layer; g_li: agent i's factor on layer l, the column `contact_factor_key(l)` when the agents have it
    (absent: 1), applied on both ends of a contact, so an agent who stays home (g = 0) neither infects nor is
    infected there; w_lij: weight of the contact of i with j in layer l;
    f_j = h[t - infection_day_j] * r_j for agents j in E, A or I, else 0: h the infectiousness by days since
    infection (sums to 1, h[0] = 0, 0 past its end), r_j = `asymptomatic_relative_infectiousness` when j's
    infection is asymptomatic, else 1.
    Reads stage, age, infection_day, is_asymptomatic (and the contact factor columns it finds); writes stage
    (S -> E), newly_infected, infection_day. Defaults come from `CovidParams` (see there for the sources).

    With `strains` (`populace.models.covid_nyc.variants`): the pressure splits by the strain of the source,
    P_is = sum_l c_l g_li sum_j w_lij g_lj f_j m_s 1[strain_j = s] (m_s its transmissibility); with `vaccine`
    (`VaccineEffectiveness`), agent i's protection v_is multiplies each by 1 - v_is. Then p_i = 1 - exp(-beta(t)
    s[a_i] sum_s (1 - v_is) P_is), and a new infection takes strain s with probability proportional to
    (1 - v_is) P_is (uniforms of stream "transmission_strain"); it also writes `strain`. With one strain and nobody
    vaccinated this is the formula above, to the last bit.
    """

    writes = ("stage", "newly_infected", "infection_day")

    def __init__(self, contacts: ContactGraph, beta_by_week: Sequence[float], *,
                 susceptibility_by_age: Sequence[float], infectiousness_by_day: Sequence[float] | Tensor,
                 asymptomatic_relative_infectiousness: float, strains: Strains | None = None,
                 vaccine: VaccineEffectiveness | None = None):
        super().__init__()
        if not isinstance(contacts, ContactGraph):
            raise TypeError(f"contacts must be a ContactGraph, got {type(contacts).__name__}; wrap one layer as "
                            "ContactGraph(n, {'name': layer})")
        beta = [float(b) for b in beta_by_week]
        if not beta or not all(math.isfinite(b) and b > 0 for b in beta):
            raise ValueError(f"beta_by_week must hold one finite value > 0 per week, got {beta}. To switch "
                             "transmission off, set every layer's contact scale to 0 instead")
        susceptibility = torch.as_tensor(susceptibility_by_age, dtype=torch.float32)
        if susceptibility.shape != (N_DISEASE_AGE_BANDS,) or not bool((susceptibility >= 0).all()):
            raise ValueError(f"susceptibility_by_age needs {N_DISEASE_AGE_BANDS} values >= 0 (one per age band), got "
                             f"{susceptibility.tolist()}")
        profile = torch.as_tensor(infectiousness_by_day, dtype=torch.float32)
        if profile.dim() != 1 or profile.numel() < 2 or not bool((profile >= 0).all()) or float(profile[0]) != 0:
            raise ValueError("infectiousness_by_day must be a [K] vector of values >= 0 with entry 0 (the day of "
                             f"infection) equal to 0, got {profile.tolist()}")
        if not 0 <= asymptomatic_relative_infectiousness <= 1:
            raise ValueError(f"asymptomatic_relative_infectiousness must be in [0, 1], got "
                             f"{asymptomatic_relative_infectiousness}")
        self.contacts = contacts
        natural_parameter(self, "beta_by_week", beta, Positive())  # [W]
        self.register_buffer("susceptibility", susceptibility)  # [19]
        self.register_buffer("infectiousness", torch.cat([profile, profile.new_zeros(1)]))  # [K + 1], 0 past K
        self.asymptomatic_relative_infectiousness = float(asymptomatic_relative_infectiousness)
        self.strains = strains
        self.vaccine = vaccine
        if strains is not None:
            self.writes = (*Transmission.writes, "strain")

    def beta_on(self, day: int) -> Tensor:
        """beta(day): the rate of week day // 7, the last week's past the end (0-dim)."""
        beta = self.beta_by_week
        return beta[min(day // DAYS_PER_WEEK, beta.numel() - 1)]

    def extra_repr(self) -> str:
        return (f"layers={list(self.contacts.names)}, weeks={self.beta_by_week.numel()}, "
                f"asymptomatic_relative_infectiousness={self.asymptomatic_relative_infectiousness}")

    def infectiousness_per_agent(self, world: World) -> Tensor:
        """h[t - infection_day] * r for every agent, whatever its stage (float32 [N])."""
        return self._infectiousness(world.agents.infection_day, world.agents.is_asymptomatic, world.step)

    def _infectiousness(self, infection_day: Tensor, is_asymptomatic: Tensor, step: int) -> Tensor:
        days = (step - infection_day.long()).clamp(0, self.infectiousness.numel() - 1)
        days = torch.where(infection_day >= 0, days, self.infectiousness.numel() - 1)  # never infected: 0
        relative = torch.where(is_asymptomatic, self.asymptomatic_relative_infectiousness, 1.0)
        return self.infectiousness[days] * relative

    def contact_pressure(self, world: World, x: Tensor, *, support: Tensor | None = None) -> Tensor:
        """sum_l c_l g_li sum_j w_lij g_lj x_j, [N]: layer scales c from `world.env`, agent factors g from columns.

        `support`: rows outside which x is 0 and its gradient unused (`populace.network.aggregate.aggregate`).
        """
        a = world.agents
        scale = {name: world.env[contact_scale_key(name)] for name in self.contacts.names
                 if contact_scale_key(name) in world.env}
        # a closed layer (scale 0, not a parameter) adds exactly 0 and no gradient: skip its sparse products
        names = [name for name in self.contacts.names if name not in scale or not _is_zero_constant(scale[name])]
        factor = {name: a[contact_factor_key(name)] for name in names if contact_factor_key(name) in a}
        plain = [name for name in names if name not in factor]
        pressure = self.contacts.aggregate(x, world, layers=plain,
                                           scale={k: v for k, v in scale.items() if k in plain}, support=support)
        for name, g in factor.items():  # [N] each
            y = g * self.contacts.aggregate(g * x, world, layers=name, support=support)
            pressure = pressure + (y * scale[name] if name in scale else y)
        return pressure

    def forward(self, world: World) -> dict[str, Tensor]:
        a = world.agents
        stage = a.stage  # uint8 [N] | float one-hot [N, 6]
        infected = STAGES.member_any(stage, INFECTED_ALIVE)  # bool [N] | float mass [N]
        # The one mode branch, two algorithms for speed: which agents x is computed on and which the draw covers.
        if world.differentiable:
            # x = f * mass over every agent, so that a zero mass with a nonzero derivative keeps its gradient when a
            # layer takes the full product; off x's support f_j = 0, or j's mass is 0 and its derivative too (moved
            # on to R or D): no gradient reaches anything through x there, so the products can push from it alone
            x = self.infectiousness_per_agent(world) * infected  # [N]
            susceptible = None  # draw for every agent: an S mass of value 0 (infected earlier) still has a gradient
        else:
            # f only on the infected rows; draw only for susceptible agents, the only ones a draw can move
            rows = flatnonzero(infected)
            x = torch.zeros(a.n, dtype=self.infectiousness.dtype, device=stage.device)  # f * infected, [N]
            x[rows] = self._infectiousness(a.infection_day[rows], a.is_asymptomatic[rows], world.step)
            susceptible = STAGES.member(stage, Stage.S)
        codes, pressures = self.pressure_by_strain(world, x)  # strain codes [K'], sum_l c_l ... f_j m_s, [K', N]
        pressure = pressures[0] if len(codes) == 1 else torch.stack(pressures).sum(0)  # [N]
        # 1[u < p] never fires where p = 0: draw (uniforms keyed on agent id, the values of world.uniform) only for
        # the agents under some pressure, and with a gradient only on the rows that fired (the "fired" surrogate is
        # 0, with a zero gradient, wherever u >= p)
        under_pressure = pressure.detach() > 0
        rows = flatnonzero(under_pressure if susceptible is None else susceptible & under_pressure)  # [M]
        weighted = self._protected(world, rows, codes, [q[rows] for q in pressures])  # [M, K'] or None
        exposure = pressure[rows] if weighted is None else weighted.sum(1)  # [M]
        p = -torch.expm1(-self.beta_on(world.step) * self.susceptibility[age_band_index(a.age[rows])] * exposure)
        drawn = world.bernoulli("transmission", p, rows=rows, gradient="fired")  # bool [M] | float [M], "fired"
        fired = flatnonzero(hard(drawn))  # [K], positions in rows
        rows = rows[fired]
        new = STAGES.member(stage[rows], Stage.S) * drawn[fired]  # [K], all 1 (with their gradient)
        infection_day = a.infection_day.clone()
        infection_day[rows[hard(new)]] = world.step
        out = {"stage": STAGES.move_rows(stage, rows, new, Stage.S, Stage.E),
               "newly_infected": torch.zeros(a.n, dtype=new.dtype, device=stage.device).index_put((rows,), new),
               "infection_day": infection_day}
        if self.strains is not None:  # only the agents infected now (in differentiable mode rows has others too)
            share = (weighted[fired] if weighted is not None else torch.stack([q[rows] for q in pressures], 1))
            now = flatnonzero(hard(new))
            strain = self._strain_of(world, rows[now], codes, share[now].detach())
            out["strain"] = a.strain.index_put((rows[now],), strain)
        return out

    def pressure_by_strain(self, world: World, x: Tensor) -> tuple[list[int], list[Tensor]]:
        """The strains with an infectious agent today and the pressure of each ([N] per strain); without `strains`,
        ([0], [the pressure of x]). Fast mode pushes from each strain's own rows, so K' strains cost about one."""
        if self.strains is None:
            return [0], [self.contact_pressure(world, x, support=_support(x, world))]
        strain = world.agents.strain
        codes = torch.unique(strain[flatnonzero(x.detach() != 0)]).tolist() or [0]
        pressures = []
        for s in codes:
            m = self.strains.transmissibility[s]
            xs = x * (strain == s).to(x.dtype) if len(codes) > 1 else x
            xs = xs * m if m != 1.0 else xs
            pressures.append(self.contact_pressure(world, xs, support=_support(xs, world)))
        return codes, pressures

    def _protected(self, world: World, rows: Tensor, codes: list[int], pressures: list[Tensor]) -> Tensor | None:
        """(1 - v_is) P_is on `rows` [M, K'], or None when nobody there is vaccinated (then the factor is 1)."""
        a = world.agents
        if self.vaccine is None or not bool((a.dose1_day[rows] >= 0).any()):
            return None
        strain = torch.tensor(codes, device=rows.device).expand(rows.numel(), len(codes))
        v = self.vaccine.against_infection(a.dose1_day[rows], a.full_day[rows], world.step, strain)  # [M, K']
        return torch.stack(pressures, 1) * (1 - v).to(pressures[0].dtype)

    @staticmethod
    def _strain_of(world: World, rows: Tensor, codes: list[int], share: Tensor) -> Tensor:
        """The strain of each new infection on `rows`, drawn in proportion to `share` [K, K'] (uint8 [K])."""
        if len(codes) == 1:
            return torch.full((rows.numel(),), codes[0], dtype=torch.uint8, device=rows.device)
        u = world.uniform("transmission_strain", rows=rows, dtype=torch.float64)  # [K]
        cdf = torch.cumsum(share.double(), 1)
        pick = (u[:, None] * cdf[:, -1:] >= cdf).sum(1).clamp(max=len(codes) - 1)  # [K]
        return torch.tensor(codes, dtype=torch.uint8, device=rows.device)[pick]


def _support(x: Tensor, world: World) -> Tensor | None:
    """The rows the sparse products push from: x's nonzero rows in differentiable mode (`Transmission.forward`);
    None in fast mode, where without autograd the products push from x's nonzero rows themselves."""
    return flatnonzero(x.detach() != 0) if world.differentiable else None


class Progression(Substep):
    r"""Schedule today's infections, then move agents whose event day is today: E -> A or I, A -> R, I -> R or D.

    On the day of infection t0 each new infection draws, from uniforms keyed on (seed, t0, "progression", id):
    asymptomatic with probability `asymptomatic_fraction`; if symptomatic, fatal with probability
    `p_death_if_symptomatic_by_age[band]`; incubation T_inc ~ LN(incubation meanlog, sdlog) in whole days
    (`lognormal_days`); then onset_day = t0 + T_inc and end_day = onset_day + T_death ~ LN(onset-to-death) for
    fatal infections, onset_day + T_rec ~ LN(recovery) otherwise. So an agent spends T_inc days in E (counted at
    the start of each day) and end_day - onset_day days in A or I. Reads stage, age, infection_day; writes
    stage, onset_day, end_day, is_asymptomatic, is_fatal, newly_dead, and the expectation of the fate given the
    infection: p_fatal = (1 - asymptomatic_fraction) * p_death_if_symptomatic[band] (float32 [N], 0 until infected)
    and death_day_if_fatal = onset_day + T_death (int16 [N], the day the death would fall on if fatal, from the
    same uniform the fatal draw uses, so it equals end_day for every fatal infection; -1 until infected). They
    change no draw: `expected_deaths_by_region` sums p_fatal on each death day (probability mass, not a draw).
    Defaults come from `CovidParams`. With `strains`, p_death is multiplied by the severity of the infection's
    strain (column `strain`), with `vaccine` by the protection against death given infection of the agent's doses
    on the day of infection (`VaccineEffectiveness.death_factor`), capped at 1.
    """

    writes = ("stage", "onset_day", "end_day", "is_asymptomatic", "is_fatal", "newly_dead", "p_fatal",
              "death_day_if_fatal")

    def __init__(self, *, incubation_days_log: tuple[float, float], recovery_days_log: tuple[float, float],
                 onset_to_death_days_log: tuple[float, float], asymptomatic_fraction: float,
                 p_death_if_symptomatic_by_age: Sequence[float] | Tensor, strains: Strains | None = None,
                 vaccine: VaccineEffectiveness | None = None):
        super().__init__()
        for name, (meanlog, sdlog) in (("incubation_days_log", incubation_days_log),
                                       ("recovery_days_log", recovery_days_log),
                                       ("onset_to_death_days_log", onset_to_death_days_log)):
            if not (math.isfinite(meanlog) and math.isfinite(sdlog) and sdlog > 0):
                raise ValueError(f"{name} must be (meanlog, sdlog) with sdlog > 0, both finite, got "
                                 f"{(meanlog, sdlog)}")
        if not 0 <= asymptomatic_fraction <= 1:
            raise ValueError(f"asymptomatic_fraction must be in [0, 1], got {asymptomatic_fraction}")
        p_death = torch.as_tensor(p_death_if_symptomatic_by_age, dtype=torch.float64)
        if p_death.shape != (N_DISEASE_AGE_BANDS,) or not bool(((p_death >= 0) & (p_death <= 1)).all()):
            raise ValueError(f"p_death_if_symptomatic_by_age needs {N_DISEASE_AGE_BANDS} probabilities in [0, 1], got "
                             f"{p_death.tolist()}")
        self.incubation_days_log = tuple(map(float, incubation_days_log))
        self.recovery_days_log = tuple(map(float, recovery_days_log))
        self.onset_to_death_days_log = tuple(map(float, onset_to_death_days_log))
        self.asymptomatic_fraction = float(asymptomatic_fraction)
        self.register_buffer("p_death_if_symptomatic", p_death)  # [19]
        self.strains = strains
        self.vaccine = vaccine

    def extra_repr(self) -> str:
        return (f"incubation_days_log={self.incubation_days_log}, recovery_days_log={self.recovery_days_log}, "
                f"onset_to_death_days_log={self.onset_to_death_days_log}, "
                f"asymptomatic_fraction={self.asymptomatic_fraction}")

    def schedule(self, world: World) -> dict[str, Tensor]:
        """Fates and event days of the agents infected today (infection_day == step); others unchanged."""
        a = world.agents
        rows = flatnonzero(a.infection_day == world.step)  # [M]
        names = ("is_asymptomatic", "is_fatal", "onset_day", "end_day", "p_fatal", "death_day_if_fatal")
        if rows.numel() == 0:
            return {name: a[name] for name in names}
        u = world.uniform("progression", rows=rows, n=5, dtype=torch.float64)  # [M, 5]
        is_asymptomatic = u[:, 0] < self.asymptomatic_fraction
        p_death = self.p_death_if_symptomatic[age_band_index(a.age[rows])]
        if self.strains is not None or self.vaccine is not None:
            p_death = (p_death * self.death_factor(world, rows)).clamp(max=1.0)
        is_fatal = ~is_asymptomatic & (u[:, 1] < p_death)
        onset = world.step + lognormal_days(u[:, 2], *self.incubation_days_log)
        until_death = lognormal_days(u[:, 4], *self.onset_to_death_days_log)  # drawn for every infection, [M]
        until_end = torch.where(is_fatal, until_death, lognormal_days(u[:, 3], *self.recovery_days_log))
        out = {name: a[name].clone() for name in names}
        out["p_fatal"][rows] = ((1 - self.asymptomatic_fraction) * p_death).to(out["p_fatal"].dtype)
        out["death_day_if_fatal"][rows] = (onset + until_death).to(out["death_day_if_fatal"].dtype)
        out["is_asymptomatic"][rows] = is_asymptomatic
        out["is_fatal"][rows] = is_fatal
        out["onset_day"][rows] = onset.to(a.onset_day.dtype)
        out["end_day"][rows] = (onset + until_end).to(a.end_day.dtype)
        return out

    def death_factor(self, world: World, rows: Tensor) -> Tensor:
        """The factor on p_death of the agents `rows` infected today: strain severity x vaccine protection [M]."""
        a = world.agents
        strain = a.strain[rows].long() if self.strains is not None else torch.zeros_like(rows)
        factor = torch.ones(rows.numel(), dtype=torch.float64, device=rows.device)
        if self.strains is not None:
            factor = factor * torch.tensor(self.strains.severity, dtype=torch.float64, device=rows.device)[strain]
        if self.vaccine is not None and bool((a.dose1_day[rows] >= 0).any()):
            factor = factor * self.vaccine.death_factor(a.dose1_day[rows], a.full_day[rows], world.step, strain)
        return factor

    def forward(self, world: World) -> dict[str, Tensor]:
        out = self.schedule(world)
        # move each agent's stage (with its float mass and gradient) on the rows with an event today only
        rows = flatnonzero((out["onset_day"] == world.step) | (out["end_day"] == world.step))  # [M]
        at_onset = out["onset_day"][rows] == world.step  # today's infections have onset > today
        at_end = out["end_day"][rows] == world.step  # an agent's onset and end never fall on the same day
        asymptomatic, fatal = out["is_asymptomatic"][rows], out["is_fatal"][rows]
        stage = world.agents.stage  # uint8 [N] | float one-hot [N, 6]
        before = stage[rows]
        e, a, i = (STAGES.member(before, k) for k in (Stage.E, Stage.A, Stage.I))  # bool [M] | float mass [M]
        i_to_d = i * (at_end & fatal)
        stage = STAGES.move_rows_many(stage, rows, [
            (e * (at_onset & asymptomatic), Stage.E, Stage.A), (e * (at_onset & ~asymptomatic), Stage.E, Stage.I),
            (a * at_end, Stage.A, Stage.R), (i * (at_end & ~fatal), Stage.I, Stage.R), (i_to_d, Stage.I, Stage.D)])
        newly_dead = torch.zeros(stage.shape[0], dtype=i_to_d.dtype, device=stage.device).index_put((rows,), i_to_d)
        return {**out, "stage": stage, "newly_dead": newly_dead}


def expected_deaths_by_region(world: World, n_regions: int) -> Tensor:
    r"""E[deaths of the day just simulated | infections so far], per region [R]: sum of p_fatal * m_i over the
    agents i whose death_day_if_fatal is step - 1 (the day the record closes), m_i = 1 - S mass of i (1 for every
    infected agent; in differentiable mode its infection draw's gradient, so the expectation carries it).

    The sampled `new_deaths` is one draw of the same fates: over seeds both have the same mean, but where deaths are
    few the sampled count is mostly 0 and the expectation is not.
    """
    a = world.agents
    rows = flatnonzero((a.death_day_if_fatal == world.step - 1) & (a.death_day_if_fatal >= 0))  # [M]
    infected = 1 - STAGES.member(a.stage[rows], Stage.S).to(a.p_fatal.dtype)  # [M], with its gradient
    return group_total(a.p_fatal[rows] * infected, a.region[rows], n_regions)
