"""COVID-19 substeps: infection probability against its formula, delay draws against their pmf, bad input."""

import math

import pytest
import torch
from scipy import stats

from populace.core import AgentTable, World
from populace.models.covid_nyc import CovidParams, Progression, Stage, Transmission, contact_scale_key, lognormal_days
from populace.network import ContactGraph, ContactLayer

N_TARGETS = 20_000
DAY, DAYS_INFECTED = 10, 4


def star_world(*, hub_asymptomatic: bool, differentiable: bool, env: dict | None = None) -> World:
    """Agent 0, infected DAYS_INFECTED days ago, in contact (weight 2) with N_TARGETS susceptibles aged 30 and 70."""
    n = N_TARGETS + 1
    stage = torch.full((n,), Stage.S, dtype=torch.uint8)
    stage[0] = Stage.I
    age = torch.where(torch.arange(n) % 2 == 0, 30, 70).to(torch.uint8)
    infection_day = torch.full((n,), -1, dtype=torch.int16)
    infection_day[0] = DAY - DAYS_INFECTED
    is_asymptomatic = torch.zeros(n, dtype=torch.bool)
    is_asymptomatic[0] = hub_asymptomatic
    if differentiable:
        stage = torch.nn.functional.one_hot(stage.long(), len(Stage)).float()
    table = AgentTable({"stage": stage, "age": age, "infection_day": infection_day, "is_asymptomatic": is_asymptomatic})
    world = World.of(table, seed=3, step=DAY, differentiable=differentiable)
    return world.with_env(**(env or {}))


def star_transmission(beta: float = 0.5) -> Transmission:
    n = N_TARGETS + 1
    layer = ContactLayer.from_edges(n, torch.zeros(N_TARGETS, dtype=torch.long), torch.arange(1, n),
                                    torch.full((N_TARGETS,), 2.0))
    susceptibility = [1.0] * 19
    susceptibility[14] = 0.5  # 70-74
    p = CovidParams()
    return Transmission(ContactGraph(n, {"community": layer}), [beta / 10, beta], susceptibility_by_age=susceptibility,
                        infectiousness_by_day=p.infectiousness_by_day(), asymptomatic_relative_infectiousness=0.5)


@pytest.mark.parametrize(("hub_asymptomatic", "scale", "factor"), [(False, None, 1.0), (True, None, 0.5),
                                                                   (False, 0.25, 0.25)])
def test_infection_probability_matches_the_formula(hub_asymptomatic, scale, factor):
    # p = 1 - exp(-beta(week 1) * s(age) * c * w * h[4] * r): beta 0.5 (day 10 is in week 1), w = 2, h[4] = 0.1535,
    # r = 0.5 for an asymptomatic infector, c the community layer's scale; s = 1 at 30, 0.5 at 70.
    # 10,000 draws per age group, within 4 standard errors.
    transmission = star_transmission()
    env = None if scale is None else {contact_scale_key("community"): scale}
    out = transmission(star_world(hub_asymptomatic=hub_asymptomatic, differentiable=False, env=env))
    h4 = float(CovidParams().infectiousness_by_day()[DAYS_INFECTED])
    new = out["newly_infected"][1:].reshape(-1, 2)  # columns: agents 1, 3, ... (age 70); 2, 4, ... (age 30)
    for column, s in ((0, 0.5), (1, 1.0)):
        p = -math.expm1(-0.5 * s * 2 * h4 * factor)
        se = math.sqrt(p * (1 - p) / new.shape[0])
        assert float(new[:, column].float().mean()) == pytest.approx(p, abs=4 * se)
    assert not bool(out["newly_infected"][0])  # the infector is not susceptible
    assert (out["infection_day"][1:][new.reshape(-1)] == DAY).all()
    assert (out["stage"][1:] == torch.where(new.reshape(-1), Stage.E, Stage.S)).all()


