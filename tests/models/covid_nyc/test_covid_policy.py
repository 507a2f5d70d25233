"""Policy orders: switching on their dates, the cumulative state, lockdown scaling work contacts, bad schedules."""

import datetime as dt
import math

import pytest
import torch

from populace.core import AgentTable, World
from populace.models.covid_nyc import CovidParams, Transmission, contact_scale_key
from populace.models.covid_nyc.policy import (
    LOCKDOWN_KEY,
    NYC_LAYERS,
    WORK_FROM_HOME_KEY,
    Order,
    Policy,
    PolicySchedule,
    nyc_2020_2021_schedule,
    nyc_2020_schedule,
)
from populace.network import ContactGraph, ContactLayer
from populace.population.synthetic import synthetic_population

START = dt.date(2020, 3, 1)


def world_on(date: dt.date, n: int = 4) -> World:
    return World.of(AgentTable({"age": torch.full((n,), 30, dtype=torch.uint8)}), start_date=START,
                    step=(date - START).days)


def env_on(policy: Policy, date: dt.date) -> dict[str, float]:
    return {key: float(value) for key, value in policy(world_on(date)).items()}


# (date, school, work, community, work from home, lockdown): the documented NYC defaults
NYC_STATES = [
    ("2020-03-15", 1.0, 1.0, 1.0, 0.0, 0.0),
    ("2020-03-16", 0.0, 1.0, 0.75, 0.3, 0.3),
    ("2020-03-21", 0.0, 1.0, 0.75, 0.3, 0.3),
    ("2020-03-22", 0.0, 0.3, 0.4, 1.0, 1.0),
    ("2020-06-07", 0.0, 0.3, 0.4, 1.0, 1.0),
    ("2020-06-08", 0.0, 0.45, 0.45, 1.0, 0.8),
    ("2020-06-22", 0.0, 0.6, 0.55, 0.8, 0.6),
    ("2020-07-06", 0.0, 0.65, 0.6, 0.7, 0.5),
    ("2020-07-19", 0.0, 0.65, 0.6, 0.7, 0.5),
    ("2020-07-20", 0.0, 0.7, 0.65, 0.6, 0.4),
    ("2021-01-01", 0.0, 0.7, 0.65, 0.6, 0.4),
]


@pytest.mark.parametrize(("date", "school", "work", "community", "wfh", "lockdown"), NYC_STATES)
def test_nyc_orders_switch_on_their_dates(date, school, work, community, wfh, lockdown):
    env = env_on(Policy(nyc_2020_schedule()), dt.date.fromisoformat(date))
    expected = {contact_scale_key("household"): 1.0, contact_scale_key("school"): school,
                contact_scale_key("work"): work, contact_scale_key("community"): community,
                WORK_FROM_HOME_KEY: wfh, LOCKDOWN_KEY: lockdown}
    assert env == pytest.approx(expected)


# (date, school, work, community, work from home, lockdown, orders in force): the documented 2020-2021 values
NYC_2021_STATES = [
    ("2020-09-28", 0.0, 0.7, 0.65, 0.6, 0.4, 6),      # phase 4, as in nyc_2020_schedule
    ("2020-09-29", 0.25, 0.7, 0.65, 0.6, 0.4, 7),     # school buildings reopen
    ("2020-09-30", 0.25, 0.7, 0.7, 0.6, 0.35, 8),     # indoor dining 25%
    ("2020-11-18", 0.25, 0.7, 0.66, 0.6, 0.4, 9),     # after the 10 p.m. curfew of 11-13
    ("2020-11-19", 0.0, 0.7, 0.66, 0.6, 0.4, 10),     # school buildings close
    ("2020-12-13", 0.12, 0.7, 0.66, 0.6, 0.4, 11),    # elementary schools back since 12-07
    ("2020-12-14", 0.12, 0.7, 0.6, 0.6, 0.45, 12),    # indoor dining closed again
    ("2021-02-11", 0.12, 0.7, 0.6, 0.6, 0.45, 12),
    ("2021-02-12", 0.12, 0.7, 0.64, 0.6, 0.4, 13),    # indoor dining 25%
    ("2021-02-26", 0.18, 0.7, 0.67, 0.6, 0.4, 16),    # middle schools since 02-25; dining 35%
    ("2021-03-19", 0.18, 0.7, 0.7, 0.6, 0.35, 17),    # dining 50%
    ("2021-03-22", 0.25, 0.7, 0.7, 0.6, 0.35, 18),    # high schools
    ("2021-05-14", 0.25, 0.7, 0.71, 0.6, 0.35, 19),   # curfew midnight since 04-19
    ("2021-05-15", 0.25, 0.75, 0.71, 0.5, 0.3, 20),   # offices 75%
    ("2021-05-19", 0.25, 0.8, 0.8, 0.4, 0.2, 22),     # most capacity limits end
    ("2021-06-14", 0.25, 0.8, 0.81, 0.4, 0.2, 23),
    ("2021-06-15", 0.25, 0.85, 0.85, 0.3, 0.1, 24),   # remaining restrictions lifted
    ("2021-06-30", 0.0, 0.85, 0.85, 0.3, 0.1, 25),    # summer break
]


