"""CovidNYC: conservation, identical modes, the PAUSE order against no orders (infections, unemployment), gradients."""

import datetime as dt

import pytest
import torch
from covid_fixtures import layered_population

from populace.models import CovidNYC
from populace.models.covid_nyc import NYC_START_DATE, STAGE_OBSERVABLES, CovidParams
from populace.models.covid_nyc.behaviour import Behaviour
from populace.models.covid_nyc.decisions import HeuristicDecisions
from populace.models.covid_nyc.observe import ONSET_OBSERVABLES
from populace.models.covid_nyc.policy import PolicySchedule
from populace.population.synthetic import synthetic_population

DAYS = 40  # 2020-03-01 to 2020-04-09: schools close on day 15 (03-16), PAUSE on day 21 (03-22)
PAUSE_DAY = 21
NO_ORDERS = PolicySchedule([])


def stage_counts(traj) -> torch.Tensor:
    """[T, 6] counts per stage, in Stage order."""
    return torch.stack([traj[name] for name in STAGE_OBSERVABLES.values()], dim=-1)


def unemployment_rate(traj) -> torch.Tensor:
    """Citywide unemployed / labour force per record, [T]."""
    return traj["unemployed"].sum(-1) / traj["labour_force"].sum(-1)


@pytest.fixture(scope="module")
def city():
    """3,000 synthetic agents with the layers the NYC orders name: household, school, work, community."""
    return layered_population(3000, seed=1)


@pytest.fixture(scope="module")
def params():
    return CovidParams(beta_by_week=(0.2,) * 7)


@pytest.fixture(scope="module")
def runs(city, params):
    model = CovidNYC.from_population(city, params, initial_infected=30)
    return model, model.run(DAYS, seed=2, progress=False), model.run(DAYS, seed=2, differentiable=True, progress=False)


def test_defaults_dates_and_labels(runs, city):
    model, fast, _ = runs
    assert model.start_date == NYC_START_DATE == dt.date(2020, 3, 1)
    assert isinstance(model.behaviour, Behaviour)
    assert isinstance(model.behaviour.decision_model, HeuristicDecisions)
    assert [o.name for o in model.policy.schedule.orders][1] == "New York State on PAUSE"
    assert fast.start_date == NYC_START_DATE
    assert model.initial_world(seed=0).date == NYC_START_DATE
    labels = city.manifest["codes"]["region"]
    for name in ("new_infections", "new_deaths", *ONSET_OBSERVABLES, "labour_force", "unemployed"):
        assert fast.labels[name] == labels, name
        assert fast[name].shape == (DAYS + 1, len(labels)), name
    assert "unemployed[region 0]" in fast.to_pandas().columns
    # a DecisionModel is wrapped in a Behaviour; an ISO start date is read
    other = CovidNYC.from_population(city, behaviour=HeuristicDecisions(p_at_work=0.5), start_date="2020-03-08")
    assert other.start_date == dt.date(2020, 3, 8)
    assert isinstance(other.behaviour, Behaviour)


def test_every_agent_is_in_exactly_one_stage_each_day_in_both_modes(runs):
    model, fast, diff = runs
    n = model.agents.n
    assert (stage_counts(fast).sum(-1) == n).all()
    assert (stage_counts(diff).detach().sum(-1) == n).all()
    final = diff.final_world.agents.stage.detach()  # one-hot [N, 6]
    assert ((final == 0) | (final == 1)).all()
    assert (final.sum(-1) == 1).all()
    assert float(fast["new_infections"].sum()) > 100  # an outbreak happened, so the checks mean something
    counts = stage_counts(fast)
    assert torch.equal(fast["new_infections"][1:].sum(-1), counts[:-1, 0] - counts[1:, 0])
    labour_force = fast["labour_force"]
    assert torch.equal(labour_force, labour_force[:1].expand_as(labour_force))  # the labour force is fixed
    assert bool((fast["unemployed"] <= labour_force).all())


