"""Labour substep: job-loss and re-hiring draws against their closed forms, directions, the labour force, bad input."""

import math

import pytest
import torch

from populace.core import AgentTable, World
from populace.models.covid_nyc.labour import (
    EXPOSURE_BY_INDUSTRY,
    UNEMPLOYMENT_PERCENT_FEB_2020,
    Labour,
    labour_columns,
    labour_counts_by_region,
    unemployment_rate_by_region,
)
from populace.population.nyc import INDUSTRIES

N = 20_000
ARTS_FOOD, FINANCE = INDUSTRIES.index("arts_food"), INDUSTRIES.index("finance_real_estate")


def labour_world(*, employed: bool = True, industry: int | torch.Tensor = 0, step: int = 0,
                 differentiable: bool = False, goes_to_work: torch.Tensor | None = None, **env: float) -> World:
    """N agents in the labour force, all employed (or all unemployed), in one region."""
    industry = torch.as_tensor(industry, dtype=torch.uint8).expand(N).clone()
    is_employed = torch.full((N,), employed)
    columns = {"region": torch.zeros(N, dtype=torch.uint8), "in_labour_force": torch.ones(N, dtype=torch.bool),
               "is_employed": is_employed.float() if differentiable else is_employed, "job_industry": industry,
               "lost_job_day": torch.full((N,), -1, dtype=torch.int16)}
    if goes_to_work is not None:
        columns["goes_to_work"] = goes_to_work
    return World.of(AgentTable(columns), seed=5, step=step, differentiable=differentiable).with_env(**env)


def one_hot_exposure(industry: int = 0) -> list[float]:
    exposure = [0.0] * len(INDUSTRIES)
    exposure[industry] = 1.0
    return exposure


def run_weeks(labour: Labour, world: World, weeks: int) -> World:
    for _ in range(weeks):
        world = world.update(labour(world)).advance(7)
    return world


@pytest.mark.parametrize("differentiable", [False, True])
def test_survival_in_the_first_job_matches_the_closed_form(differentiable):
    # Weekly hazard h = 1 - exp(-lambda), lambda = e * lambda_0 = 0.05: the share never laid off after w = 4 weeks
    # is (1 - h)^w = exp(-0.2), whatever the re-hiring (lost_job_day keeps the last loss). 4 standard errors.
    labour = Labour(job_loss_per_week=0.05, rehire_per_week=0.3, exposure_by_industry=one_hot_exposure())
    with torch.no_grad():
        world = run_weeks(labour, labour_world(differentiable=differentiable), 4)
    survival = math.exp(-4 * 0.05)
    se = math.sqrt(survival * (1 - survival) / N)
    assert float((world.agents.lost_job_day == -1).float().mean()) == pytest.approx(survival, abs=4 * se)
    assert set(world.agents.lost_job_day.unique().tolist()) <= {-1, 0, 7, 14, 21}


def test_fast_and_differentiable_modes_draw_the_same_jobs():
    labour = Labour(job_loss_per_week=0.1, rehire_per_week=0.3)
    industry = torch.arange(N) % len(INDUSTRIES)
    fast = run_weeks(labour, labour_world(industry=industry, lockdown=0.5), 3).agents
    with torch.no_grad():
        smooth = run_weeks(labour, labour_world(industry=industry, lockdown=0.5, differentiable=True), 3).agents
    assert torch.equal(fast.is_employed, smooth.is_employed.bool())
    assert torch.equal(fast.lost_job_day, smooth.lost_job_day)
    assert 0 < int(fast.is_employed.sum()) < N


def test_more_exposed_industries_lose_more_jobs():
    industry = torch.where(torch.arange(N) % 2 == 0, ARTS_FOOD, FINANCE)
    out = Labour(job_loss_per_week=0.2)(labour_world(industry=industry, lockdown=1.0))
    lost = (out["lost_job_day"] == 0).float()
    arts, finance = float(lost[0::2].mean()), float(lost[1::2].mean())
    # lambda = e * (0.2 + 0.03): arts_food e = 0.912, finance e = 0.426 (EXPOSURE_BY_INDUSTRY)
    for share, e in ((arts, EXPOSURE_BY_INDUSTRY[ARTS_FOOD]), (finance, EXPOSURE_BY_INDUSTRY[FINANCE])):
        p = -math.expm1(-e * 0.23)
        assert share == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / (N / 2)))
    assert arts > finance


