"""Behaviour: situation counts, heuristic probabilities, weekly decisions, both modes, contact factors, gradients."""

import dataclasses
import datetime as dt
import math
from types import MappingProxyType

import pytest
import torch
from covid_fixtures import layered_population
from torch import nn

from populace.behavior import YES_NO, DecisionError, decide
from populace.core import AgentTable, Model, World
from populace.models.covid_nyc import CovidDisease, CovidParams, Stage, Transmission
from populace.models.covid_nyc.behaviour import Behaviour, local_case_situation
from populace.models.covid_nyc.decisions import (
    GO_TO_WORK,
    ISOLATE,
    TELEWORKABLE_FRACTION_BY_INDUSTRY,
    HeuristicDecisions,
)
from populace.models.covid_nyc.disease import contact_factor_key
from populace.models.covid_nyc.policy import WORK_FROM_HOME_KEY, Policy, nyc_2020_schedule
from populace.network import ContactGraph, ContactLayer


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def disease_world(n: int, *, step: int = 14, seed: int = 0, differentiable: bool = False, symptomatic_every: int = 50,
                  env: dict | None = None) -> World:
    """n agents in 2 regions; every `symptomatic_every`-th agent symptomatic since day step - 3; employed agents in all
    13 industries; agents 0..9 of region 0 (the even ones) had onsets in the week before the last."""
    ids = torch.arange(n)
    stage = torch.where(ids % symptomatic_every == 0, Stage.I, Stage.S).to(torch.uint8)
    onset = torch.where(stage == Stage.I, step - 3, -1)
    onset[10:20:2] = step - 10  # 5 cases of region 0 in the previous window, now recovered
    stage[10:20:2] = Stage.R
    is_employed = ids % 3 != 0
    columns = {
        "stage": nn.functional.one_hot(stage.long(), len(Stage)).float() if differentiable else stage,
        "onset_day": onset.to(torch.int16), "is_asymptomatic": torch.zeros(n, dtype=torch.bool),
        "region": (ids % 2).to(torch.uint8), "age": torch.full((n,), 40, dtype=torch.uint8),
        "is_employed": is_employed.float() if differentiable else is_employed,
        "industry": torch.where(is_employed, ids % 13, 255).to(torch.uint8),
    }
    world = World.of(AgentTable(columns), step=step, seed=seed, differentiable=differentiable)
    return world.with_env(**(env or {}))


# ---- the situation ---------------------------------------------------------------------------------------------

def test_local_case_situation_counts_recent_symptomatic_onsets_by_region():
    n, t = 40, 14
    world = disease_world(n, step=t, symptomatic_every=5)
    a = world.agents
    # region 0 (even ids): onsets of 0, 20, 30 at t - 3 (10 recovered: its onset, like 12, 14, 16, 18's, was at
    # t - 10, the window before); region 1 (odd ids): 5, 15, 25, 35 at t - 3, none before. Agent 2's onset at t - 1
    # is asymptomatic and agent 4's is scheduled for later: neither counts.
    onset = a.onset_day.clone()
    onset[2] = t - 1
    onset[4] = t + 2
    asymptomatic = a.is_asymptomatic.clone()
    asymptomatic[2] = True
    world = world.update({"onset_day": onset, "is_asymptomatic": asymptomatic})
    s = local_case_situation(world)
    recent, before = torch.tensor([3.0, 4.0]), torch.tensor([5.0, 0.0])
    region = a.region.long()
    torch.testing.assert_close(s["incidence_per_100k"], (1e5 * recent / 20)[region])
    torch.testing.assert_close(s["case_growth"], torch.log((recent + 1) / (before + 1))[region])
    torch.testing.assert_close(s["is_symptomatic"], (a.stage == Stage.I).float())


# ---- the heuristic ---------------------------------------------------------------------------------------------

def hand_made(**features: list[float]) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v) for k, v in features.items()}


