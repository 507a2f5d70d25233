"""Welfare metrics, budget balance, the Saez formula on a Pareto population, and the gradient planner."""

import pytest
import torch

from populace.models.tax.income import ParetoIncome
from populace.models.tax.model import TaxPolicy
from populace.models.tax.planners import GradientPlanner, SaezPlanner, pareto_parameter, saez_rate
from populace.models.tax.schedule import TaxSchedule
from populace.models.tax.welfare import gini, welfare_metrics
from populace.models.tax.workers import BoundedLabourSupply


@pytest.fixture(scope="module")
def economy():
    model = TaxPolicy(20_000)
    return model, model.initial_world(seed=5, differentiable=True)


def test_gini_closed_forms():
    assert float(gini(torch.tensor([3.0, 3.0, 3.0]))) == pytest.approx(0.0)
    assert float(gini(torch.tensor([0.0, 0.0, 0.0, 1.0]))) == pytest.approx(0.75)  # (N - 1) / N
    assert float(gini(torch.tensor([1.0, 2.0, 3.0, 4.0]))) == pytest.approx(0.25)  # sum |xi - xj| / (2 N^2 mean)


@pytest.mark.parametrize("labour_supply", [None, BoundedLabourSupply()])
def test_taxes_collected_equal_rebates_paid(labour_supply):
    model = TaxPolicy(50_000, labour_supply=labour_supply)
    world = model.run(1, seed=2).final_world
    a = world.agents
    assert float(a.rebate_usd.sum()) == pytest.approx(float(a.tax_usd.sum()), rel=1e-13)
    assert float(a.consumption_usd.sum()) == pytest.approx(float(a.income_usd.sum()), rel=1e-13)
    assert float(a.tax_usd.sum()) > 1e3 * 50_000  # the US schedule raises thousands of USD per worker


def test_saez_rate_closed_form():
    assert saez_rate(0.0, 2.0, 0.5) == pytest.approx(0.5)  # 1 / (1 + a e)
    assert saez_rate(0.25, 1.5, 0.25) == pytest.approx(0.75 / (0.75 + 0.375))
    with pytest.raises(ValueError, match="needs 0 <= g <= 1, a > 0 and e > 0"):
        saez_rate(1.5, 2.0, 0.5)


def test_saez_top_rate_on_a_pareto_population_with_known_a_and_e():
    a_true, e_true = 3.0, 0.3
    model = TaxPolicy(400_000, income=ParetoIncome(minimum_usd=10_000.0, tail_index=a_true),
                      elasticity_range=(e_true, e_true))
    world = model.initial_world(seed=4)
    planner = SaezPlanner(TaxSchedule([0, 25_000, 40_000], [0.2, 0.3, 0.4]))
    top_rate = float(planner.propose(model, world).rates[-1])
    est = planner.estimates
    # incomes above the top threshold are n 0.6^e: Pareto with the same a; the mean-ratio estimate has a relative
    # SE of about 1/sqrt(n_top (a - 2)) ~ 1.4% here (n_top ~ 6,000): 6% is 4 SE
    assert est.pareto_a[-1] == pytest.approx(a_true, rel=0.06)
    assert est.elasticity[-1] == pytest.approx(e_true, rel=1e-9)  # every top worker responds with elasticity e
    g = est.welfare_weight_above[-1]
    assert top_rate == pytest.approx(saez_rate(g, est.pareto_a[-1], est.elasticity[-1]), rel=1e-12)
    assert top_rate == pytest.approx(saez_rate(g, a_true, e_true), rel=0.05)


def test_pareto_parameter_needs_enough_top_earners():
    with pytest.raises(ValueError, match="only 1 workers earn above 50,000 USD"):
        pareto_parameter(torch.tensor([10.0, 60_000.0], dtype=torch.float64), 50_000.0)


def test_planner_gradient_matches_central_finite_differences(economy):
    model, world = economy
    planner = GradientPlanner()
    rates = torch.tensor([0.3, 0.35, 0.4, 0.42, 0.45, 0.5, 0.55], dtype=torch.float64, requires_grad=True)
    schedule = TaxSchedule.us_federal_2018()
    planner.objective_value(model, world, schedule.with_rates(rates)).backward()
    h = 1e-6
    for k in range(7):
        step = torch.zeros(7, dtype=torch.float64)
        step[k] = h
        with torch.no_grad():
            up = planner.objective_value(model, world, schedule.with_rates(rates + step))
            down = planner.objective_value(model, world, schedule.with_rates(rates - step))
        # W is continuous and piecewise smooth in the rates (rising rates: no jumps); truncation O(h^2 W''),
        # rounding ~1e-16 W / h ~ 4e-6: agreement to 1e-4 relative (plus 1e-2 USD for small components)
        assert float(rates.grad[k]) == pytest.approx(float(up - down) / (2 * h), rel=1e-4, abs=1e-2)


def test_gradient_planner_beats_saez_and_us_federal(economy):
    model, world = economy
    with torch.no_grad():
        us = welfare_metrics(model.respond(world, TaxSchedule.us_federal_2018()).agents)
    saez_schedule = SaezPlanner().propose(model, world)
    planner = GradientPlanner(steps=15)
    best = planner.propose(model, world, start=saez_schedule)
    with torch.no_grad():
        saez = welfare_metrics(model.respond(world, saez_schedule).agents)
        learned = welfare_metrics(model.respond(world, best).agents)
    key = "equality_x_productivity_usd"
    print(f"eq x prod per worker: US {float(us[key]):,.0f}, Saez {float(saez[key]):,.0f}, "
          f"gradient {float(learned[key]):,.0f} USD")
    assert float(saez[key]) > float(us[key])
    assert float(learned[key]) > float(saez[key]) * 1.005  # climbs, not only keeps its start
    assert planner.history.values[-1] > planner.history.values[0]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GradientPlanner("happiness"), "unknown objective 'happiness'; choose one of equality_x_productivity"),
        (lambda: GradientPlanner(steps=0), "steps must be an int >= 1"),
        (lambda: SaezPlanner(iterations=0), "iterations must be an int >= 1"),
        (lambda: TaxPolicy(1), "n_workers must be an int >= 2"),
        (lambda: TaxPolicy(10, elasticity_range=(0.5, 0.1)), "0 < low <= high"),
        (lambda: TaxPolicy(10, persona_shares=(0.5, 0.6, 0.0)), "persona_shares must be 3 non-negative fractions"),
    ],
)
def test_bad_planner_and_model_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()