def test_lockdown_and_staying_home_raise_job_loss():
    labour = Labour(job_loss_per_week=0.01, lockdown_job_loss_per_week=0.1, stay_home_job_loss_factor=2.0,
                    exposure_by_industry=one_hot_exposure())
    # Same uniforms in every case (coupled draws), so a higher hazard loses a superset of jobs.
    open_ = labour(labour_world())["lost_job_day"] == 0
    locked = labour(labour_world(lockdown=1.0))["lost_job_day"] == 0
    home = labour(labour_world(lockdown=1.0, goes_to_work=torch.zeros(N)))["lost_job_day"] == 0
    assert bool((open_ <= locked).all())
    assert bool((locked <= home).all())
    assert int(open_.sum()) < int(locked.sum()) < int(home.sum())
    for lost, rate in ((open_, 0.01), (locked, 0.11), (home, 0.33)):  # lambda = (0.01 + 0.1 L) (1 + 2 (1 - g))
        p = -math.expm1(-rate)
        assert float(lost.float().mean()) == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / N))


def test_no_job_loss_with_zero_hazard():
    labour = Labour(exposure_by_industry=[0.0] * len(INDUSTRIES))
    out = labour(labour_world(industry=torch.arange(N) % len(INDUSTRIES), lockdown=1.0, goes_to_work=torch.zeros(N)))
    assert bool(out["is_employed"].all())
    assert bool((out["lost_job_day"] == -1).all())


@pytest.mark.parametrize(("lockdown", "rate"), [(0.0, 0.1), (1.0, 0.05)])
def test_rehiring_restores_employment_at_the_configured_rate(lockdown, rate):
    # rho = rho_0 (1 - q L): 0.1 open, 0.1 * (1 - 0.5) under full lockdown; P(hired this week) = 1 - exp(-rho).
    labour = Labour(rehire_per_week=0.1, lockdown_rehire_reduction=0.5)
    out = labour(labour_world(employed=False, lockdown=lockdown))
    p = -math.expm1(-rate)
    assert float(out["is_employed"].float().mean()) == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / N))
    assert bool((out["lost_job_day"] == -1).all())


def test_labour_acts_once_a_week():
    labour = Labour(day_of_week=2)
    assert labour(labour_world(step=3)) == {}
    assert set(labour(labour_world(step=9))) == {"is_employed", "lost_job_day"}


def test_gradient_of_employment_is_the_straight_through_closed_form():
    # One week, linear loss L = sum_i employed_i: dL/dlog lambda_0 = -sum_i lambda_i exp(-lambda_i) (identity
    # straight-through gradient through p = 1 - exp(-lambda), lambda = e lambda_0).
    labour = Labour(job_loss_per_week=0.05)
    world = labour_world(industry=torch.arange(N) % len(INDUSTRIES), differentiable=True)
    labour(world)["is_employed"].sum().backward()
    lam = torch.tensor(EXPOSURE_BY_INDUSTRY)[torch.arange(N) % len(INDUSTRIES)] * 0.05
    expected = -(lam * torch.exp(-lam)).sum()
    assert float(labour.parametrizations.job_loss_per_week.original.grad) == pytest.approx(float(expected), rel=1e-4)


def test_unemployment_rate_per_region_on_a_hand_made_case():
    # Region 0: 4 in the labour force, 1 unemployed; region 1: 2, both unemployed; region 2: none.
    table = AgentTable({"region": torch.tensor([0, 0, 0, 0, 0, 1, 1, 1], dtype=torch.uint8),
                        "in_labour_force": torch.tensor([1, 1, 1, 1, 0, 1, 1, 0], dtype=torch.bool),
                        "is_employed": torch.tensor([1, 1, 1, 0, 0, 0, 0, 0], dtype=torch.bool)})
    force, unemployed = labour_counts_by_region(table, 3)
    assert force.tolist() == [4, 2, 0]
    assert unemployed.tolist() == [1, 2, 0]
    rate = unemployment_rate_by_region(table, 3)
    assert rate[:2].tolist() == [0.25, 1.0]
    assert math.isnan(float(rate[2]))
    smooth = table.with_columns(is_employed=table.is_employed.float())
    assert torch.equal(unemployment_rate_by_region(smooth, 3)[:2], rate[:2])