@pytest.mark.parametrize(("date", "school", "work", "community", "wfh", "lockdown", "n_orders"), NYC_2021_STATES)
def test_nyc_2021_orders_switch_on_their_dates(date, school, work, community, wfh, lockdown, n_orders):
    day = dt.date.fromisoformat(date)
    env = env_on(Policy(nyc_2020_2021_schedule()), day)
    expected = {contact_scale_key("household"): 1.0, contact_scale_key("school"): school,
                contact_scale_key("work"): work, contact_scale_key("community"): community,
                WORK_FROM_HOME_KEY: wfh, LOCKDOWN_KEY: lockdown}
    assert env == pytest.approx(expected)
    assert len(nyc_2020_2021_schedule().state_on(day).orders) == n_orders


def test_the_2021_schedule_keeps_the_2020_orders_unchanged_in_effect():
    spring, longer = nyc_2020_schedule(), nyc_2020_2021_schedule()
    assert longer.orders[:len(spring)] == spring.orders
    day = dt.date(2020, 2, 1)
    while day < dt.date(2020, 9, 29):  # every day before the first autumn order: the same state
        assert longer.state_on(day) == spring.state_on(day), day
        day += dt.timedelta(days=1)
    assert longer.state_on(day) != spring.state_on(day)
    assert longer.orders[-1].start <= dt.date(2021, 6, 30)
    # indoor dining closed on 2020-12-14 and reopened on 2021-02-12, 25% -> 35% -> 50%: community up at each step
    steps = [longer.state_on(dt.date.fromisoformat(d)).contact_scale["community"]
             for d in ("2020-12-13", "2020-12-14", "2021-02-12", "2021-02-26", "2021-03-19")]
    assert steps[1] < steps[0]
    assert steps[1] < steps[2] < steps[3] < steps[4]


def test_pause_starts_on_march_22_not_the_day_before():
    schedule = nyc_2020_schedule()
    before, on = schedule.state_on(dt.date(2020, 3, 21)), schedule.state_on(dt.date(2020, 3, 22))
    assert before.orders == ("NYC public schools close",)
    assert on.orders == ("NYC public schools close", "New York State on PAUSE")
    assert (before.contact_scale["work"], on.contact_scale["work"]) == (1.0, 0.3)
    assert (before.work_from_home_fraction, on.work_from_home_fraction) == (0.3, 1.0)


def test_an_order_changes_only_what_it_names():
    schedule = PolicySchedule([Order("2020-03-01", "a", {"work": 0.5}, work_from_home_fraction=0.2),
                               Order(dt.date(2020, 3, 5), "b", {"school": 0.0}),
                               Order("2020-03-09", "c", {"work": 1.0}, lockdown=0.7)])
    states = [schedule.state_on(START + dt.timedelta(days=d)) for d in (0, 4, 8)]
    assert [s.contact_scale for s in states] == [
        {"household": 1.0, "school": 1.0, "work": 0.5, "community": 1.0},
        {"household": 1.0, "school": 0.0, "work": 0.5, "community": 1.0},
        {"household": 1.0, "school": 0.0, "work": 1.0, "community": 1.0}]
    assert [s.work_from_home_fraction for s in states] == [0.2, 0.2, 0.2]
    assert [s.lockdown for s in states] == [0.0, 0.0, 0.7]
    assert schedule.state_on(dt.date(2020, 2, 29)).contact_scale == dict.fromkeys(NYC_LAYERS, 1.0)


def test_policy_runs_in_a_model_step_and_moves_with_the_world():
    policy = Policy(nyc_2020_schedule(), layers=NYC_LAYERS)
    world = world_on(dt.date(2020, 3, 20))
    scales = []
    for _ in range(4):  # 03-20 .. 03-23
        world = world.with_env(**policy(world))
        scales.append(float(world.env[contact_scale_key("work")]))
        world = world.advance()
    assert scales == pytest.approx([1.0, 1.0, 0.3, 0.3])
    assert all(v.dtype == torch.float32 and v.dim() == 0 for v in world.env.values())


def work_population(n: int = 1500):
    people = synthetic_population(n, contacts_per_agent=8, seed=2)
    a = people.agents
    graph = ContactGraph(n, {"household": people.layers["household"],
                             "school": ContactLayer.from_groups(a.school_class, 0.4, name="school"),
                             "work": ContactLayer.from_groups(a.workplace, 0.5, name="work"),
                             "community": people.layers["random"]})
    return a, graph


