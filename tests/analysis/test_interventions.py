"""Policies as model changes: order schedules edited from a date, isolation compliance, the job-loss stimulus."""

import datetime as dt

import pytest
import torch

from populace.core.world import World
from populace.models import CovidNYC
from populace.models.covid_nyc.analysis.interventions import (
    IsolationCompliance,
    StimulusLabour,
    branch_date,
    move_lockdown,
    override_from,
    policy_model,
)
from populace.models.covid_nyc.analysis.scenario import LockdownChange, Policy
from populace.models.covid_nyc.decisions import GO_TO_WORK, ISOLATE, HeuristicDecisions
from populace.models.covid_nyc.labour import Labour
from populace.models.covid_nyc.policy import nyc_2020_schedule
from populace.population.synthetic import layered_synthetic_population

START, LAST = dt.date(2020, 3, 1), dt.date(2020, 8, 31)
PAUSE = dt.date(2020, 3, 22)


def state(schedule, date):
    s = schedule.state_on(date)
    return s.contact_scale, s.work_from_home_fraction, s.lockdown


def test_an_earlier_lockdown_takes_the_pause_state_at_once_and_keeps_the_reopenings():
    nyc = nyc_2020_schedule()
    earlier = move_lockdown(nyc, LockdownChange(shift_days=-10))  # 2020-03-12, before schools close (03-16)
    assert state(earlier, dt.date(2020, 3, 11)) == state(nyc, dt.date(2020, 3, 11))
    for day in (dt.date(2020, 3, 12), dt.date(2020, 3, 16), PAUSE):  # never relaxed before the old date
        assert state(earlier, day) == state(nyc, PAUSE)
    assert state(earlier, dt.date(2020, 7, 1)) == state(nyc, dt.date(2020, 7, 1))
    assert next(o.name for o in earlier.orders) == "New York State on PAUSE (from 2020-03-12)"


def test_a_later_lockdown_and_no_lockdown():
    nyc = nyc_2020_schedule()
    later = move_lockdown(nyc, LockdownChange(date=dt.date(2020, 4, 5)))
    assert state(later, dt.date(2020, 4, 4)) == state(nyc, dt.date(2020, 3, 21))  # schools closed, no PAUSE yet
    assert state(later, dt.date(2020, 4, 5)) == state(nyc, PAUSE)
    with pytest.raises(ValueError, match="on or after the next order 'NY Forward phase 1'"):
        move_lockdown(nyc, LockdownChange(date=dt.date(2020, 6, 8)))
    never = move_lockdown(nyc, LockdownChange(never=True))
    assert [o.name for o in never.orders] == ["NYC public schools close"]
    assert state(never, LAST) == state(nyc, dt.date(2020, 3, 21))
    with pytest.raises(KeyError, match="no order is called 'curfew'"):
        move_lockdown(nyc, LockdownChange(never=True, order="curfew"))


def test_an_override_holds_whatever_later_orders_say():
    nyc = nyc_2020_schedule()
    schools = override_from(nyc, dt.date(2020, 3, 1), "schools open", contact_scale={"school": 1.0},
                            work_from_home_fraction=0.2)
    for day in (dt.date(2020, 3, 1), dt.date(2020, 3, 16), PAUSE, LAST):
        scale, w, lockdown = state(schools, day)
        assert scale["school"] == 1.0
        assert w == 0.2
        assert scale["work"] == nyc.state_on(day).contact_scale["work"]  # the rest as before
        assert lockdown == nyc.state_on(day).lockdown
    same_day = override_from(nyc, PAUSE, "schools open", contact_scale={"school": 1.0})  # merged with PAUSE
    assert state(same_day, PAUSE)[0] == {**nyc.state_on(PAUSE).contact_scale, "school": 1.0}
    with pytest.raises(KeyError, match=r"no contact layer\(s\) \['schol'\]"):
        override_from(nyc, PAUSE, "typo", contact_scale={"schol": 0.0})


@pytest.fixture(scope="module")
def world():
    people = layered_synthetic_population(400, seed=2)
    model = CovidNYC.from_population(people)
    return model.initial_world(seed=1)


