r"""The labour market of the NYC COVID-19 model: a labour force, weekly job loss and re-hiring (`Labour`).

**Labour force.** A population marks its employed agents (`is_employed`, `industry`) but not the unemployed: the
schema has no labour-force flag. `labour_columns` adds it at world initialisation. The labour force of region r is
its employed agents plus U_r = round(E_r u_r / (1 - u_r)) unemployed, E_r the employed agents of region r and u_r
the region's unemployment rate before the epidemic (default: NYS DOL, February 2020, per borough,
`UNEMPLOYMENT_PERCENT_FEB_2020`), so that U_r / (E_r + U_r) = u_r. The U_r are drawn at random among the region's
non-employed agents of working age (16-64), from the counter-based RNG of the seed, and given a last industry drawn
from the region's mix of employed agents' industries (the Current Population Survey also files the unemployed under
their last job's industry). The unemployment rate of region r is then unemployed / labour force, both counted among
the agents with `in_labour_force` (`unemployment_rate_by_region`).

Columns added: `in_labour_force` (bool, fixed), `is_employed` (bool in fast mode, float 0/1 in differentiable
mode), `job_industry` (uint8: the industry of the current or last job, 0..12 as `INDUSTRIES`; 255 outside the labour
force) and `lost_job_day` (int16: step of the last job loss, -1 if none). The population's own `industry` and
`workplace` columns are left as they are: a worker who loses a job keeps them (the contact layers are fixed), and
one who is re-hired returns to the same industry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from populace import sampling
from populace.core import rng
from populace.core.agents import AgentTable
from populace.core.clock import DAYS_PER_WEEK
from populace.core.model import Substep
from populace.core.ops import either, group_total, hard, indicator, without
from populace.core.parameters import Bounded, Positive, UnitInterval, natural_parameter
from populace.core.world import World
from populace.models.covid_nyc.decisions import TELEWORKABLE_FRACTION_BY_INDUSTRY
from populace.models.covid_nyc.policy import LOCKDOWN_KEY
from populace.population.nyc import INDUSTRIES
from populace.population.storage import NO_CODE

NOT_YET = -1
GOES_TO_WORK = "goes_to_work"
"""The optional agent column (bool or float in [0, 1]) saying whether the agent goes to work this week."""
WORKING_AGES = (16, 64)
"""Youngest and oldest age (inclusive) at which an agent can be an unemployed member of the labour force."""

EXPOSURE_BY_INDUSTRY = tuple(round(1 - f, 3) for f in TELEWORKABLE_FRACTION_BY_INDUSTRY)
"""Relative exposure of a job to the epidemic's labour shock: 1 - the share that can telework. Assumption: job loss
scales with the share of a sector's work that cannot be done at home (arts_food 0.912 and retail 0.835 most exposed,
finance_real_estate 0.426 least); closures by order of particular sectors are not represented beyond this."""

UNEMPLOYMENT_PERCENT_FEB_2020 = (5.7, 4.3, 3.7, 3.7, 4.1)
"""Unemployment rate, %, February 2020, Bronx, Brooklyn, Manhattan, Queens, Staten Island (region codes 0..4):
NYS DOL Local Area Unemployment Statistics, not seasonally adjusted (`populace.data.nysdol_unemployment()`; a test
checks this copy against the file)."""

LONG_TERM_WEEKS = 27
"""Weeks of unemployment from which a spell is long-term (the Bureau of Labor Statistics' definition, 27 weeks or
more); re-hiring slows over the first `LONG_TERM_WEEKS` weeks of a spell and stays at its long-term rate after."""
LONG_TERM_REHIRE_FACTOR_RANGE = (0.0, 2.0)
"""Support of `long_term_rehire_factor` (open interval): 1, no duration dependence, sits at its centre."""


def labour_columns(agents: AgentTable, *, seed: int, differentiable: bool = False,
                   unemployment_percent_by_region: Sequence[float] = UNEMPLOYMENT_PERCENT_FEB_2020,
                   working_ages: tuple[int, int] = WORKING_AGES) -> dict[str, Tensor]:
    """The labour columns of a world at step 0 (see the module docstring): add them with `agents.with_columns`.

    Needs agent columns `region` (codes 0..R-1, R = len(unemployment_percent_by_region)), `age`, `is_employed` and
    `industry`. Raises ValueError when a region has fewer non-employed agents of working age than the unemployed it
    needs, or a rate is outside [0, 100).
    """
    for column in ("region", "age", "is_employed", "industry"):
        if column not in agents:
            raise KeyError(f"agents have no column {column!r} (they have: {', '.join(agents.columns)}); build them "
                           "with populace.population.nyc() or synthetic_population()")
    rates = [float(r) for r in unemployment_percent_by_region]
    if not rates or not all(0 <= r < 100 for r in rates):
        raise ValueError(f"unemployment_percent_by_region must hold one percentage in [0, 100) per region, got {rates}")
    region = agents.region.long()
    if agents.n and int(region.max()) >= len(rates):
        raise ValueError(f"region codes go up to {int(region.max())} but unemployment_percent_by_region has "
                         f"{len(rates)} values; give one per region")
    employed = agents.is_employed.bool()
    industry = agents.industry.long()
    if bool((employed & (industry >= len(INDUSTRIES))).any()):
        raise ValueError(f"some employed agents have no industry code in 0..{len(INDUSTRIES) - 1}")
    age = agents.age.long()
    candidate = ~employed & (age >= working_ages[0]) & (age <= working_ages[1])
    u_pick = rng.uniform(seed, 0, "labour_force", agents.ids)  # [N]
    u_industry = rng.uniform(seed, 0, "labour_force_industry", agents.ids)  # [N]
    in_labour_force = employed.clone()
    job_industry = torch.where(employed, industry, NO_CODE)
    for r, percent in enumerate(rates):
        n_employed = int((employed & (region == r)).sum())
        n_unemployed = round(n_employed * percent / (100 - percent))
        rows = torch.nonzero(candidate & (region == r)).flatten()
        if n_unemployed > rows.numel():
            raise ValueError(f"region {r} needs {n_unemployed} unemployed agents ({percent}% of a labour force with "
                             f"{n_employed} employed) but has only {rows.numel()} non-employed agents aged "
                             f"{working_ages[0]}-{working_ages[1]}; lower its rate or widen working_ages")
        if n_unemployed == 0:
            continue
        chosen = rows[torch.topk(u_pick[rows], n_unemployed, largest=False).indices]  # [U_r]
        mix = torch.bincount(industry[employed & (region == r)], minlength=len(INDUSTRIES)).double()  # [13]
        mix = mix / mix.sum()
        in_labour_force[chosen] = True
        job_industry[chosen] = sampling.categorical(mix.expand(n_unemployed, -1), u_industry[chosen].double())
    is_employed = indicator(employed, differentiable=differentiable)
    never = torch.full((agents.n,), NOT_YET, dtype=torch.int16)
    return {"in_labour_force": in_labour_force, "is_employed": is_employed,
            "job_industry": job_industry.to(torch.uint8), "lost_job_day": never}


def labour_counts_by_region(agents: AgentTable, n_regions: int) -> tuple[Tensor, Tensor]:
    """(labour force, unemployed) per region, float [R] each; in differentiable mode they carry gradients."""
    region, in_force = agents.region, agents.in_labour_force.bool()
    unemployed = without(in_force, agents.is_employed)  # bool [N] | float [N]
    return group_total(in_force, region, n_regions), group_total(unemployed, region, n_regions)


def unemployment_rate_by_region(agents: AgentTable, n_regions: int) -> Tensor:
    """Unemployed / labour force per region, float [R] in [0, 1]; NaN for a region with no labour force."""
    force, unemployed = labour_counts_by_region(agents, n_regions)
    return torch.where(force > 0, unemployed / force.clamp(min=1), torch.nan)


class Labour(Substep):
    r"""Job loss and re-hiring, once a week (on the steps t with t % 7 == `day_of_week`).

    An employed agent i loses its job this week with probability 1 - exp(-lambda_i), an unemployed member of the
    labour force is re-hired with probability 1 - exp(-rho_i), where (rates per week)

        lambda_i = e[k_i] * (lambda_0 + lambda_L * L) * (1 + s * (1 - g_i)),
        rho_i = rho_0 * (1 - q * L) * m ** (min(w_i, 27) / 27);

    e[k]: relative exposure of industry k (`EXPOSURE_BY_INDUSTRY`, buffer), k_i = `job_industry`;
    L: lockdown intensity in [0, 1], `world.env["lockdown"]` (written by the policy substep; absent: 0);
    g_i: `goes_to_work` in [0, 1] (written by the behaviour substep; absent: 1), so 1 - g_i is staying home;
    lambda_0 `job_loss_per_week`, lambda_L `lockdown_job_loss_per_week`, s `stay_home_job_loss_factor`,
    rho_0 `rehire_per_week` (all > 0, stored as logs), q `lockdown_rehire_reduction` in (0, 1) (stored as a logit):
    re-hiring slows under lockdown and recovers as it lifts. So over w weeks of constant conditions the share of
    workers still in their first job is exp(-w lambda) = (1 - h)^w, h = 1 - exp(-lambda).

    Duration dependence: w_i is the number of whole weeks agent i has been unemployed (since `lost_job_day`; for
    the unemployed of day 0, whose spells began before the run, since day 0), and m `long_term_rehire_factor` in
    (0, 2) (stored as a logit of m / 2) the re-hiring rate of a long-term spell (27 weeks or more, the BLS
    definition, `LONG_TERM_WEEKS`) relative to a new one: the rate falls geometrically over the first 27 weeks,
    rho_i = rho exp(-kappa min(w_i, 27)) with kappa = -ln(m) / 27, and holds after. Evidence: in a resume audit
    study, Kroft K, Lange F & Notowidigdo MJ 2013 (Q J Econ 128(3):1123-1167, doi 10.1093/qje/qjt015) found that
    the callback rate falls sharply over the first eight months of unemployment and then levels off; in the
    Current Population Survey the long-term unemployed find jobs at a much lower rate than the short-term ones
    (Krueger AB, Cramer J & Cho D 2014, Brookings Papers on Economic Activity, Spring, 229-280). The default m = 1
    is no duration dependence (the model without it, exactly); `nyc_calibration` starts a fit at 0.5 and learns
    it. With w_0 the weeks of a spell when it enters constant conditions, the share still unemployed k weeks later
    is exp(-rho sum_{j=0}^{k-1} m ** (min(w_0 + j, 27) / 27)).
    Defaults are assumptions to calibrate on the NYS DOL monthly rates, not estimates.

    Reads is_employed, in_labour_force, job_industry, lost_job_day (from `labour_columns`), optionally goes_to_work;
    writes is_employed and lost_job_day. Fast mode: bool draws. Differentiable mode: `is_employed` is a float and
    the draws straight-through Bernoullis from the same uniforms (stream "labour"), so both modes sample the same
    jobs and gradients reach every rate.
    """

    writes = ("is_employed", "lost_job_day")

    def __init__(self, *, job_loss_per_week: float = 0.002, lockdown_job_loss_per_week: float = 0.03,
                 stay_home_job_loss_factor: float = 1.0, rehire_per_week: float = 0.05,
                 lockdown_rehire_reduction: float = 0.7, long_term_rehire_factor: float = 1.0,
                 exposure_by_industry: Sequence[float] | Tensor = EXPOSURE_BY_INDUSTRY, day_of_week: int = 0):
        super().__init__()
        rates = {"job_loss_per_week": job_loss_per_week, "lockdown_job_loss_per_week": lockdown_job_loss_per_week,
                 "stay_home_job_loss_factor": stay_home_job_loss_factor, "rehire_per_week": rehire_per_week}
        for name, value in rates.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0 got {value}. For "
                                 "no job loss in an industry set its exposure to 0 instead")
        if not 0 < lockdown_rehire_reduction < 1:
            raise ValueError(f"lockdown_rehire_reduction must be in (0, 1) got "
                             f"{lockdown_rehire_reduction}")
        exposure = torch.as_tensor(exposure_by_industry, dtype=torch.float32)
        if exposure.shape != (len(INDUSTRIES),) or not bool(((exposure >= 0) & torch.isfinite(exposure)).all()):
            raise ValueError(f"exposure_by_industry needs {len(INDUSTRIES)} finite values >= 0 (one per industry, "
                             f"order {INDUSTRIES}), got {exposure.tolist()}")
        if day_of_week not in range(DAYS_PER_WEEK):
            raise ValueError(f"day_of_week must be an int in 0..6, got {day_of_week!r}")
        for name, value in rates.items():
            natural_parameter(self, name, value, Positive())
        natural_parameter(self, "lockdown_rehire_reduction", lockdown_rehire_reduction, UnitInterval())
        natural_parameter(self, "long_term_rehire_factor", long_term_rehire_factor,
                          Bounded(*LONG_TERM_REHIRE_FACTOR_RANGE))
        self.register_buffer("exposure", torch.cat([exposure, exposure.new_zeros(NO_CODE + 1 - len(exposure))]))
        self.day_of_week = day_of_week

    def extra_repr(self) -> str:
        return (f"job_loss_per_week={float(self.job_loss_per_week):.4g}, "
                f"lockdown_job_loss_per_week={float(self.lockdown_job_loss_per_week):.4g}, "
                f"stay_home_job_loss_factor={float(self.stay_home_job_loss_factor):.4g}, "
                f"rehire_per_week={float(self.rehire_per_week):.4g}, "
                f"lockdown_rehire_reduction={float(self.lockdown_rehire_reduction):.4g}, "
                f"long_term_rehire_factor={float(self.long_term_rehire_factor):.4g}, "
                f"day_of_week={self.day_of_week}")

    def rates_per_week(self, world: World) -> tuple[Tensor, Tensor]:
        """(lambda_i [N], rho_i [N]) of the formula, for the world's lockdown, goes_to_work and the weeks each
        agent has been unemployed (`weeks_unemployed`; rho_i is meaningful for the unemployed only)."""
        a = world.agents
        for column in ("is_employed", "in_labour_force", "job_industry", "lost_job_day"):
            if column not in a:
                raise KeyError(f"agents have no column {column!r}; add the labour columns to the initial world with "
                               "agents.with_columns(labour_columns(agents, seed=...))")
        lockdown = world.env.get(LOCKDOWN_KEY, torch.zeros((), device=world.device))
        if lockdown.dim() != 0 or not 0 <= float(lockdown.detach()) <= 1:
            raise ValueError(f"world.env[{LOCKDOWN_KEY!r}] must be a number in [0, 1], got {lockdown.tolist()}")
        loss = self.job_loss_per_week + self.lockdown_job_loss_per_week * lockdown  # []
        lam = self.exposure[a.job_industry.long()] * loss  # [N]
        if GOES_TO_WORK in a:
            lam = lam * (1 + self.stay_home_job_loss_factor * (1 - a[GOES_TO_WORK].to(lam.dtype)))
        rho = self.rehire_per_week * (1 - self.lockdown_rehire_reduction * lockdown)  # []
        weeks = weeks_unemployed(a.lost_job_day, world.step).clamp(max=LONG_TERM_WEEKS)  # [N]
        return lam, rho * torch.exp(torch.log(self.long_term_rehire_factor) * (weeks / LONG_TERM_WEEKS))

    def forward(self, world: World) -> dict[str, Tensor]:
        if world.step % DAYS_PER_WEEK != self.day_of_week:
            return {}
        a = world.agents
        lam, rho = self.rates_per_week(world)
        p_loss = -torch.expm1(-lam)  # [N]
        p_hire = -torch.expm1(-rho)  # [N]
        # one stream for both draws: each agent's one uniform of the week (it is either employed or not)
        employed = a.is_employed  # bool [N] | float [N]
        lost = world.bernoulli("labour", p_loss, among=employed)
        hired = world.bernoulli("labour", p_hire, among=without(a.in_labour_force.bool(), employed))
        return {"is_employed": either(without(employed, lost), hired),
                "lost_job_day": torch.where(hard(lost), world.step, a.lost_job_day).to(a.lost_job_day.dtype)}


def weeks_unemployed(lost_job_day: Tensor, step: int) -> Tensor:
    """Whole weeks from each agent's last job loss (`lost_job_day`, step; -1 / `NOT_YET`: counted from day 0) to
    `step`, float32 [N] >= 0 (for an employed agent: since its last loss, unused)."""
    since = lost_job_day.long().clamp(min=0)
    return torch.div(step - since, DAYS_PER_WEEK, rounding_mode="floor").clamp(min=0).float()