def test_lockdown_scales_the_work_layer_pressure_by_the_configured_scale():
    # Transmission's contact pressure sum_l c_l A_l x, with c from the Policy: on 2020-03-22 the work layer's share
    # is exactly 0.3 of the day before's, the household layer's unchanged, the community layer's 0.4 / 0.75, the
    # school layer's 0 on both days (closed since 03-16).
    agents, graph = work_population()
    p = CovidParams()
    transmission = Transmission(graph, [0.1], susceptibility_by_age=p.susceptibility_by_age,
                                infectiousness_by_day=p.infectiousness_by_day(),
                                asymptomatic_relative_infectiousness=0.5)
    policy = Policy(nyc_2020_schedule(), layers=graph.names)
    x = torch.rand(agents.n, generator=torch.Generator().manual_seed(0))  # [N] infectiousness
    by_layer = {}
    for date in (dt.date(2020, 3, 21), dt.date(2020, 3, 22)):
        world = World.of(agents, start_date=START, step=(date - START).days)
        world = world.with_env(**policy(world))
        by_layer[date] = {name: transmission.contact_pressure(world.with_env(**{
            contact_scale_key(other): 0.0 for other in graph.names if other != name}), x) for name in graph.names}
        total = transmission.contact_pressure(world, x)
        torch.testing.assert_close(total, sum(by_layer[date].values()))
    before, after = by_layer[dt.date(2020, 3, 21)], by_layer[dt.date(2020, 3, 22)]
    assert float(before["work"].sum()) > 0
    assert float(after["work"].sum() / before["work"].sum()) == pytest.approx(0.3, rel=1e-6)
    torch.testing.assert_close(after["work"], 0.3 * before["work"])
    torch.testing.assert_close(after["household"], before["household"])
    torch.testing.assert_close(after["community"], (0.4 / 0.75) * before["community"])
    assert float(before["school"].abs().sum()) == float(after["school"].abs().sum()) == 0


# ---- bad schedules and inputs ---------------------------------------------------------------------------------

BAD_ORDERS = [
    (lambda: Order("2020-03-22", "x", {"work": 1.5}), ValueError, "contact scale of layer 'work' must be a number in"),
    (lambda: Order("2020-03-22", "x", {"work": -0.1}), ValueError, r"in \[0, 1\]"),
    (lambda: Order("2020-03-22", "x", {"work": math.nan}), ValueError, "contact scale of layer 'work'"),
    (lambda: Order("2020-03-22", "x", work_from_home_fraction=2.0), ValueError, "work_from_home_fraction must be"),
    (lambda: Order("2020-03-22", "x", lockdown=-1.0), ValueError, "lockdown must be a number in"),
    (lambda: Order("22/03/2020", "x"), ValueError, "is not an ISO date"),
    (lambda: Order(dt.datetime(2020, 3, 22, 20), "x"), TypeError, r"start must be a datetime\.date"),
    (lambda: Order(20200322, "x"), TypeError, r"start must be a datetime\.date"),
]


@pytest.mark.parametrize(("make", "error", "match"), BAD_ORDERS)
def test_bad_orders_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_order_dates_must_increase():
    a, b = Order("2020-03-22", "PAUSE", {"work": 0.3}), Order("2020-03-16", "schools", {"school": 0.0})
    with pytest.raises(ValueError, match=r"order dates must increase: 'schools' \(2020-03-16\) follows 'PAUSE'"):
        PolicySchedule([a, b])
    with pytest.raises(ValueError, match="merge orders of the same day"):
        PolicySchedule([a, Order("2020-03-22", "again", {"community": 0.5})])


def test_unknown_layers_are_refused_with_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown layer\(s\) \['offices'\]; the known layers are: household, school, "
                                       "work, community"):
        PolicySchedule([Order("2020-03-22", "x", {"offices": 0.3})])
    with pytest.raises(KeyError, match=r"the orders scale layer\(s\) \['school', 'community'\] that the model does "):
        Policy(nyc_2020_schedule(), layers=("household", "work", "random"))
    custom = PolicySchedule([Order("2020-03-22", "x", {"random": 0.3})], layers=("household", "random"))
    assert custom.state_on(dt.date(2020, 3, 22)).contact_scale == {"household": 1.0, "random": 0.3}


def test_other_bad_inputs_are_refused():
    with pytest.raises(TypeError, match="orders must be Order objects"):
        PolicySchedule([("2020-03-22", "x")])
    with pytest.raises(ValueError, match="layers must name each contact layer once"):
        PolicySchedule([], layers=("work", "work"))
    with pytest.raises(TypeError, match="schedule must be a PolicySchedule"):
        Policy([Order("2020-03-22", "x")])
    with pytest.raises(TypeError, match=r"date must be a datetime\.date"):
        nyc_2020_schedule().state_on("2020-03-22")
    no_date = World.of(AgentTable({"age": torch.zeros(3, dtype=torch.uint8)}), step=21)
    with pytest.raises(ValueError, match="Policy needs the calendar date: the world has no start_date"):
        Policy(nyc_2020_schedule())(no_date)
