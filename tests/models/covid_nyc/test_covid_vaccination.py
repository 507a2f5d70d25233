"""`Vaccination` against hand-made targets (daily totals, eligibility, age order, second doses) and
`VaccineEffectiveness` against its formula (waning, Delta escape, death given infection)."""

import dataclasses
import datetime as dt
import itertools
import math

import pytest
import torch

from populace.core import AgentTable, World
from populace.models.covid_nyc import Stage
from populace.models.covid_nyc.vaccination import EligibilityPhase, Vaccination
from populace.models.covid_nyc.vaccine import VaccineEffectiveness
from populace.models.covid_nyc.variants import Strain

DAY0 = dt.date(2020, 12, 14)  # the phases' dates are not read here: phase_steps are given
PHASES_ALL = (EligibilityPhase(DAY0, 0),)  # one phase, for everyone
ACCEPT_ALL = [1.0] * 10


def agents(ages: list[int], regions: list[int], ids: list[int] | None = None) -> AgentTable:
    n = len(ages)
    columns = {"age": torch.tensor(ages, dtype=torch.uint8), "region": torch.tensor(regions, dtype=torch.uint8),
               "stage": torch.full((n,), Stage.S, dtype=torch.uint8)}
    if ids is not None:
        columns["id"] = torch.tensor(ids, dtype=torch.int32)
    return AgentTable(columns)


def run(vaccination: Vaccination, table: AgentTable, days: int, seed: int = 1) -> list[AgentTable]:
    """The agent table after each of `days` steps of vaccination alone."""
    world = World.of(table.with_columns(vaccination.initial_columns(table, seed=seed)), seed=seed)
    tables = []
    for _ in range(days):
        world = world.update(vaccination(world)).advance()
        tables.append(world.agents)
    return tables


def counts(table: AgentTable, column: str, n_regions: int = 2) -> list[int]:
    return torch.bincount(table.region.long()[table[column] >= 0], minlength=n_regions).tolist()


def test_daily_totals_follow_the_targets_exactly_and_full_doses_go_to_the_earliest_first():
    first = [[0, 0], [5, 3], [12, 3], [12, 10], [20, 10]]  # cumulative agents per day, regions 0 and 1
    full = [[0, 0], [0, 0], [5, 1], [6, 3], [12, 10]]
    v = Vaccination(torch.tensor(first), torch.tensor(full), first_step=1, phases=PHASES_ALL, phase_steps=[0],
                    acceptance_by_age_band=ACCEPT_ALL)
    table = agents([40] * 60, [0] * 30 + [1] * 30)
    tables = run(v, table, 6)
    assert [counts(t, "dose1_day") for t in tables] == [[0, 0], [0, 0], [5, 3], [12, 3], [12, 10], [20, 10]]
    assert [counts(t, "full_day") for t in tables] == [[0, 0], [0, 0], [0, 0], [5, 1], [6, 3], [12, 10]]
    last = tables[-1]
    # the 5 fully vaccinated of region 0 on step 3 are exactly its 5 first doses of step 2
    assert last.full_day[(last.dose1_day == 2) & (last.region == 0)].tolist() == [3] * 5
    assert bool((last.full_day[last.full_day >= 0] >= last.dose1_day[last.full_day >= 0]).all())
    # past the table's last day its last targets hold: no more doses
    assert counts(run(v, table, 9)[-1], "dose1_day") == [20, 10]