def test_isolation_probabilities_have_their_known_values_and_directions():
    model = HeuristicDecisions(p_isolate_baseline=0.02, p_isolate_if_symptomatic=0.8,
                               isolate_logit_per_log_incidence=1.5, incidence_reference_per_100k=50.0,
                               isolate_logit_per_growth=0.5)
    situation = hand_made(is_symptomatic=[0, 1, 0, 0, 1, 0, 0],
                          incidence_per_100k=[0, 0, 50, 150, 150, 0, 0],
                          case_growth=[0, 0, 0, 0, 0, 1, -1])
    world = World.of(AgentTable({"industry": torch.zeros(7, dtype=torch.uint8)}))
    p = model.probability_of_yes(ISOLATE, world, situation)
    torch.testing.assert_close(model.probabilities(ISOLATE, world, situation), torch.stack([p, 1 - p], -1))
    a0, a_s = logit(0.02), logit(0.8)
    expected = [0.02, 0.8, sigmoid(a0 + 1.5 * math.log(2)), sigmoid(a0 + 1.5 * math.log(4)),
                sigmoid(a_s + 1.5 * math.log(4)), sigmoid(a0 + 0.5), sigmoid(a0 - 0.5)]
    torch.testing.assert_close(p, torch.tensor(expected), rtol=1e-5, atol=1e-7)
    assert p[1] > p[0]
    assert p[3] > p[2] > p[0]
    assert p[4] > p[1]
    assert p[5] > p[0] > p[6]


def test_go_to_work_probabilities_follow_industry_and_orders():
    model = HeuristicDecisions()
    industry = torch.tensor([6, 10, 6, 10, 255], dtype=torch.uint8)  # information, arts_food, ..., none
    world = World.of(AgentTable({"industry": industry}))
    p = model.probability_of_yes(GO_TO_WORK, world, hand_made(work_from_home_fraction=[0, 0, 1, 1, 1]))
    r = TELEWORKABLE_FRACTION_BY_INDUSTRY
    torch.testing.assert_close(p, torch.tensor([0.97, 0.97, 0.97 * (1 - r[6]), 0.97 * (1 - r[10]), 0.97]))


# ---- the substep -----------------------------------------------------------------------------------------------

def test_decisions_change_only_on_the_weekly_boundary():
    behaviour = Behaviour(HeuristicDecisions(p_isolate_baseline=0.5, p_isolate_if_symptomatic=0.5,
                                             isolate_logit_per_log_incidence=0.0), day_of_week=3)
    world = disease_world(400, step=0)
    world = dataclasses.replace(world, tables={"agents": world.agents.with_columns(
        behaviour.initial_columns(world.agents))})
    history = []
    for _ in range(18):
        world = world.update(behaviour(world)).advance()
        history.append(world.agents.is_isolating.clone())
    changed = [step for step in range(1, 18) if not torch.equal(history[step], history[step - 1])]
    assert changed == [3, 10, 17]  # the steps t with t % 7 == 3
    assert not bool(history[0].any())  # before the first decision day: the initial columns (nobody isolates)


def test_fast_and_differentiable_modes_make_identical_decisions():
    behaviour = Behaviour(HeuristicDecisions(p_isolate_baseline=0.2, isolate_logit_per_log_incidence=0.3))
    env = {WORK_FROM_HOME_KEY: 0.7}
    out = {}
    for differentiable in (False, True):
        world = disease_world(3000, seed=5, differentiable=differentiable, env=env)
        world = dataclasses.replace(world, tables={"agents": world.agents.with_columns(
            behaviour.initial_columns(world.agents, differentiable=differentiable))})
        out[differentiable] = behaviour(world)
    assert out[False]["is_isolating"].dtype == torch.bool
    assert out[True]["is_isolating"].dtype == torch.float32
    for name, fast in out[False].items():
        torch.testing.assert_close(out[True][name].detach(), fast.float(), rtol=0, atol=0, msg=name)
    fast = out[False]
    employed = disease_world(3000).agents.is_employed
    assert 0.1 < float(fast["is_isolating"].float().mean()) < 0.5  # something to compare
    assert not bool((fast["goes_to_work"] & (fast["is_isolating"] | ~employed)).any())


def test_isolating_and_non_working_agents_lose_their_contacts():
    behaviour = Behaviour(HeuristicDecisions(p_isolate_baseline=0.3))
    out = behaviour(disease_world(2000, env={WORK_FROM_HOME_KEY: 0.5}))
    iso, goes = out["is_isolating"], out["goes_to_work"]
    torch.testing.assert_close(out[contact_factor_key("work")], goes.float())
    torch.testing.assert_close(out[contact_factor_key("community")], torch.where(iso, 0.25, 1.0))
    torch.testing.assert_close(out[contact_factor_key("school")], torch.where(iso, 0.0, 1.0))
    assert contact_factor_key("household") not in out


def dense_pressure(graph: ContactGraph, x, scale: dict, factor: dict) -> torch.Tensor:
    total = torch.zeros_like(x)
    for name in graph.names:
        g = factor.get(name, torch.ones_like(x))
        total = total + scale.get(name, 1.0) * g * (graph[name].dense().to(x.dtype) @ (g * x))
    return total