def test_fast_and_differentiable_modes_give_identical_trajectories(runs):
    _, fast, diff = runs
    for name in fast.names:
        assert torch.equal(fast[name], diff[name].detach()), name
    f, d = fast.final_world.agents, diff.final_world.agents
    for column in ("infection_day", "onset_day", "end_day", "lost_job_day", "is_asymptomatic", "is_fatal"):
        assert torch.equal(f[column], d[column]), column
    for column in ("is_employed", "is_isolating", "goes_to_work", "contact_factor_work", "contact_factor_community"):
        assert torch.equal(f[column].float(), d[column].detach().float()), column


def test_pause_lowers_infections_and_raises_unemployment_against_no_orders(city, params):
    # Same seeds, common random numbers: before the first order (03-16, day 15) both runs are identical; after
    # it the orders close schools, scale down work and community contacts and send teleworkers home, so fewer
    # infections; PAUSE's lockdown raises job loss. Measured (seeds 0-2): infections 1,886 with the orders
    # against 3,151 without; unemployment on day 40 13-16% against 5%, from 5.7% on day 0.
    paused = CovidNYC.from_population(city, params, initial_infected=30)
    unpaused = CovidNYC.from_population(city, params, initial_infected=30, schedule=NO_ORDERS)
    infections = {"orders": 0.0, "none": 0.0}
    for seed in range(3):
        with_orders = paused.run(DAYS, seed=seed, progress=False)
        without = unpaused.run(DAYS, seed=seed, progress=False)
        for name in with_orders.names:  # records 0..15: the state after days 0..14, before any order
            assert torch.equal(with_orders[name][:16], without[name][:16]), name
        infections["orders"] += float(with_orders["new_infections"].sum())
        infections["none"] += float(without["new_infections"].sum())
        rate, rate_without = unemployment_rate(with_orders), unemployment_rate(without)
        # the labour step of 03-22 (day 21) is the first under the lockdown: record 22 holds its outcome
        assert torch.equal(rate[:PAUSE_DAY + 1], rate_without[:PAUSE_DAY + 1])
        assert float(rate[-1]) > float(rate[PAUSE_DAY]) + 0.03
        assert float(rate[-1]) > float(rate_without[-1]) + 0.03
    assert infections["orders"] < 0.8 * infections["none"]


def test_gradients_of_infections_reach_every_weekly_beta_and_are_finite(city, params):
    # 35 days: weeks 0-4; week 5 and 6 come after the run, so their entries get exactly 0.
    model = CovidNYC.from_population(city, params, initial_infected=30)
    total = model.run(35, seed=3, differentiable=True, progress=False)["new_infections"][1:].sum()
    total.backward()
    grad = model.transmission.parametrizations.beta_by_week.original.grad
    assert torch.isfinite(grad).all()
    assert bool((grad[:5] > 0).all()), grad
    assert grad[5:].abs().sum() == 0
    for name, parameter in model.named_parameters():
        assert parameter.grad is None or bool(torch.isfinite(parameter.grad).all()), name


def test_bad_inputs_raise(city):
    synthetic = synthetic_population(200, contacts_per_agent=5, seed=0)  # layers household and random only
    with pytest.raises(KeyError, match=r"the orders scale layer\(s\) \['school', 'community', 'work'\]"):
        CovidNYC.from_population(synthetic)
    with pytest.raises(KeyError, match="agents have no column 'industry'"):
        CovidNYC(city.agents.drop("industry"), city.layers)
    with pytest.raises(ValueError, match="start_date 'March 1' is not an ISO date"):
        CovidNYC.from_population(city, start_date="March 1")
    with pytest.raises(TypeError, match=r"start_date must be a datetime\.date"):
        CovidNYC.from_population(city, start_date=dt.datetime(2020, 3, 1))
    with pytest.raises(TypeError, match="decision_model must be a DecisionModel"):
        CovidNYC.from_population(city, behaviour=torch.nn.Linear(1, 1))