def test_isolation_compliance_scales_isolation_from_its_date_only(world):
    base = HeuristicDecisions(p_isolate_baseline=0.3)
    n = world.agents.n
    situation = {"is_symptomatic": (torch.arange(n) % 2).float(), "incidence_per_100k": torch.full((n,), 50.0),
                 "case_growth": torch.zeros(n)}
    wrapped = IsolationCompliance(base, 2.5, dt.date(2020, 3, 10))
    p = base.probabilities(ISOLATE, world, situation)[:, 0].detach()  # P(yes)
    assert torch.equal(wrapped.probabilities(ISOLATE, world, situation)[:, 0].detach(), p)  # 2020-03-01: before
    later = World(tables=world.tables, step=9, start_date=world.start_date)  # 2020-03-10
    assert torch.allclose(wrapped.probabilities(ISOLATE, later, situation)[:, 0].detach(), (2.5 * p).clamp(max=1))
    assert float(p.max()) * 2.5 > 1 > float(p.min()) * 2.5  # both sides of the clamp are exercised
    work = {"work_from_home_fraction": torch.full((n,), 0.5), "is_isolating": torch.zeros(n, dtype=torch.bool)}
    assert torch.equal(wrapped.probabilities(GO_TO_WORK, later, work), base.probabilities(GO_TO_WORK, later, work))
    with pytest.raises(ValueError, match="must be a number >= 0"):
        IsolationCompliance(base, -1.0, dt.date(2020, 3, 10))


def test_the_stimulus_scales_job_loss_rates_from_its_date_only(world):
    labour = Labour(job_loss_per_week=0.01, lockdown_job_loss_per_week=0.05)
    stimulus = StimulusLabour(labour, 0.25, dt.date(2020, 3, 22))
    locked = world.with_env(lockdown=torch.tensor(1.0))
    before_lam, before_rho = labour.rates_per_week(locked)
    lam, rho = stimulus.rates_per_week(locked)
    assert torch.equal(lam, before_lam)
    after = World(tables=locked.tables, env=locked.env, step=21, start_date=locked.start_date)  # 2020-03-22
    lam, rho = stimulus.rates_per_week(after)
    assert torch.allclose(lam, 0.25 * labour.rates_per_week(after)[0])
    assert torch.equal(rho, before_rho)  # re-hiring unchanged
    with pytest.raises(ValueError, match=r"job_loss_factor must be in \[0, 1\]"):
        StimulusLabour(labour, 2.0, PAUSE)


def test_branch_dates_are_the_first_day_a_policy_can_differ():
    nyc = nyc_2020_schedule()
    cases = [
        (Policy(name="a", lockdown=LockdownChange(shift_days=-7)), dt.date(2020, 3, 15)),
        (Policy(name="b", lockdown=LockdownChange(shift_days=14)), PAUSE),
        (Policy(name="c", lockdown=LockdownChange(never=True)), PAUSE),
        (Policy(name="d", lockdown=LockdownChange(shift_days=0)), START),  # changes nothing: branch at the start
        (Policy(name="e", start=dt.date(2020, 4, 1), isolation_compliance=1.5), dt.date(2020, 4, 1)),
        (Policy(name="f", start=dt.date(2020, 3, 20), schools="closed"), START.replace(day=20)),
        (Policy(name="g", start=dt.date(2020, 4, 1), schools="closed"), dt.date(2020, 4, 1)),  # closed already:
    ]
    for policy, expected in cases[:-1]:
        assert branch_date(nyc, policy, START, LAST) == expected, policy.name
    policy, start = cases[-1]
    assert branch_date(nyc, policy, START, LAST) == start  # no order differs: its own date


def test_policy_model_swaps_only_what_the_policy_changes(world):
    people = layered_synthetic_population(400, seed=2)
    model = policy_model(CovidNYC.from_population(people), Policy(
        name="all", start=dt.date(2020, 4, 1), lockdown=LockdownChange(never=True), isolation_compliance=1.5,
        stimulus={"job_loss_factor": 0.5}))
    assert [o.name for o in model.policy.schedule.orders] == ["NYC public schools close"]
    assert isinstance(model.behaviour.decision_model, IsolationCompliance)
    assert isinstance(model.labour, StimulusLabour)
    untouched = policy_model(CovidNYC.from_population(people), Policy(name="w", start=dt.date(2020, 4, 1),
                                                                      work_from_home=0.9))
    assert isinstance(untouched.labour, Labour)
    assert not isinstance(untouched.labour, StimulusLabour)
    assert isinstance(untouched.behaviour.decision_model, HeuristicDecisions)
    assert untouched.policy.schedule.state_on(dt.date(2020, 8, 1)).work_from_home_fraction == 0.9