def test_transmission_applies_per_agent_factors_on_both_ends_of_a_contact():
    # y_i = sum_l c_l g_li sum_j w_lij g_lj x_j, against a dense product; a layer without a factor column uses g = 1
    n = 60
    gen = torch.Generator().manual_seed(1)
    graph = ContactGraph(n, {"home": ContactLayer.from_groups(torch.arange(n) // 4, name="home"),
                             "work": ContactLayer.from_groups(torch.randint(0, 6, (n,), generator=gen), 0.5),
                             "community": ContactLayer.from_groups(torch.randint(0, 3, (n,), generator=gen), 0.1)})
    p = CovidParams()
    transmission = Transmission(graph, [0.1], susceptibility_by_age=p.susceptibility_by_age,
                                infectiousness_by_day=p.infectiousness_by_day(), asymptomatic_relative_infectiousness=1)
    factor = {"work": (torch.rand(n, generator=gen) < 0.5).float(), "community": torch.rand(n, generator=gen)}
    scale = {"work": 0.3, "home": 0.8}
    table = AgentTable({contact_factor_key(k): v for k, v in factor.items()})
    world = World.of(table).with_env(**{f"contact_scale_{k}": v for k, v in scale.items()})
    x = torch.rand(n, generator=gen, dtype=torch.float64).float()
    torch.testing.assert_close(transmission.contact_pressure(world, x), dense_pressure(graph, x, scale, factor))
    stay_home = factor["work"] == 0
    work_only = transmission.contact_pressure(world.with_env(contact_scale_home=0.0, contact_scale_community=0.0), x)
    assert bool((work_only[stay_home] == 0).all())
    assert bool((work_only[~stay_home] > 0).any())


# ---- gradients -------------------------------------------------------------------------------------------------

def test_gradients_reach_every_heuristic_parameter_through_the_contacts():
    heuristic = HeuristicDecisions(p_isolate_baseline=0.2, isolate_logit_per_log_incidence=0.3)
    behaviour = Behaviour(heuristic)
    world = disease_world(1300, differentiable=True, env={WORK_FROM_HOME_KEY: 0.6})
    world = world.update({"onset_day": torch.where(torch.arange(1300) == 7, 13, world.agents.onset_day)})
    n = world.agents.n
    graph = ContactGraph(n, {"work": ContactLayer.from_groups(torch.arange(n) // 10, name="work"),
                             "community": ContactLayer.from_groups(torch.arange(n) % 50, 0.1, name="community")})
    p = CovidParams()
    transmission = Transmission(graph, [0.1], susceptibility_by_age=p.susceptibility_by_age,
                                infectiousness_by_day=p.infectiousness_by_day(), asymptomatic_relative_infectiousness=1)
    world = dataclasses.replace(world, tables={"agents": world.agents.with_columns(
        behaviour.initial_columns(world.agents, differentiable=True))})
    world = world.update(behaviour(world))
    transmission.contact_pressure(world, torch.ones(n)).sum().backward()
    for name, param in heuristic.named_parameters():
        assert param.grad is not None, name
        assert bool(torch.isfinite(param.grad).all()), name
        assert bool((param.grad != 0).all()), (name, param.grad)


def test_probability_gradients_match_finite_differences():
    # smooth part: d/dtheta of mean p over a hand-made situation, autograd against central differences, float64
    situation = {k: v.double() for k, v in hand_made(is_symptomatic=[0, 1, 0, 1], incidence_per_100k=[0, 20, 300, 80],
                                                     case_growth=[0.3, -0.2, 1.0, 0.0]).items()}
    wfh = {"work_from_home_fraction": torch.tensor([0.2, 0.9, 0.5, 1.0], dtype=torch.float64)}
    world = World.of(AgentTable({"industry": torch.tensor([0, 6, 10, 12], dtype=torch.uint8)}))
    model = HeuristicDecisions().double()

    def loss() -> torch.Tensor:
        return ((model.probability_of_yes(ISOLATE, world, situation) ** 2).sum()
                + model.probability_of_yes(GO_TO_WORK, world, wfh).sum())

    model.zero_grad()
    loss().backward()
    h = 1e-6
    for name, param in model.named_parameters():
        for k in range(param.numel()):
            with torch.no_grad():
                param.view(-1)[k] += h
                up = float(loss())
                param.view(-1)[k] -= 2 * h
                down = float(loss())
                param.view(-1)[k] += h
            assert float(param.grad.view(-1)[k]) == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9), name


@pytest.mark.parametrize("parameter", ["parametrizations.p_isolate_baseline.original",
                                       "isolate_logit_per_log_incidence", "parametrizations.p_at_work.original"])
def test_straight_through_gradient_matches_a_seed_averaged_finite_difference(parameter):
    # L = mean_i (is_isolating_i + goes_to_work_i), linear in the draws, so the straight-through gradient is unbiased
    # for dE[L]/dtheta. Central difference of L over the same 16 seeds at theta +- h (common random numbers: only
    # agents whose u falls between p(theta - h) and p(theta + h) change), h = 0.2 (curvature bias ~ h^2 / 6 of the
    # derivative, ~0.7%). Per-seed differences between the two estimators, mean within 4 standard errors + 1.5%.
    heuristic = HeuristicDecisions(p_isolate_baseline=0.3, isolate_logit_per_log_incidence=0.3)
    behaviour = Behaviour(heuristic)
    param = dict(heuristic.named_parameters())[parameter]
    h, seeds = 0.2, range(16)

    def loss(seed: int) -> torch.Tensor:
        world = disease_world(4000, seed=seed, differentiable=True, env={WORK_FROM_HOME_KEY: 0.5})
        out = behaviour(world)
        return out["is_isolating"].mean() + out["goes_to_work"].mean()

    diffs = []
    for seed in seeds:
        heuristic.zero_grad()
        loss(seed).backward()
        autograd = float(param.grad)
        with torch.no_grad():
            param += h
            up = float(loss(seed))
            param -= 2 * h
            down = float(loss(seed))
            param += h
        diffs.append((autograd, (up - down) / (2 * h)))
    d = torch.tensor(diffs, dtype=torch.float64)  # [S, 2]
    mean_autograd, mean_fd = d.mean(0).tolist()
    se = float((d[:, 0] - d[:, 1]).std() / math.sqrt(len(seeds)))
    assert math.isfinite(mean_autograd)
    assert mean_autograd != 0
    assert abs(mean_autograd - mean_fd) <= 4 * se + 0.015 * abs(mean_fd)


# ---- a week in a whole model -----------------------------------------------------------------------------------

class PolicyBehaviourDisease(Model):
    """Policy, then behaviour, then the disease, on a small synthetic city from 2020-03-15."""

    def __init__(self, disease: CovidDisease):
        super().__init__()
        self.disease = disease
        self.policy = Policy(nyc_2020_schedule(), layers=disease.transmission.contacts.names)
        self.behaviour = Behaviour(HeuristicDecisions(p_isolate_baseline=0.05, p_isolate_if_symptomatic=0.9))

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        world = self.disease.initial_world(seed=seed, differentiable=differentiable)
        table = world.agents.with_columns(self.behaviour.initial_columns(world.agents, differentiable=differentiable))
        return dataclasses.replace(world, tables={"agents": table}, start_date=dt.date(2020, 3, 15))

    def forward(self, world: World) -> World:
        world = world.with_env(**self.policy(world))
        world = world.update(self.behaviour(world))
        world = world.update(self.disease.transmission(world))
        return world.update(self.disease.progression(world))

    def observe(self, world: World) -> dict[str, torch.Tensor]:
        a = world.agents
        return {"isolating": a.is_isolating.float().sum(), "at_work": a.goes_to_work.float().sum(),
                **self.disease.observe(world)}


def test_policy_and_behaviour_run_identically_in_both_modes():
    people = layered_population(3000, seed=1)
    model = PolicyBehaviourDisease(CovidDisease(people.agents, people.layers, CovidParams(beta_by_week=(0.3,)),
                                                initial_infected=60))
    fast = model.run(22, seed=2, progress=False)
    diff = model.run(22, seed=2, differentiable=True, progress=False)
    for name in ("isolating", "at_work", "new_infections", "symptomatic"):
        torch.testing.assert_close(diff[name].detach(), fast[name], rtol=0, atol=1e-3, msg=name)
    at_work = fast["at_work"]
    # record k is the state after day k - 1: the decisions of 03-22 (step 7), under PAUSE and a growing outbreak
    assert float(at_work[8]) < 0.9 * float(at_work[7])
    assert torch.equal(at_work[1:8], at_work[1:8].flip(0))  # unchanged within the week
    assert bool((fast["isolating"][1:] > 0).all())


# ---- bad inputs ------------------------------------------------------------------------------------------------

class Scripted(nn.Module):
    decisions = MappingProxyType({ISOLATE: YES_NO, GO_TO_WORK: YES_NO})

    def __init__(self, p):
        super().__init__()
        self.p = p

    def probabilities(self, decision, world, situation):
        return self.p(world.agents.n)


@pytest.mark.parametrize(("p", "match"), [
    (lambda n: torch.full((n, 2), 1.5), r"must lie in \[0, 1\]; 20 of 20 values do not"),
    (lambda n: torch.full((n, 2), math.nan), r"must lie in \[0, 1\]"),
    (lambda n: torch.full((n + 1, 2), 0.5), r"must have shape \[10, 2\]"),
    (lambda n: torch.full((n,), 0.5), r"must have shape \[10, 2\] \(one row per agent, one column per option"),
    (lambda n: torch.full((n, 2), 0.4), r"must sum to 1 over the options \['yes', 'no'\].*10 of 10 rows do not"),
    (lambda n: torch.ones(n, 2, dtype=torch.long), "must be a float tensor"),
    (lambda n: [0.5] * n, "must be a float tensor"),
])
def test_bad_probabilities_are_refused(p, match):
    with pytest.raises(DecisionError, match=match):
        decide(Scripted(p), ISOLATE, disease_world(10), {})


def test_bad_decisions_and_situations_are_refused():
    world = disease_world(10)
    model = HeuristicDecisions()
    with pytest.raises(DecisionError, match="does not make the decision 'vaccinate'"):
        decide(model, "vaccinate", world, {})
    with pytest.raises(KeyError, match=r"no feature\(s\) \['incidence_per_100k', 'case_growth'\]"):
        decide(model, ISOLATE, world, {"is_symptomatic": torch.zeros(10)})
    with pytest.raises(ValueError, match=r"must have shape \[10\]"):
        decide(model, GO_TO_WORK, world, {"work_from_home_fraction": torch.zeros(())})
    with pytest.raises(TypeError, match="must be float or bool"):
        decide(model, GO_TO_WORK, world, {"work_from_home_fraction": torch.zeros(10, dtype=torch.long)})
    with pytest.raises(ValueError, match=r"'work_from_home_fraction' must lie in \[0, 1\]"):
        decide(model, GO_TO_WORK, world, {"work_from_home_fraction": torch.full((10,), 2.0)})
    with pytest.raises(ValueError, match="'incidence_per_100k' must be >= 0"):
        decide(model, ISOLATE, world, {"is_symptomatic": torch.zeros(10), "incidence_per_100k": -torch.ones(10),
                                       "case_growth": torch.zeros(10)})
    with pytest.raises(KeyError, match="agents have no column 'onset_day'"):
        local_case_situation(World.of(AgentTable({"stage": torch.zeros(3, dtype=torch.uint8)})))


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: HeuristicDecisions(p_isolate_baseline=0.0), ValueError, r"open interval \(0, 1\)"),
    (lambda: HeuristicDecisions(p_at_work=1.0), ValueError, "p_at_work must be a probability"),
    (lambda: HeuristicDecisions(isolate_logit_per_growth=math.inf), ValueError, "must be a finite number"),
    (lambda: HeuristicDecisions(incidence_reference_per_100k=0), ValueError, "must be a finite number > 0"),
    (lambda: HeuristicDecisions(teleworkable_fraction_by_industry=[0.5, 1.0]), ValueError, "one value in the open"),
    (lambda: Behaviour(object()), TypeError, "decision_model must be a DecisionModel"),
    (lambda: Behaviour(type("OnlyIsolate", (Scripted,), {"decisions": {ISOLATE: YES_NO}})(None)), ValueError,
     r"does not make the decision\(s\) \['go_to_work'\]"),
    (lambda: Behaviour(type("NoYes", (Scripted,), {"decisions": {ISOLATE: ("no", "yes"), GO_TO_WORK: YES_NO}})(None)),
     ValueError, r"asks 'isolate' as a yes/no decision with the options \('yes', 'no'\)"),
    (lambda: Behaviour(HeuristicDecisions(), day_of_week=7), ValueError, "day_of_week must be an int in 0..6"),
    (lambda: Behaviour(HeuristicDecisions(), isolation_contact_factor_by_layer={"work": 0.0}), ValueError,
     "names the work layer 'work'"),
    (lambda: Behaviour(HeuristicDecisions(), isolation_contact_factor_by_layer={"community": 1.5}), ValueError,
     r"isolation contact factor of layer 'community' must be in \[0, 1\]"),
    (lambda: Behaviour(HeuristicDecisions(), window_days=0), ValueError, "window_days must be an int >= 1"),
])
def test_bad_settings_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()
