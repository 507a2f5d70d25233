"""The NYC COVID-19 control task: lockdown intensity to orders, the actual orders as a schedule, the objective's
terms, the task's model (calibrated draw, rescaled seeding), gradients reaching the controller, and the command."""

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from populace.cli import main
from populace.control import Schedule, evaluate
from populace.core import AgentTable, World
from populace.core.errors import InputError
from populace.models.covid_nyc.control_task import (
    LOCKDOWN,
    CovidControlTask,
    DeathsAndUnemployment,
    LockdownOrders,
    actual_orders,
)
from populace.models.covid_nyc.disease import contact_scale_key
from populace.population.synthetic import layered_synthetic_population

DRAWS = Path(__file__).parents[3] / "docs" / "calibration-2020-draws.parquet"


pytestmark = pytest.mark.usefixtures("one_thread")


def _world(level: torch.Tensor) -> World:
    return World.of(AgentTable({"id": torch.arange(2, dtype=torch.int32)}), env={"lockdown": level})


def test_full_lockdown_is_pause_and_none_is_no_orders():
    orders = LockdownOrders()
    pause = {name: float(v) for name, v in orders(_world(torch.tensor(1.0))).items()}
    assert pause == {contact_scale_key("household"): 1.0, contact_scale_key("school"): 0.0,
                     contact_scale_key("work"): pytest.approx(0.3), contact_scale_key("community"): pytest.approx(0.4),
                     "work_from_home_fraction": 1.0, "lockdown": 1.0}
    none = {name: float(v) for name, v in orders(_world(torch.tensor(0.0))).items()}
    assert none == {**{contact_scale_key(layer): 1.0 for layer in ("household", "school", "work", "community")},
                    "work_from_home_fraction": 0.0, "lockdown": 0.0}
    level = torch.tensor(0.5, requires_grad=True)
    orders(_world(level))[contact_scale_key("work")].backward()
    assert float(level.grad) == pytest.approx(-0.7)  # c_work = 1 - 0.7 L


def test_the_actual_orders_are_their_lockdown_values_day_by_day():
    schedule = actual_orders(dt.date(2020, 3, 1), 120)
    level = schedule.values[:, 0]
    dates = [dt.date(2020, 3, 15), dt.date(2020, 3, 16), dt.date(2020, 3, 22), dt.date(2020, 6, 8),
             dt.date(2020, 6, 22)]
    assert [float(level[(d - dt.date(2020, 3, 1)).days]) for d in dates] == pytest.approx([0.0, 0.3, 1.0, 0.8, 0.6])


def test_the_objective_counts_deaths_per_100k_and_unemployed_person_months_per_100():
    objective = DeathsAndUnemployment(n_residents=2000, unemployment_weight=2.0)
    series = {"dead": torch.tensor([0.0, 1.0, 3.0]), "unemployed": torch.tensor([[9.0, 9.0], [10.0, 20.0],
                                                                                  [30.0, 40.0]])}
    terms = objective.terms(series, [LOCKDOWN])
    assert float(terms["deaths"]) == pytest.approx(150.0)  # 3 of 2,000
    assert float(terms["unemployment"]) == pytest.approx(100 / 2000 * 100 / (365.25 / 12))  # 100 person-days
    assert objective.total(terms) == pytest.approx(150 + 2 * float(terms["unemployment"]))


@pytest.fixture(scope="module")
def task() -> CovidControlTask:
    city = layered_synthetic_population(1500, seed=1, agents_per_zone=300)  # 5 regions, as the draws
    return CovidControlTask(city, DRAWS, scale=0.002, days=35, unemployment_weight=5.0)


def test_the_task_model_holds_the_draw_with_its_seeding_rescaled(task):
    model = task.model()
    beta = task.draw["model.transmission.parametrizations.beta_by_week.original"].exp()
    assert torch.allclose(model.transmission.beta_by_week.detach(), beta)
    assert float(model.initial_infections.detach()) == pytest.approx(
        float(task.draw["model.log_initial_infected"].exp()) * 0.002 / 0.01, rel=1e-5)  # the draws' scale is 0.01
    assert isinstance(model.policy, LockdownOrders)


def test_lockdown_trades_deaths_for_unemployment_and_its_gradient_reaches_the_controller(task):
    seeds = [1, 2]
    closed = evaluate(task.problem(Schedule.constant([LOCKDOWN], [1.0])), seeds).mean()
    open_ = evaluate(task.problem(Schedule.constant([LOCKDOWN], [0.0])), seeds).mean()
    assert closed["deaths"] < open_["deaths"]
    assert closed["unemployment"] > 1.5 * open_["unemployment"]
    problem = task.problem(task.controller(seed=0))
    terms = problem.loss_terms(3)
    (terms["deaths"] + 5 * terms["unemployment"]).backward()
    bias = problem.policy.layers[-1].bias.grad
    assert bias is not None
    assert float(bias.abs()) > 0


def test_a_missing_draws_file_says_how_to_make_one(tmp_path):
    city = layered_synthetic_population(300, seed=1, agents_per_zone=60)
    with pytest.raises(InputError, match=r"calibration draws .* not found; pass --draws"):
        CovidControlTask(city, tmp_path / "none.parquet", scale=0.002)


def test_control_covid_nyc_writes_the_comparison(tmp_path, monkeypatch, capsys):
    import populace.population.nyc

    monkeypatch.setattr(populace.population.nyc, "build_nyc",
                        lambda scale, seed, data_dir: layered_synthetic_population(1000, seed=seed,
                                                                                   agents_per_zone=200))
    out = tmp_path / "covid"
    assert main(["control", "covid-nyc", "--days", "14", "--iterations", "2", "--grid-levels", "2",
                 "--grid-seeds", "1", "--eval-seeds", "2", "--draws", str(DRAWS), "--threads", "1", "--no-progress",
                 "--out", str(out)]) == 0
    assert "actual 2020 orders" in capsys.readouterr().out
    evaluation = pd.read_parquet(out / "evaluation.parquet")
    assert evaluation["method"].unique().tolist() == ["neural network (gradient)", "neural network (ES)",
                                                      "constant (grid)", "actual 2020 orders", "no lockdown"]
    assert list(evaluation.columns) == ["method", "seed", "objective", "deaths", "unemployment"]
    runs = pd.read_parquet(out / "trajectories.parquet")
    assert runs["lockdown"].between(0, 1).all()
    assert len(runs) == 5 * 2 * 15
    assert (out / "controller.pt").is_file()
    assert json.loads((out / "manifest.json").read_text())["status"] == "completed"


def test_stochastic_derivatives_reach_the_controller_through_the_labour_draws(task):
    # every draw whose probability moves with the lockdown (transmission, job loss, rehiring) goes through
    # World.bernoulli, so a stochastic-derivative run of the controlled model is not refused
    from populace.control import Controlled
    from populace.gradients import stochastic_derivative

    def unemployed_at_the_end(trajectory):
        return trajectory["unemployed"][-1].sum().double()

    model = Controlled(task.model(), task.controller(seed=0), horizon=task.days)
    *_, output_bias = (name for name, _ in model.named_parameters() if name.startswith("policy.") and "bias" in name)
    estimate = stochastic_derivative(model, unemployed_at_the_end, task.days, seed=3,
                                     wrt={output_bias: torch.ones(1)}, paths=16)
    assert estimate.value == float(unemployed_at_the_end(model.run(task.days, seed=3, progress=False)))
    assert estimate.derivative > 0  # more lockdown, more job loss (most paths flip an infection instead: jump 0)