def test_differentiable_transmission_draws_the_same_infections_with_a_gradient():
    transmission = star_transmission()
    fast = transmission(star_world(hub_asymptomatic=False, differentiable=False))
    diff = transmission(star_world(hub_asymptomatic=False, differentiable=True))
    assert torch.equal(fast["newly_infected"].float(), diff["newly_infected"].detach())
    assert torch.equal(fast["stage"].long(), diff["stage"].detach().argmax(-1))
    (grad,) = torch.autograd.grad(diff["newly_infected"].sum(), transmission.parametrizations.beta_by_week.original)
    # "fired" surrogate: d new_i / d log_beta = new_i * (dp_i / d log_beta) / p_i = new_i * x_i (1 - p_i) / p_i,
    # x_i = -log(1 - p_i); only week 1 is used on day 10.
    assert float(grad[0]) == 0
    assert float(grad[1]) > 0


def test_weekly_beta_segments():
    transmission = star_transmission(beta=0.5)
    assert float(transmission.beta_on(6).detach()) == pytest.approx(0.05)
    assert float(transmission.beta_on(7).detach()) == pytest.approx(0.5)
    assert float(transmission.beta_on(700).detach()) == pytest.approx(0.5)  # past the last week, the last week's value
    assert transmission.parametrizations.beta_by_week.original.shape == (2,)
    assert transmission.parametrizations.beta_by_week.original.requires_grad


@pytest.mark.parametrize(("meanlog", "sdlog"), [(1.63, 0.5), (2.8632, 0.5339)])
def test_lognormal_days_follow_the_rounded_lognormal(meanlog, sdlog):
    # P(T = k) = F(k + 1/2) - F(k - 1/2), P(T = 1) = F(3/2); 10^5 draws: mean within 4 standard errors.
    days = lognormal_days(torch.rand(100_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64),
                          meanlog, sdlog)
    k = torch.arange(1, 2000, dtype=torch.float64)
    cdf = torch.tensor(stats.lognorm.cdf(k.numpy() + 0.5, sdlog, scale=math.exp(meanlog)))
    pmf = torch.diff(torch.cat([torch.zeros(1, dtype=torch.float64), cdf]))
    mean = float((k * pmf).sum())
    sd = math.sqrt(float((k**2 * pmf).sum()) - mean**2)
    assert days.min() >= 1
    assert float(days.double().mean()) == pytest.approx(mean, abs=4 * sd / math.sqrt(days.numel()))
    assert float((days == 5).double().mean()) == pytest.approx(float(pmf[4]), abs=4 * math.sqrt(pmf[4] / 1e5))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"beta_by_week": [0.1, -1.0]}, ValueError, "beta_by_week must hold one finite value > 0"),
        ({"susceptibility_by_age": [1.0] * 18}, ValueError, "susceptibility_by_age needs 19 values >= 0"),
        ({"infectiousness_by_day": [0.5, 0.5]}, ValueError, r"entry 0 \(the day of infection\) equal to 0"),
        ({"asymptomatic_relative_infectiousness": 2.0}, ValueError, "asymptomatic_relative_infectiousness must"),
        ({"contacts": ContactLayer.from_edges(3, [0], [1])}, TypeError, "contacts must be a ContactGraph"),
    ],
)
def test_bad_transmission_arguments_raise(kwargs, error, match):
    args = {"contacts": ContactGraph(3, {}), "beta_by_week": [0.1], "susceptibility_by_age": [1.0] * 19,
            "infectiousness_by_day": [0.0, 1.0], "asymptomatic_relative_infectiousness": 0.5, **kwargs}
    contacts, beta = args.pop("contacts"), args.pop("beta_by_week")
    with pytest.raises(error, match=match):
        Transmission(contacts, beta, **args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"incubation_days_log": (1.6, 0.0)}, r"incubation_days_log must be \(meanlog, sdlog\) with sdlog > 0"),
        ({"asymptomatic_fraction": -0.1}, r"asymptomatic_fraction must be in \[0, 1\]"),
        ({"p_death_if_symptomatic_by_age": [1.5] * 19}, "needs 19 probabilities in"),
    ],
)
def test_bad_progression_arguments_raise(kwargs, match):
    args = {"incubation_days_log": (1.63, 0.5), "recovery_days_log": (2.3, 0.3), "onset_to_death_days_log": (2.9, 0.5),
            "asymptomatic_fraction": 0.2, "p_death_if_symptomatic_by_age": [0.01] * 19, **kwargs}
    with pytest.raises(ValueError, match=match):
        Progression(**args)