def synthetic_agents(n: int = 10_000) -> AgentTable:
    ids = torch.arange(n)
    age = (ids * 7919 % 90).to(torch.uint8)
    region = (ids % 3).to(torch.uint8)
    is_employed = (age >= 20) & (age <= 60) & (ids % 4 != 0)
    industry = torch.where(is_employed, ids * 31 % len(INDUSTRIES), 255).to(torch.uint8)
    return AgentTable({"age": age, "region": region, "is_employed": is_employed, "industry": industry})


def test_labour_force_adds_the_unemployed_at_the_configured_rate():
    agents = synthetic_agents()
    columns = labour_columns(agents, seed=2, unemployment_percent_by_region=[10.0, 5.0, 0.0])
    table = agents.with_columns(columns)
    region = agents.region.long()
    for r, percent in enumerate([10.0, 5.0, 0.0]):
        n_employed = int((agents.is_employed & (region == r)).sum())
        expected = round(n_employed * percent / (100 - percent))
        newcomers = columns["in_labour_force"] & ~agents.is_employed & (region == r)
        assert int(newcomers.sum()) == expected
        assert bool(((agents.age[newcomers] >= 16) & (agents.age[newcomers] <= 64)).all())
    assert unemployment_rate_by_region(table, 3)[0] == pytest.approx(0.10, abs=1e-3)
    assert bool((columns["job_industry"][columns["in_labour_force"]] < len(INDUSTRIES)).all())
    assert bool((columns["job_industry"][~columns["in_labour_force"]] == 255).all())
    assert torch.equal(columns["job_industry"][agents.is_employed], agents.industry[agents.is_employed])
    smooth = labour_columns(agents, seed=2, differentiable=True, unemployment_percent_by_region=[10.0, 5.0, 0.0])
    assert smooth["is_employed"].dtype == torch.float32
    assert torch.equal(smooth["in_labour_force"], columns["in_labour_force"])


@pytest.mark.needs_data
def test_february_2020_rates_match_the_nysdol_tables():
    from populace.data import BOROUGHS, nysdol_unemployment

    table = nysdol_unemployment()
    feb = table[table["month"] == "2020-02-01"].set_index("borough")["unemployment_rate"]
    assert [float(feb[b]) for b in BOROUGHS] == pytest.approx(list(UNEMPLOYMENT_PERCENT_FEB_2020), abs=1e-4)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"job_loss_per_week": 0.0}, "job_loss_per_week must be a finite number > 0"),
    ({"rehire_per_week": -1.0}, "rehire_per_week must be a finite number > 0"),
    ({"lockdown_rehire_reduction": 1.0}, "lockdown_rehire_reduction must be in"),
    ({"exposure_by_industry": [1.0] * 5}, "exposure_by_industry needs 13"),
    ({"day_of_week": 7}, "day_of_week must be an int in 0..6"),
])
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Labour(**kwargs)


def test_bad_worlds_raise():
    with pytest.raises(ValueError, match=r"world.env\['lockdown'\] must be a number in \[0, 1\]"):
        Labour()(labour_world(lockdown=1.5))
    bare = World.of(AgentTable({"region": torch.zeros(3, dtype=torch.uint8)}))
    with pytest.raises(KeyError, match="add the labour columns"):
        Labour()(bare)
    with pytest.raises(ValueError, match=r"region 0 needs .* unemployed agents"):
        labour_columns(synthetic_agents(100), seed=0, unemployment_percent_by_region=[90.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="one percentage in"):
        labour_columns(synthetic_agents(100), seed=0, unemployment_percent_by_region=[100.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="region codes go up to 2"):
        labour_columns(synthetic_agents(100), seed=0, unemployment_percent_by_region=[5.0])
