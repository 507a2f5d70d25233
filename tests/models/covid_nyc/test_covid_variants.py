"""Strains and vaccine protection in transmission (closed forms on a star), importations that follow the weekly mix,
both modes, and a 60-day run of the NYC model from 2020-12-01 with the real vaccination and variant tables."""

import datetime as dt
import math

import pytest
import torch

from populace.core import AgentTable, World
from populace.data import BOROUGHS
from populace.data.variants import dohmh_variants
from populace.models.covid_nyc import CovidDisease, CovidNYC, CovidParams, Stage, Transmission
from populace.models.covid_nyc.vaccination import EligibilityPhase, Vaccination
from populace.models.covid_nyc.vaccine import VaccineEffectiveness
from populace.models.covid_nyc.variants import N_STRAINS, Strain, Strains, VariantMix
from populace.network import ContactGraph, ContactLayer
from populace.population.synthetic import layered_synthetic_population

N_LEAVES = 20_000
DAY, DAYS_INFECTED = 60, 4
H4 = float(CovidParams().infectiousness_by_day()[DAYS_INFECTED])


def star(hub_strains: list[Strain], *, vaccinated_every: int = 0) -> tuple[Transmission, World]:
    """Hubs 0..H-1 (infected DAYS_INFECTED days ago, of `hub_strains`), each in contact (weight 2) with every one of
    N_LEAVES susceptibles aged 30; with `vaccinated_every` = k, every k-th leaf fully vaccinated 20 days ago (at
    the peak of its protection). beta = 0.5."""
    n_hubs = len(hub_strains)
    n = n_hubs + N_LEAVES
    leaves = torch.arange(n_hubs, n)
    layers = {f"hub{h}": ContactLayer.from_edges(n, torch.full((N_LEAVES,), h), leaves, torch.full((N_LEAVES,), 2.0))
              for h in range(n_hubs)}
    p = CovidParams()
    transmission = Transmission(ContactGraph(n, layers), [0.5], susceptibility_by_age=[1.0] * 19,
                                infectiousness_by_day=p.infectiousness_by_day(),
                                asymptomatic_relative_infectiousness=0.5, strains=Strains(),
                                vaccine=VaccineEffectiveness())
    stage = torch.full((n,), Stage.S, dtype=torch.uint8)
    stage[:n_hubs] = Stage.I
    infection_day = torch.full((n,), -1, dtype=torch.int16)
    infection_day[:n_hubs] = DAY - DAYS_INFECTED
    strain = torch.zeros(n, dtype=torch.uint8)
    strain[:n_hubs] = torch.tensor(hub_strains, dtype=torch.uint8)
    full_day = torch.full((n,), -1, dtype=torch.int16)
    if vaccinated_every:
        full_day[n_hubs::vaccinated_every] = DAY - 20
    table = AgentTable({"stage": stage, "age": torch.full((n,), 30, dtype=torch.uint8), "infection_day": infection_day,
                        "is_asymptomatic": torch.zeros(n, dtype=torch.bool), "strain": strain,
                        "dose1_day": torch.where(full_day >= 0, full_day - 21, full_day).to(torch.int16),
                        "full_day": full_day})
    return transmission, World.of(table, seed=3, step=DAY)


def within(fraction: float, p: float, n: int, k: float = 4) -> bool:
    """|fraction - p| within k standard errors of a binomial proportion of n draws (k = 4: ~6e-5 false alarms)."""
    return abs(fraction - p) <= k * math.sqrt(p * (1 - p) / n)


