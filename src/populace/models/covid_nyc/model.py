"""The NYC COVID-19 model: `CovidDisease` (the disease on its own, S -> E -> A or I -> R or D) and `CovidNYC` (the
disease with dated orders, weekly isolation and go-to-work decisions, and the labour market)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence

import torch
from torch import Tensor

from populace.behavior.interface import DecisionModel
from populace.core import rng
from populace.core.agents import AgentTable
from populace.core.errors import InputError
from populace.core.model import Model
from populace.core.ops import attach_gradient, count_where, group_total, indicator
from populace.core.parameters import Positive, natural_parameter, renamed_parameter, unconstrained
from populace.core.world import World, as_date
from populace.models.covid_nyc.behaviour import Behaviour
from populace.models.covid_nyc.decisions import HeuristicDecisions
from populace.models.covid_nyc.disease import (
    NOT_YET,
    STAGES,
    Progression,
    Stage,
    Transmission,
    expected_deaths_by_region,
)
from populace.models.covid_nyc.importation import Importation
from populace.models.covid_nyc.labour import (
    UNEMPLOYMENT_PERCENT_FEB_2020,
    Labour,
    labour_columns,
    labour_counts_by_region,
)
from populace.models.covid_nyc.observe import ONSET_OBSERVABLES, daily_observables
from populace.models.covid_nyc.params import CovidParams
from populace.models.covid_nyc.policy import Policy, PolicySchedule, nyc_2020_2021_schedule
from populace.models.covid_nyc.testing import Testing, daily_testing_observables
from populace.models.covid_nyc.vaccination import VACCINATION_START, Vaccination
from populace.models.covid_nyc.variants import N_STRAINS, STRAIN_NAMES, Strain, Strains, VariantMix
from populace.network.graph import ContactGraph
from populace.population.storage import Population

STAGE_OBSERVABLES = {Stage.S: "susceptible", Stage.E: "exposed", Stage.A: "asymptomatic", Stage.I: "symptomatic",
                     Stage.R: "recovered", Stage.D: "dead"}
"""The daily count of each stage is recorded under this name."""


class CovidDisease(Model):
    """COVID-19 spreading through the contact layers of a population, with age-specific severity.

    Each day, from the state at the start of the day:
    1. transmission: a susceptible agent is infected with probability 1 - exp(-beta(t) * its susceptibility * the
       sum over layers and contacts of layer scale * contact weight * the contact's infectiousness today), which
       depends on days since infection; beta(t) is one calibrated value per week (`Transmission`); then residents
       exposed to an infection from outside are infected if still susceptible (`Importation`, off by default);
    2. progression: today's infections draw their fate (asymptomatic, fatal) and event days; agents whose
       incubation ends today show symptoms (I) or not (A); those whose infection ends today recover (R) or die
       (D) (`Progression`).
    Day 0 starts with `initial_infected` agents exposed (infected that day), chosen at random from the seed.
    Optional, for 2021: `vaccination` (a `Vaccination`: first doses and completed series each day before
    transmission, as the DOHMH tables say; their protection acts on transmission, importation and the fatality of
    infections) and `variants` (a `VariantMix`: imported infections carry the week's observed strain mix, each
    strain with its transmissibility and severity from `strains`, default `Strains()`); both inert before the
    first day of their tables (2020-12-14 and the week ending 2021-01-02).

    Records each day: the number of agents in each stage (`STAGE_OBSERVABLES`), and per region the new
    infections and new deaths of the day before (`new_infections`, `new_deaths`, labels `region_labels`) and the
    expected deaths of that day given the infections so far (`expected_new_deaths`: probability mass, not a draw;
    `expected_deaths_by_region`); with variants the day's new infections by strain (`new_infections_by_strain`,
    labels `STRAIN_NAMES`), with vaccination the agents with a first dose and those fully vaccinated per region
    (`first_dosed`, `fully_vaccinated`).
    Fast mode keeps the stage as a uint8 code; differentiable mode as a float one-hot [N, 6] with
    straight-through infection draws that sample exactly what fast mode samples.

    Needs agent columns `age` (years) and `region` (codes 0..R-1); every other column is kept as it is.
    """

    def __init__(self, agents: AgentTable, contacts: ContactGraph, params: CovidParams | None = None, *,
                 region_labels: Sequence[str] | None = None, initial_infected: int = 10,
                 vaccination: Vaccination | None = None, variants: VariantMix | None = None,
                 strains: Strains | None = None):
        super().__init__()
        params = params or CovidParams()
        if strains is not None and variants is None:
            raise ValueError("strains without variants: pass variants=VariantMix(...) (new strains enter only "
                             "through importations), or leave strains out")
        strains = strains or (Strains() if variants is not None else None)
        vaccine = vaccination.effectiveness if vaccination is not None else None
        for column in ("age", "region"):
            if column not in agents:
                raise KeyError(f"agents have no column {column!r} (they have: {', '.join(agents.columns)}); build "
                               "them with populace.population.synthetic_population() or nyc()")
        if contacts.n_agents != agents.n:
            raise ValueError(f"contacts are built for {contacts.n_agents} agents but there are {agents.n}")
        if not 0 < initial_infected <= agents.n:
            raise ValueError(f"initial_infected must be in [1, {agents.n}] (the number of agents), got "
                             f"{initial_infected}")
        n_regions = int(agents.region.max()) + 1 if agents.n else 0
        labels = list(region_labels) if region_labels is not None else [str(r) for r in range(n_regions)]
        if len(labels) < n_regions:
            raise ValueError(f"region codes go up to {n_regions - 1} but only {len(labels)} region_labels were given")
        self.agents = agents
        self.params = params
        natural_parameter(self, "initial_infections", float(initial_infected), Positive())
        renamed_parameter(self, "log_initial_infected", "parametrizations.initial_infections.original")
        self.region_labels = labels
        self.observable_labels = {"new_infections": labels, "new_deaths": labels, "expected_new_deaths": labels}
        if strains is not None:
            self.observable_labels["new_infections_by_strain"] = list(STRAIN_NAMES)
        if vaccination is not None:
            if vaccination.n_regions != len(labels):
                raise ValueError(f"vaccination targets cover {vaccination.n_regions} regions, the agents "
                                 f"{len(labels)}")
            self.observable_labels.update(first_dosed=labels, fully_vaccinated=labels)
        self.vaccination = vaccination
        self.strains = strains
        self.transmission = Transmission(
            contacts, params.beta_by_week, susceptibility_by_age=params.susceptibility_by_age,
            infectiousness_by_day=params.infectiousness_by_day(),
            asymptomatic_relative_infectiousness=params.asymptomatic_relative_infectiousness, strains=strains,
            vaccine=vaccine)
        self.importation = Importation(params.importations_per_million_per_day, mix=variants, vaccine=vaccine)
        self.progression = Progression(
            incubation_days_log=(params.incubation_days_meanlog, params.incubation_days_sdlog),
            recovery_days_log=params.recovery_days_log_parameters,
            onset_to_death_days_log=params.onset_to_death_days_log_parameters,
            asymptomatic_fraction=params.asymptomatic_fraction,
            p_death_if_symptomatic_by_age=params.p_death_if_symptomatic_by_age(), strains=strains, vaccine=vaccine)

    @classmethod
    def from_population(cls, population: Population, params: CovidParams | None = None, *,
                        initial_infected: int = 10) -> CovidDisease:
        """The model on a built population: its agents, contact layers and region labels (manifest codes)."""
        labels = population.manifest.get("codes", {}).get("region")
        return cls(population.agents, population.layers, params, region_labels=labels,
                   initial_infected=initial_infected)

    @property
    def initial_infected(self) -> int:
        """Agents exposed on day 0: the natural parameter `initial_infections` (a `Positive` count, trained as its
        log, key `parametrizations.initial_infections.original`; draws naming the former key `log_initial_infected`
        still load) rounded, within [1, N]."""
        return min(max(round(float(self.initial_infections.detach())), 1), self.agents.n)

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        return World.of(self.initial_agents(seed=seed, differentiable=differentiable), seed=seed,
                        differentiable=differentiable)

    def initial_agents(self, *, seed: int, differentiable: bool = False) -> AgentTable:
        """The agents at step 0 with the disease columns: `initial_infected` exposed on day 0, the rest susceptible.

        The first infections are the `initial_infected` agents with the smallest uniforms of the seed. In
        differentiable mode their E mass is 1 + (l - stop_grad(l)), l = log `initial_infections` (value 1, derivative
        1 each), a straight-through count: d(sum of first infections)/dl = initial_infected = exp(l), so gradients
        reach the calibrated initial level while both modes seed exactly the same agents.
        """
        n = self.agents.n
        u = rng.uniform(seed, 0, "initial_infected", self.agents.ids)
        first = torch.topk(u, self.initial_infected, largest=False).indices
        is_first = torch.zeros(n, dtype=torch.bool)
        is_first[first] = True
        l = unconstrained(self, "initial_infections")  # noqa: E741 (the docstring's symbol)
        first_infections = attach_gradient(indicator(is_first, differentiable=differentiable), 1 + (l - l.detach()))
        susceptible = STAGES.encode(torch.full((n,), Stage.S, dtype=torch.uint8), differentiable=differentiable)
        stage = STAGES.move(susceptible, first_infections, Stage.S, Stage.E)
        never = torch.full((n,), NOT_YET, dtype=torch.int16)
        newly_infected = first_infections
        newly_dead = indicator(torch.zeros(n, dtype=torch.bool), differentiable=differentiable)
        table = self.agents.with_columns({
            "stage": stage, "newly_infected": newly_infected, "newly_dead": newly_dead,
            "infection_day": torch.where(is_first, 0, never).to(torch.int16), "onset_day": never,
            "end_day": never.clone(), "is_asymptomatic": torch.zeros(n, dtype=torch.bool),
            "is_fatal": torch.zeros(n, dtype=torch.bool), "p_fatal": torch.zeros(n),
            "death_day_if_fatal": never.clone(),
        })
        if self.strains is not None:  # the first infections are ancestral
            table = table.with_columns({"strain": torch.full((n,), Strain.ANCESTRAL, dtype=torch.uint8)})
        if self.vaccination is not None:
            table = table.with_columns(self.vaccination.initial_columns(table, seed=seed))
        return table

    def forward(self, world: World) -> World:
        if self.vaccination is not None:
            world = world.update(self.vaccination(world))
        world = world.update(self.transmission(world))
        world = world.update(self.importation(world))
        return world.update(self.progression(world))

    def observe(self, world: World) -> dict[str, Tensor]:
        a = world.agents
        n_regions = len(self.region_labels)
        region = a.region
        counts = STAGES.counts(a.stage)  # [6]
        infections = group_total(a.newly_infected, region, n_regions)
        deaths = group_total(a.newly_dead, region, n_regions)
        out = {**{name: counts[stage] for stage, name in STAGE_OBSERVABLES.items()},
               "new_infections": infections, "new_deaths": deaths,
               "expected_new_deaths": expected_deaths_by_region(world, n_regions)}
        if self.strains is not None:
            out["new_infections_by_strain"] = group_total(a.newly_infected, a.strain, N_STRAINS)
        if self.vaccination is not None:
            out["first_dosed"] = count_where(region, a.dose1_day >= 0, n_regions)
            out["fully_vaccinated"] = count_where(region, a.full_day >= 0, n_regions)
        return out


NYC_START_DATE = dt.date(2020, 3, 1)
"""Default first day of a `CovidNYC` run: three weeks before NYC PAUSE (2020-03-22, a Sunday; with decisions on
steps 0, 7, 14, ... the weekly behaviour and labour steps then fall on PAUSE day)."""


NYC_INFECTIONS_ON_START_DATE = 10_700
"""Infections in New York City by 2020-03-01 (the day of its first confirmed case): median estimate of the
Northeastern University GLEAM model (Davis JT et al. 2021, "Cryptic transmission of SARS-CoV-2 and the first COVID-19
wave", Nature 600:127-132, doi 10.1038/s41586-021-04130-w; figure reported by the New York Times, 2020-04-23). Used as
the default seeding at city scale; `initial_infected_at_scale` turns it into a number of agents."""


def initial_infected_at_scale(city_infections: float, scale: float) -> int:
    """Agents to infect on day 0 of a population at `scale` (fraction of the city): round(scale x city_infections),
    at least 1."""
    if not (city_infections >= 1 and 0 < scale <= 1):
        raise ValueError(f"need city_infections >= 1 and scale in (0, 1], got {city_infections!r} and {scale!r}")
    return max(1, round(scale * city_infections))


class CovidNYC(CovidDisease):
    """COVID-19 in New York City with public-health orders, isolation and work decisions, and the labour market.

    Each day, from the state at the start of the day:
    1. policy: the orders in force on the day's date set each layer's contact scale, the work-from-home fraction
       and the lockdown intensity (`Policy`, written to `world.env`);
    2. behaviour (weekly): every agent decides whether to isolate and, if employed, whether to go to work, from
       its symptoms, its region's recent cases and the orders; isolation and staying home cut its contacts on
       the school, work and community layers (`Behaviour`);
    3. testing: at the rate `world.env["testing"]` (absent or 0: no testing, the default), residents are tested
       and the infected who test positive isolate for 10 days, with the contact factors of self-isolation
       (`Testing`); then, with `vaccination`, the day's first doses and completed series (`Vaccination`);
    4. transmission and 5. progression, as in `CovidDisease` (`Transmission`, `Progression`; with `variants`, the
       imported infections carry the week's strain mix);
    6. labour (weekly): employed agents lose their jobs at a rate raised by the lockdown, by staying home and by
       their industry's exposure; unemployed members of the labour force are re-hired (`Labour`).
    Day 0 is `start_date` (default 2020-03-01); the labour force at day 0 matches each region's unemployment rate
    of February 2020 (`labour_columns`).

    Records each day what `CovidDisease` records, plus per region the symptom onsets of the day before
    (`ONSET_OBSERVABLES`, for the observation model), the labour force and the unemployed (`labour_force`,
    `unemployed`; labels `region_labels`), and the day's tests, positive tests and agents isolating after one
    (`TESTING_OBSERVABLES`).

    Needs agent columns `age`, `region`, `is_employed` and `industry`, and contact layers named as the orders
    name them (`nyc_2020_2021_schedule()`: household, school, work, community).
    """

    def __init__(self, agents: AgentTable, contacts: ContactGraph, params: CovidParams | None = None, *,
                 schedule: PolicySchedule | None = None, behaviour: Behaviour | DecisionModel | None = None,
                 labour: Labour | None = None, start_date: dt.date | str = NYC_START_DATE,
                 unemployment_percent_by_region: Sequence[float] = UNEMPLOYMENT_PERCENT_FEB_2020,
                 region_labels: Sequence[str] | None = None, initial_infected: int = 10,
                 vaccination: Vaccination | None = None, variants: VariantMix | None = None,
                 strains: Strains | None = None):
        super().__init__(agents, contacts, params, region_labels=region_labels, initial_infected=initial_infected,
                         vaccination=vaccination, variants=variants, strains=strains)
        for column in ("is_employed", "industry"):
            if column not in agents:
                raise KeyError(f"agents have no column {column!r} (they have: {', '.join(agents.columns)}); build "
                               "them with populace.population.synthetic_population() or nyc()")
        start_date = as_date(start_date, "start_date")
        if behaviour is None:
            behaviour = HeuristicDecisions()
        if not isinstance(behaviour, Behaviour):
            behaviour = Behaviour(behaviour)  # a decision model (HeuristicDecisions, an LLM backend, ...)
        self.start_date = start_date
        self.unemployment_percent_by_region = tuple(float(r) for r in unemployment_percent_by_region)
        self.policy = Policy(nyc_2020_2021_schedule() if schedule is None else schedule, layers=contacts.names)
        self.behaviour = behaviour
        self.testing = Testing(behaviour.isolation_contact_factor_by_layer, work_layer=behaviour.work_layer)
        self.labour = Labour() if labour is None else labour
        labels = self.region_labels
        self.observable_labels = {**self.observable_labels, **dict.fromkeys(ONSET_OBSERVABLES, labels),
                                  "labour_force": labels, "unemployed": labels}

    @classmethod
    def from_population(cls, population: Population, params: CovidParams | None = None, *,
                        start_date: dt.date | str = NYC_START_DATE, schedule: PolicySchedule | None = None,
                        behaviour: Behaviour | DecisionModel | None = None, initial_infected: int = 10,
                        vaccination: Vaccination | None = None, variants: VariantMix | None = None) -> CovidNYC:
        """The model on a built population: its agents, contact layers and region labels (manifest codes).

        Defaults: the orders of `nyc_2020_2021_schedule()` (March 2020 to June 2021) and
        `Behaviour(HeuristicDecisions())`; no vaccination and no variants (`nyc_2021_parts` builds NYC's from the
        data).
        """
        labels = population.manifest.get("codes", {}).get("region")
        return cls(population.agents, population.layers, params, schedule=schedule, behaviour=behaviour,
                   start_date=start_date, region_labels=labels, initial_infected=initial_infected,
                   vaccination=vaccination, variants=variants)

    def extra_repr(self) -> str:
        return f"start_date={self.start_date}, initial_infected={self.initial_infected}"

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        table = self.initial_agents(seed=seed, differentiable=differentiable)
        table = table.with_columns(labour_columns(
            table, seed=seed, differentiable=differentiable,
            unemployment_percent_by_region=self.unemployment_percent_by_region))
        table = table.with_columns(self.behaviour.initial_columns(table, differentiable=differentiable))
        table = table.with_columns(self.testing.initial_columns(table, differentiable=differentiable))
        return World.of(table, seed=seed, differentiable=differentiable, start_date=self.start_date)

    def forward(self, world: World) -> World:
        world = world.with_env(**self.policy(world))
        world = world.update(self.behaviour(world))
        world = world.update(self.testing(world))
        if self.vaccination is not None:
            world = world.update(self.vaccination(world))
        world = world.update(self.transmission(world))
        world = world.update(self.importation(world))
        world = world.update(self.progression(world))
        return world.update(self.labour(world))

    def observe(self, world: World) -> dict[str, Tensor]:
        n_regions = len(self.region_labels)
        labour_force, unemployed = labour_counts_by_region(world.agents, n_regions)
        return {**super().observe(world), **daily_observables(world, n_regions), "labour_force": labour_force,
                "unemployed": unemployed, **daily_testing_observables(world)}


def nyc_2021_parts(population: Population, start_date: dt.date | str, *, days: int | None = None,
                   vaccination: bool = True, variants: bool = True, data_dir: str | os.PathLike[str] | None = None,
                   ) -> dict[str, Vaccination | VariantMix | None]:
    """NYC's vaccination (`Vaccination.nyc`) and variant mix (`VariantMix.nyc`) for a run on a population built by
    `populace.population.nyc` from `start_date`, as keyword arguments of `CovidNYC.from_population`. A run of
    `days` days that ends before `VACCINATION_START` gets neither (nothing of them would happen); vaccination needs a
    start by `VACCINATION_START` (InputError)."""
    start = as_date(start_date, "start_date")
    if days is not None and not reaches_vaccination(start, days):
        vaccination = variants = False
    if vaccination and start > VACCINATION_START:
        raise InputError(f"vaccination follows the DOHMH tables from {VACCINATION_START}; a run from {start} would "
                         "give every earlier dose on its first day: start by then, or leave vaccination out "
                         "(--no-vaccination)")
    codes = population.manifest.get("codes", {})
    return {"vaccination": Vaccination.nyc(population.agents, codes["region"], start,
                                           industry_labels=codes.get("industry"), data_dir=data_dir)
            if vaccination else None,
            "variants": VariantMix.nyc(start, data_dir) if variants else None}


def reaches_vaccination(start: dt.date, days: int) -> bool:
    """Whether a run of `days` days from `start` reaches `VACCINATION_START` (2020-12-14, NYC's first doses)."""
    return start + dt.timedelta(days=days - 1) >= VACCINATION_START