def test_never_more_than_the_eligible_and_a_shortfall_is_made_up_when_more_become_eligible():
    phases = (EligibilityPhase(DAY0, 65), EligibilityPhase(DAY0, 16))
    v = Vaccination(torch.tensor([[10], [10], [10], [10]]), torch.zeros(4, 1, dtype=torch.long), first_step=0,
                    phases=phases, phase_steps=[0, 2], acceptance_by_age_band=ACCEPT_ALL)
    ages = [70, 80, 66] + [30] * 15 + [10] * 5  # 3 eligible from step 0, 15 more from step 2, 5 children never
    table = agents(ages, [0] * len(ages))
    tables = run(v, table, 4)
    assert [counts(t, "dose1_day", 1) for t in tables] == [[3], [3], [10], [10]]
    assert bool((tables[1].dose1_day[:3] == 0).all())
    assert bool((tables[-1].dose1_day[-5:] == -1).all())
    # symptomatic and dead agents are not vaccinated
    sick = table.with_columns({"stage": torch.tensor([Stage.I, Stage.D] + [Stage.S] * (len(ages) - 2),
                                                     dtype=torch.uint8)})
    assert counts(run(v, sick, 1)[0], "dose1_day", 1) == [1]


def test_priority_follows_eligibility_phases_and_acceptance():
    # one dose a day, all three phases open from step 0: 75+ first, then 65-74, then 30-64; with acceptance 0 in the
    # 75up band its agents come after every accepting agent, of every phase
    phases = (EligibilityPhase(DAY0, 75), EligibilityPhase(DAY0, 65), EligibilityPhase(DAY0, 30))
    ages = [80, 90, 77, 70, 68, 66, 40, 35, 50, 31, 45, 33]
    targets = torch.arange(1, len(ages) + 1)[:, None]
    phase_of = torch.tensor([0 if a >= 75 else 1 if a >= 65 else 2 for a in ages])
    for acceptance, groups in ((ACCEPT_ALL, (0, 1, 2)), ([1.0] * 9 + [0.0], (1, 2, 0))):
        v = Vaccination(targets, torch.zeros_like(targets), first_step=0, phases=phases, phase_steps=[0, 0, 0],
                        acceptance_by_age_band=acceptance)
        dose = run(v, agents(ages, [0] * len(ages)), len(ages))[-1].dose1_day.long()
        assert sorted(dose.tolist()) == list(range(len(ages)))  # one a day, everyone by the end
        for earlier, later in itertools.pairwise(groups):
            assert int(dose[phase_of == earlier].max()) < int(dose[phase_of == later].min())


def test_the_choice_depends_on_agent_ids_not_on_row_order():
    v = Vaccination(torch.tensor([[0, 0], [7, 4], [13, 9]]), torch.tensor([[0, 0], [2, 1], [6, 4]]), first_step=0,
                    phases=(EligibilityPhase(DAY0, 65), EligibilityPhase(DAY0, 18)), phase_steps=[0, 1],
                    acceptance_by_age_band=[0.7] * 10)
    ages = [20 + (7 * i) % 70 for i in range(40)]
    regions = [i % 2 for i in range(40)]
    table = agents(ages, regions, ids=list(range(40)))
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    shuffled = AgentTable({k: table[k][perm] for k in table.columns})
    a, b = run(v, table, 3, seed=5)[-1], run(v, shuffled, 3, seed=5)[-1]
    for column in ("dose1_day", "full_day"):
        assert torch.equal(a[column][perm], b[column])
    assert not torch.equal(a.dose1_day, run(v, table, 3, seed=6)[-1].dose1_day)  # another seed, other agents


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"first_dose_targets": torch.tensor([[2], [1]])}, "never fall"),
    ({"full_targets": torch.tensor([[3], [3]])}, "full_targets <= first_dose_targets"),
    ({"phase_steps": [0, 1]}, "one step per phase"),
    ({"acceptance_by_age_band": [1.5] * 10}, "acceptance_by_age_band needs 10 probabilities"),
    ({"phases": (EligibilityPhase(DAY0, 16, "health"),)}, r"industries \['health'\] without a code"),
])
def test_bad_vaccination_arguments_raise(kwargs, match):
    args = {"first_dose_targets": torch.tensor([[1], [2]]), "full_targets": torch.tensor([[0], [1]]),
            "first_step": 0, "phases": PHASES_ALL, "phase_steps": [0], "acceptance_by_age_band": ACCEPT_ALL, **kwargs}
    with pytest.raises(ValueError, match=match):
        Vaccination(args.pop("first_dose_targets"), args.pop("full_targets"), **args)