def test_delta_hub_infects_with_its_transmissibility_and_vaccination_cuts_it_by_one_minus_protection():
    transmission, world = star([Strain.DELTA], vaccinated_every=2)
    out = transmission(world)
    new = out["newly_infected"][1:]
    vaccinated = world.agents.full_day[1:] >= 0
    # p = 1 - exp(-beta w h[4] m_delta (1 - v)), v = 0.88 x 88.0/93.7 (peak, Delta escape); 10,000 leaves each
    hazard = 0.5 * 2 * H4 * 1.97
    v = 0.88 * 88.0 / 93.7
    assert within(float(new[~vaccinated].float().mean()), -math.expm1(-hazard), N_LEAVES // 2)
    assert within(float(new[vaccinated].float().mean()), -math.expm1(-hazard * (1 - v)), N_LEAVES // 2)
    assert bool((out["strain"][1:][new] == Strain.DELTA).all())
    assert bool((out["strain"][1:][~new] == 0).all())


def test_a_new_infection_takes_each_strain_in_proportion_to_its_pressure():
    transmission, world = star([Strain.ANCESTRAL, Strain.ALPHA])
    out = transmission(world)
    new = out["newly_infected"][2:]
    # two hubs: hazard beta w h[4] (1 + 1.29); Alpha's share of the infections 1.29 / 2.29
    assert within(float(new.float().mean()), -math.expm1(-0.5 * 2 * H4 * 2.29), N_LEAVES)
    alpha = float((out["strain"][2:][new] == Strain.ALPHA).float().mean())
    assert within(alpha, 1.29 / 2.29, int(new.sum()))


MIX = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)


def importing_model(n: int = 20_000, *, vaccination: Vaccination | None = None) -> CovidDisease:
    """No contacts at all: every infection is imported, 5% of the agents a day (50,000 per million)."""
    table = AgentTable({"age": torch.full((n,), 40, dtype=torch.uint8), "region": torch.zeros(n, dtype=torch.uint8)})
    return CovidDisease(table, ContactGraph(n, {}), CovidParams(importations_per_million_per_day=50_000),
                        initial_infected=1, variants=VariantMix(MIX, first_week_end_step=9), vaccination=vaccination)


def test_imported_strains_follow_the_weeks_mix():
    traj = importing_model().run(days=17, seed=2)
    by_strain = traj["new_infections_by_strain"][1:]  # [17, 4]: day d's infections (the record after it)
    # before the first week (days 0-2: the week ending on day 9 starts on day 3) every import is ancestral
    assert by_strain[:3, 1:].sum() == 0
    assert by_strain[:3, 0].sum() > 2000
    for week, days in ((0, slice(3, 10)), (1, slice(10, 17))):
        counts = by_strain[days].sum(0)
        total = int(counts.sum())
        for s in range(N_STRAINS):
            if MIX[week, s] == 0:
                assert counts[s] == 0
            else:
                assert within(float(counts[s]) / total, float(MIX[week, s]), total)


def test_vaccinated_residents_resist_imported_infections():
    n = 20_000
    targets = torch.tensor([[n // 2]])  # half the agents, fully, on day 0: protected (0.88) from day 14
    vaccination = Vaccination(targets, targets, first_step=0, phases=(EligibilityPhase(dt.date(2021, 1, 1), 0),),
                              phase_steps=[0], acceptance_by_age_band=[1.0] * 10)
    traj = importing_model(n, vaccination=vaccination).run(days=16, seed=4)
    world_free = importing_model(n).run(days=16, seed=4)
    assert traj["first_dosed"][-1].tolist() == [n // 2]
    # on days 0-13 both runs import into the same agents; afterwards the vaccinated half takes only 12% of its share
    assert torch.equal(traj["new_infections"][1:14], world_free["new_infections"][1:14])
    assert float(traj["new_infections"][15:].sum()) < float(world_free["new_infections"][15:].sum())


def small_model(**kwargs) -> tuple[CovidDisease, int]:
    population = layered_synthetic_population(750, seed=1, agents_per_zone=150)
    n_regions = 5
    targets = torch.arange(0, 100, 5)[:, None].repeat(1, n_regions)  # 5 more per region a day from day 0
    vaccination = Vaccination(targets, targets // 2, first_step=0,
                              phases=(EligibilityPhase(dt.date(2021, 1, 1), 50), EligibilityPhase(dt.date(2021, 1, 8),
                                                                                                  16)),
                              phase_steps=[0, 7], acceptance_by_age_band=[0.8] * 10)
    model = CovidDisease.from_population(population, CovidParams(importations_per_million_per_day=2000),
                                         initial_infected=20)
    model = CovidDisease(population.agents, population.layers, model.params, initial_infected=20,
                         vaccination=vaccination, variants=VariantMix(MIX, first_week_end_step=6), **kwargs)
    return model, n_regions


def test_both_modes_draw_the_same_epidemic_and_gradients_reach_beta():
    model, _ = small_model()
    fast = model.run(days=16, seed=1)
    diff = model.run(days=16, seed=1, differentiable=True)
    assert torch.equal(fast["new_infections"], diff["new_infections"].detach())
    assert torch.equal(fast["new_infections_by_strain"], diff["new_infections_by_strain"].detach())
    assert float(fast["new_infections_by_strain"][:, 1:].sum()) > 0  # variants did arrive
    assert float(fast["first_dosed"][-1].sum()) > 0
    diff["new_infections"].sum().backward()
    grad = model.transmission.parametrizations.beta_by_week.original.grad
    assert grad is not None
    assert bool(torch.isfinite(grad).all())
    assert float(grad.sum()) > 0


def test_strains_need_variants():
    population = layered_synthetic_population(300, seed=1, agents_per_zone=60)
    with pytest.raises(ValueError, match="strains without variants"):
        CovidDisease(population.agents, population.layers, strains=Strains())
    with pytest.raises(ValueError, match="transmissibility must be > 0"):
        Strains(transmissibility=(1.0, 0.0, 1.0, 1.0))


def test_sixty_days_from_december_2020_with_the_real_tables():
    start = dt.date(2020, 12, 1)
    population = layered_synthetic_population(1000, seed=1, agents_per_zone=200)  # 5 regions, read as boroughs
    # industry code 0 read as health care: the first phase (2020-12-14) has agents to vaccinate
    labels = ["education_health", *population.manifest["codes"]["industry"][1:]]
    vaccination = Vaccination.nyc(population.agents, BOROUGHS, start, industry_labels=labels)
    variants = VariantMix.nyc(start)
    model = CovidNYC(population.agents, population.layers, CovidParams(importations_per_million_per_day=200),
                     start_date=start, region_labels=list(BOROUGHS), initial_infected=15, vaccination=vaccination,
                     variants=variants)
    traj = model.run(days=60, seed=1)
    first_dosed = traj["first_dosed"][1:]  # [60, 5]: at the end of each day 0..59
    assert first_dosed[:13].sum() == 0  # nothing before 2020-12-14 (day 13)
    # from then on exactly the table, scaled per borough (eligible agents are never short here)
    assert torch.equal(first_dosed[13:].long(), vaccination.first_dose_targets[:47])
    assert torch.equal(traj["fully_vaccinated"][1:][13:].long(), vaccination.full_targets[:47])
    # scaled: round(residents vaccinated x agents / residents), e.g. the Bronx on 2021-01-29 (table row 46)
    assert int(vaccination.first_dose_targets[46, 0]) > 0
    by_strain = traj["new_infections_by_strain"][1:]
    assert by_strain[:26, 1:].sum() == 0  # the first variant week starts on 2020-12-27 (day 26)
    # the mix of the last week of June 2021, from the counts: 72 Delta of 179 sequenced
    june = variants.on((dt.date(2021, 6, 26) - start).days)
    table = dohmh_variants()
    assert float(june[Strain.DELTA]) == pytest.approx(72 / 179)
    assert float(june.sum()) == pytest.approx(1.0)
    assert len(table) == len(variants.shares)


def test_an_imported_exposure_infects_a_vaccinated_resident_with_probability_one_minus_protection():
    """Every resident susceptible and fully vaccinated 20 days ago (peak protection, ancestral strain: v = 0.88):
    of the distinct residents exposed from outside today, a share 1 - v is infected, the others stay susceptible."""
    from populace.models.covid_nyc.importation import Importation

    n = 200_000
    importation = Importation(200_000, vaccine=VaccineEffectiveness())  # 40,000 exposures a day on average
    full_day = torch.full((n,), DAY - 20, dtype=torch.int16)
    table = AgentTable({"stage": torch.full((n,), Stage.S, dtype=torch.uint8), "full_day": full_day,
                        "dose1_day": (full_day - 21).to(torch.int16),
                        "infection_day": torch.full((n,), -1, dtype=torch.int16),
                        "newly_infected": torch.zeros(n, dtype=torch.bool)})
    world = World.of(table, seed=3, step=DAY)
    exposed = int(torch.unique(importation.imported(world)).numel())
    infected = int(importation(world)["newly_infected"].sum())
    assert exposed > 30_000
    assert within(infected / exposed, 1 - 0.88, exposed)
