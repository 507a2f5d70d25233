"""Labour supply: closed-form best responses, bunching at kinks, brute-force optimality, bounded choice odds."""

import math

import pytest
import torch

from populace.core import AgentTable, World
from populace.models.tax.model import with_schedule
from populace.models.tax.schedule import TaxSchedule
from populace.models.tax.workers import (
    BoundedLabourSupply,
    Persona,
    RationalLabourSupply,
    candidate_plans,
    effort_cost_usd,
)


def workers(skill_usd, elasticity, persona=None, schedule=None, differentiable=False):
    skill = torch.as_tensor(skill_usd, dtype=torch.float64)
    e = torch.as_tensor(elasticity, dtype=torch.float64).expand_as(skill).clone()
    p = torch.zeros_like(skill, dtype=torch.uint8) if persona is None else torch.as_tensor(persona, dtype=torch.uint8)
    table = AgentTable({"skill_usd": skill, "elasticity": e, "persona": p, "income_usd": skill,
                        "hours_per_year": torch.zeros_like(skill)})
    return with_schedule(World.of(table, seed=2, differentiable=differentiable), schedule)


def test_flat_tax_best_response_is_the_closed_form():
    skill = torch.tensor([10_000.0, 55_000.0, 1_200_000.0], dtype=torch.float64)
    e = torch.tensor([0.1, 0.25, 0.5], dtype=torch.float64)
    out = RationalLabourSupply()(workers(skill, e, schedule=TaxSchedule.flat(0.3)))
    assert out["income_usd"].tolist() == pytest.approx((skill * 0.7**e).tolist(), rel=1e-12)  # z = n (1 - t)^e
    assert out["hours_per_year"].tolist() == pytest.approx((2000 * 0.7**e).tolist(), rel=1e-12)


def test_workers_between_the_two_closed_forms_bunch_at_the_kink():
    # kink at 50,000 from 20% to 40%, e = 0.5: interior below needs n 0.8^0.5 < 50k (n < 55,902), interior above
    # needs n 0.6^0.5 > 50k (n > 64,550); in between, workers sit exactly at the kink.
    s = TaxSchedule([0, 50_000], [0.2, 0.4])
    skill = torch.tensor([40_000.0, 56_000.0, 60_000.0, 64_500.0, 90_000.0], dtype=torch.float64)
    z = RationalLabourSupply()(workers(skill, 0.5, schedule=s))["income_usd"]
    expected = [40_000 * 0.8**0.5, 50_000, 50_000, 50_000, 90_000 * 0.6**0.5]
    assert z.tolist() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("schedule", [TaxSchedule.us_federal_2018(),
                                      TaxSchedule([0, 30_000, 90_000], [0.5, 0.1, 0.6])])  # non-convex too
def test_best_response_beats_a_dense_grid_of_incomes(schedule):
    skill = torch.tensor([8_000.0, 33_000.0, 41_000.0, 95_000.0, 170_000.0, 600_000.0], dtype=torch.float64)
    e = torch.tensor([0.15, 0.3, 0.45, 0.2, 0.35, 0.4], dtype=torch.float64)
    z = RationalLabourSupply()(workers(skill, e, schedule=schedule))["income_usd"]
    grid = torch.linspace(0, 1.2, 200_001, dtype=torch.float64) * skill.unsqueeze(-1)  # [6, G]

    def gain(income):
        return income - schedule.tax_usd(income) - effort_cost_usd(income, skill.unsqueeze(-1), e.unsqueeze(-1))

    best_on_grid = gain(grid).max(-1).values
    chosen = gain(z.unsqueeze(-1)).squeeze(-1)
    assert bool((chosen >= best_on_grid - 1e-9 * skill).all())
    # grid spacing 6e-6 n; next to a kink the gain falls linearly (slope <= 0.5), so the grid is within 3e-6 n
    assert bool((chosen - best_on_grid < 3e-6 * skill).all())


def test_income_gradient_is_minus_e_z_over_net_of_tax_rate():
    rates = torch.tensor([0.2, 0.4], dtype=torch.float64, requires_grad=True)
    world = workers([40_000.0, 60_000.0, 90_000.0], 0.5, schedule=TaxSchedule([0, 50_000], rates),
                    differentiable=True)
    z = RationalLabourSupply()(world)["income_usd"]
    grads = [torch.autograd.grad(z[i], rates, retain_graph=True)[0].tolist() for i in range(3)]
    z = z.detach()
    assert grads[0] == pytest.approx([-0.5 * float(z[0]) / 0.8, 0])  # interior in bracket 0
    assert grads[1] == pytest.approx([0, 0])  # bunched at the kink: no response
    assert grads[2] == pytest.approx([0, -0.5 * float(z[2]) / 0.6])  # interior in bracket 1


def test_kinks_are_listed_once_among_the_candidate_plans():
    s = TaxSchedule([0, 50_000], [0.2, 0.4])
    z, gain = candidate_plans(torch.tensor([60_000.0], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64),
                              s)
    assert z.tolist() == [[50_000.0, 50_000.0]]
    assert math.isinf(float(gain[0, 0]))
    assert math.isfinite(float(gain[0, 1]))


def test_bounded_choice_frequencies_follow_the_logit_probabilities():
    # non-convex schedule: at n = 35,000 two plans are within 100 USD (gains 9,473 and 9,571), so with a 1,000 USD
    # temperature the plan probabilities softmax(gain / temperature) are near 0.475 and 0.525
    s = TaxSchedule([0, 30_000, 90_000], [0.5, 0.1, 0.6])
    n = 100_000
    world = workers(torch.full((n,), 35_000.0), 0.4, persona=torch.full((n,), Persona.TYPICAL), schedule=s)
    supply = BoundedLabourSupply(hours_error_sd_by_persona=(0.0, 0.0, 0.0))
    z = supply(world)["income_usd"]
    plans, gain = candidate_plans(torch.tensor([35_000.0], dtype=torch.float64),
                                  torch.tensor([0.4], dtype=torch.float64), s)
    p = torch.softmax(gain / 1_000.0, -1)[0]  # TYPICAL: 1,000 USD
    assert 0.4 < float(p[0]) < 0.5
    for k in range(2):
        share = float((z == plans[0, k]).double().mean())
        assert abs(share - float(p[k])) < 4 * math.sqrt(float(p[k] * (1 - p[k])) / n)  # 4 SE


def test_bounded_hours_error_is_mean_preserving():
    n = 200_000
    world = workers(torch.full((n,), 50_000.0), 0.3, persona=torch.full((n,), Persona.INATTENTIVE),
                    schedule=TaxSchedule.flat(0.2))
    supply = BoundedLabourSupply(temperature_usd_by_persona=(1e-3, 1e-3, 1e-3))
    z = supply(world)["income_usd"]
    rational = 50_000 * 0.8**0.3
    sd = rational * math.sqrt(math.exp(0.15**2) - 1)  # lognormal with log sd 0.15
    assert abs(float(z.mean()) - rational) < 4 * sd / math.sqrt(n)
    assert float(torch.log(z).std()) == pytest.approx(0.15, rel=0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature_usd_by_persona": (1.0, 2.0)}, "one value per persona"),
        ({"temperature_usd_by_persona": (1.0, 0.0, 2.0)}, "temperatures must be > 0 USD"),
        ({"hours_error_sd_by_persona": (0.1, -0.1, 0.0)}, "hours errors >= 0"),
    ],
)
def test_bad_bounded_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BoundedLabourSupply(**kwargs)