def protection(step: int, dose1: int = 0, full: int = 21, strain: Strain = Strain.ANCESTRAL) -> float:
    ve = VaccineEffectiveness()
    return float(ve.against_infection(torch.tensor([dose1]), torch.tensor([full]), step, torch.tensor([strain])))


def test_protection_against_infection_rises_after_each_dose_then_wanes_as_published():
    # dose 1 on day 0, series complete on day 21; protection from 14 days after each (Thompson 2021)
    assert protection(13) == 0
    assert protection(14) == pytest.approx(0.81)
    assert protection(34) == pytest.approx(0.81)  # 13 days after the second dose: still the one-dose value
    assert protection(35) == pytest.approx(0.88)  # Tartof 2021, month 1
    assert protection(21 + 14 + 15) == pytest.approx(0.88)  # the plateau: day 15 of full protection
    assert protection(21 + 14 + 165) == pytest.approx(0.47)  # Tartof 2021, after 5 months (day 165)
    assert protection(21 + 14 + 90) == pytest.approx(0.88 * (47 / 88) ** (75 / 150))
    assert protection(100, full=-1) == pytest.approx(0.81)  # one dose only, no waning modelled
    assert protection(100, dose1=-1, full=-1) == 0


def test_delta_escapes_part_of_the_protection():
    # Lopez Bernal 2021: vs Delta / vs Alpha, 30.7 / 48.7 after one dose, 88.0 / 93.7 after two
    assert protection(20, full=-1, strain=Strain.DELTA) == pytest.approx(0.81 * 30.7 / 48.7)
    assert protection(40, strain=Strain.DELTA) == pytest.approx(0.88 * 88.0 / 93.7)
    assert protection(40, strain=Strain.ALPHA) == pytest.approx(0.88)


def test_protection_against_death_given_infection():
    ve = VaccineEffectiveness()
    one = torch.tensor([0])
    # fully protected: (1 - 0.90) / (1 - v), so that overall 1 - (1 - v) r = 0.90 (Tartof 2021, hospitalisation)
    r = ve.death_factor(one, torch.tensor([0]), 29, torch.tensor([0]))  # the last day of the plateau: v = 0.88
    assert float(r) == pytest.approx(0.10 / 0.12)
    r = ve.death_factor(one, torch.tensor([0]), 14 + 165, torch.tensor([0]))
    assert float(r) == pytest.approx(0.10 / 0.53)
    assert float(ve.death_factor(one, torch.tensor([-1]), 40, torch.tensor([0]))) == 1  # one dose: none
    low = dataclasses.replace(ve, severe=0.5)  # v > v_severe: no negative protection, the factor stays 1
    assert float(low.death_factor(one, torch.tensor([0]), 29, torch.tensor([0]))) == 1


@pytest.mark.parametrize(("kwargs", "match"), [({"partial": 1.0}, r"partial must be in \[0, 1\)"),
                                               ({"delay_days": -1}, "delay_days must be an int >= 0"),
                                               ({"waning_per_day": math.nan}, "waning_per_day"),
                                               ({"escape_by_strain": ((1.0, 1.0),)}, "escape_by_strain needs 4")])
def test_bad_effectiveness_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VaccineEffectiveness(**kwargs)


def test_nyc_vaccination_needs_a_run_that_starts_by_the_first_doses():
    """A later start would give every earlier dose on day 0; the run is refused, or runs without vaccination."""
    from populace.core.errors import InputError
    from populace.models.covid_nyc.model import nyc_2021_parts
    from populace.population.nyc import build_nyc

    city = build_nyc(scale=0.0002, seed=1)
    with pytest.raises(InputError, match="start by then, or leave vaccination out"):
        nyc_2021_parts(city, dt.date(2021, 1, 5))
    assert nyc_2021_parts(city, dt.date(2021, 1, 5), vaccination=False)["vaccination"] is None
    assert nyc_2021_parts(city, dt.date(2020, 3, 1), days=120) == {"vaccination": None, "variants": None}
