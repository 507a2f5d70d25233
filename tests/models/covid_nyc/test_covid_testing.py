"""Testing: no testing is exactly today's run, testing lowers infections, a positive isolates with the
self-isolation contact factors for exactly its isolation days, gradients reach the rate, and the control task and
command with testing as a second control."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from populace.cli import main
from populace.control import Schedule
from populace.core import AgentTable, Model, World
from populace.core.errors import InputError
from populace.gradients import stochastic_derivative
from populace.models.covid_nyc import testing as screening  # (a class named Testing would look like tests)
from populace.models.covid_nyc.behaviour import ISOLATION_CONTACT_FACTOR_BY_LAYER, isolation_contact_factors
from populace.models.covid_nyc.control_task import (
    LOCKDOWN,
    TESTING,
    CovidControlTask,
    DeathsAndUnemployment,
)
from populace.models.covid_nyc.disease import NOT_YET, STAGES, Stage, contact_factor_key
from populace.population.synthetic import layered_synthetic_population

DRAWS = Path(__file__).parents[3] / "docs" / "calibration-2020-draws.parquet"
FACTORS = [contact_factor_key(layer) for layer in ("work", "school", "community")]

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_world(*, differentiable: bool = False, p: float | torch.Tensor = 1.0) -> World:
    """4 agents, all employed and going to work, none self-isolating: 0 symptomatic (I), 1 exposed (E), 2 recovered
    (R), 3 susceptible (S)."""
    codes = torch.tensor([Stage.I, Stage.E, Stage.R, Stage.S], dtype=torch.uint8)
    employed = torch.ones(4, dtype=torch.bool)
    table = AgentTable({"id": torch.arange(4, dtype=torch.int32),
                        "stage": STAGES.encode(codes, differentiable=differentiable),
                        "is_isolating": torch.zeros(4) if differentiable else torch.zeros(4, dtype=torch.bool),
                        "goes_to_work": employed.float() if differentiable else employed,
                        **{key: torch.ones(4) for key in FACTORS}})
    table = table.with_columns(screening.Testing.initial_columns(table, differentiable=differentiable))
    p = p if isinstance(p, torch.Tensor) else torch.tensor(p)
    return World.of(table, seed=3, step=5, differentiable=differentiable, env={"testing": p})


@pytest.mark.parametrize("differentiable", [False, True])
def test_a_positive_isolates_with_the_self_isolation_factors_for_exactly_its_isolation_days(differentiable):
    testing = screening.Testing()
    world = tiny_world(differentiable=differentiable)
    isolated = {0: [], 1: []}
    for _ in range(screening.ISOLATION_DAYS + 3):
        world = world.update(testing(world))
        a = world.agents
        for i in (0, 1):  # the infected: both test positive on day 5 (p = 1)
            assert int(a.positive_day[i]) == 5
            on = bool(a.is_test_isolated[i] > 0.5)
            isolated[i].append(on)
            k = ISOLATION_CONTACT_FACTOR_BY_LAYER
            expected = [0.0, k["school"], k["community"]] if on else [1.0, 1.0, 1.0]
            assert [float(a[key][i]) for key in FACTORS] == expected
        for i in (2, 3):  # recovered and susceptible: never positive, never isolated
            assert int(a.positive_day[i]) == NOT_YET
            assert [float(a[key][i]) for key in FACTORS] == [1.0, 1.0, 1.0]
        world = world.advance()
    assert isolated[0] == isolated[1] == [True] * screening.ISOLATION_DAYS + [False] * 3  # days 5..14, then back


def test_no_testing_and_constant_zero_testing_leave_the_world_untouched():
    testing = screening.Testing()
    world = tiny_world(p=0.0)
    assert testing(world) == {}
    assert testing(World.of(world.agents, seed=3, step=5)) == {}  # absent


def test_the_gradient_of_the_rate_reaches_the_isolations_and_the_tests():
    p = torch.tensor(0.3, requires_grad=True)
    world = tiny_world(differentiable=True, p=p)
    world = world.update(screening.Testing()(world))
    observed = screening.daily_testing_observables(world.advance())
    (observed["test_isolated"] + observed["tests"]).backward()
    assert float(p.grad) != 0  # tests = p x (4 - isolated): d/dp = 4 - isolated plus the draws' surrogate


class Screened(Model):
    """Testing alone, at the rate `p` (a parameter), on 400 agents: the even ones symptomatic, the odd susceptible."""

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(0.2))
        self.testing = screening.Testing()

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        codes = torch.where(torch.arange(400) % 2 == 0, Stage.I, Stage.S).to(torch.uint8)
        no, yes = torch.zeros(400, dtype=torch.bool), torch.ones(400, dtype=torch.bool)
        table = AgentTable({"id": torch.arange(400, dtype=torch.int32), "stage": codes, "is_isolating": no,
                            "goes_to_work": yes,
                            **isolation_contact_factors(no, yes, ISOLATION_CONTACT_FACTOR_BY_LAYER, "work")})
        return World.of(table.with_columns(self.testing.initial_columns(table)), seed=seed)

    def forward(self, world: World) -> World:
        return world.update(self.testing(world.with_env(testing=self.p)))

    def observe(self, world: World) -> dict[str, torch.Tensor]:
        return {"community": world.agents[contact_factor_key("community")].sum()}


def test_stochastic_derivatives_of_the_rate_meet_the_closed_form():
    def loss(trajectory):
        return trajectory["community"][1:].sum().double()

    estimates = torch.tensor([stochastic_derivative(Screened(), loss, 3, seed=seed, wrt="p", paths=4).derivative
                              for seed in range(40)])
    # sum over days k = 1..3 of 200 infected x (1 - 0.75 P(isolated by day k)), P = 1 - (1 - p)^k: its derivative
    exact = -0.75 * 200 * sum(k * 0.8 ** (k - 1) for k in (1, 2, 3))  # -678
    se = float(estimates.std()) / 40**0.5
    assert abs(float(estimates.mean()) - exact) < 4 * se  # measured: -675.0 (4 standard errors: a 1e-4 false alarm)


@pytest.fixture(scope="module")
def task() -> CovidControlTask:
    city = layered_synthetic_population(1500, seed=1, agents_per_zone=300)  # 5 regions, as the draws
    return CovidControlTask(city, DRAWS, scale=0.002, days=35, controls=("lockdown", "testing"))


def test_zero_testing_is_bit_identical_to_a_run_without_testing(task):
    lockdown_only = CovidControlTask(task.city, DRAWS, scale=0.002, days=35)
    for differentiable in (False, True):
        without = lockdown_only.problem(Schedule.constant([LOCKDOWN], [0.3])).run(4, differentiable=differentiable)
        zero = task.problem(Schedule.constant([LOCKDOWN, TESTING], [0.3, 0.0])).run(4, differentiable=differentiable)
        for name in without.names:
            assert torch.equal(without[name], zero[name]), name
        assert float(zero["tests"].abs().sum()) == 0


def test_testing_lowers_infections_over_fixed_seeds(task):
    def infected(p: float) -> float:
        runs = [task.problem(Schedule.constant([LOCKDOWN, TESTING], [0.0, p])).run(seed) for seed in range(4)]
        return sum(float(r["susceptible"][0] - r["susceptible"][-1]) for r in runs) / len(runs)

    none, tested = infected(0.0), infected(0.1)
    # measured: 915.5 and 752.25 agents infected of 1,500 (seeds 0-3, 35 days, no lockdown): 18% fewer
    assert none == pytest.approx(915.5)
    assert tested < 0.9 * none


def test_the_objective_prices_tests_per_100k_residents():
    objective = DeathsAndUnemployment(n_residents=2000, unemployment_weight=2.0, test_weight=1e-4)
    series = {"dead": torch.tensor([0.0, 1.0]), "unemployed": torch.tensor([[0.0], [0.0]]),
              "tests": torch.tensor([0.0, 50.0])}
    terms = objective.terms(series, [LOCKDOWN, TESTING])
    assert float(terms["tests"]) == pytest.approx(2500.0)  # 50 tests of 2,000 residents
    assert objective.total(terms) == pytest.approx(50 + 1e-4 * 2500)
    assert objective.weights == {"deaths": 1.0, "unemployment": 2.0, "tests": 1e-4}
    assert "tests" not in DeathsAndUnemployment(n_residents=2000).weights


def test_bounds_and_bad_controls_are_refused(task):
    with pytest.raises(ValueError, match=r"schedule values of 'testing' must lie in \[0, 0.1\]"):
        Schedule.constant([LOCKDOWN, TESTING], [0.0, 0.2])
    controller = task.controller(seed=0)
    for layer in controller.modules():
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.constant_(layer.weight, 50.0)
    u = controller(torch.tensor(0.5), torch.tensor([3.0, -2.0])).detach()
    assert bool((u >= 0).all())
    assert bool(u[0] <= 1)
    assert bool(u[1] <= 0.1)  # in float32, as Schedule checks
    with pytest.raises(InputError, match="controls must name lockdown"):
        CovidControlTask(task.city, DRAWS, scale=0.002, days=35, controls=("testing",))
    with pytest.raises(ValueError, match=r"world.env\['testing'\] must be a 0-dim tensor"):
        screening.Testing()(tiny_world(p=torch.zeros(4)))
    with pytest.raises(ValueError, match="isolation_days must be an int >= 1"):
        screening.Testing(isolation_days=0)


def test_control_covid_nyc_with_testing_writes_the_comparison(tmp_path, monkeypatch, capsys):
    import populace.population.nyc

    monkeypatch.setattr(populace.population.nyc, "build_nyc",
                        lambda scale, seed, data_dir: layered_synthetic_population(1000, seed=seed,
                                                                                   agents_per_zone=200))
    out = tmp_path / "covid"
    assert main(["control", "covid-nyc", "--controls", "lockdown", "testing", "--days", "14", "--iterations", "2",
                 "--grid-levels", "2", "--testing-levels", "2", "--grid-seeds", "1", "--eval-seeds", "2",
                 "--draws", str(DRAWS), "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    assert "testing rate in [0, 0.1]" in capsys.readouterr().out
    evaluation = pd.read_parquet(out / "evaluation.parquet")
    assert evaluation["method"].unique().tolist() == [
        "neural network (gradient)", "neural network (ES)", "constant (grid)", "actual 2020 orders, no testing",
        "no lockdown, no testing"]
    assert list(evaluation.columns) == ["method", "seed", "objective", "deaths", "unemployment", "tests"]
    grid = pd.read_parquet(out / "constant_grid.parquet")
    assert len(grid) == 4  # 2 lockdown levels x 2 testing rates
    runs = pd.read_parquet(out / "trajectories.parquet")
    assert runs["lockdown"].between(0, 1).all()
    assert (runs["testing"] >= 0).all()
    assert (runs["testing"].to_numpy() <= np.float32(0.1)).all()  # float32 controls
    assert (runs.loc[runs["method"] == "actual 2020 orders, no testing", "testing"] == 0).all()
    assert len(runs) == 5 * 2 * 15
    for file in ("controller.pt", "controller.json", "testing.png", "control.png", "report.html"):
        assert (out / file).is_file()
    assert json.loads((out / "controller.json").read_text())["variables"][1]["name"] == "testing"
    assert json.loads((out / "manifest.json").read_text())["status"] == "completed"
