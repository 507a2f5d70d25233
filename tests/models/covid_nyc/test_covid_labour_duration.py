"""Duration dependence of re-hiring (`Labour.long_term_rehire_factor`): hand-computed rates, the closed form of
the share still unemployed, gradients against finite differences, the default is the model without it, bad values."""

import math

import pytest
import torch

from populace.core import AgentTable, World
from populace.core.parameters import unconstrained
from populace.models.covid_nyc.labour import LONG_TERM_WEEKS, Labour, weeks_unemployed
from populace.population.nyc import INDUSTRIES

N = 20_000
NO_JOB_LOSS = [0.0] * len(INDUSTRIES)


def unemployed_world(*, lost_job_day: int, step: int, differentiable: bool = False, n: int = N, seed: int = 5,
                     **env: float) -> World:
    """n unemployed members of the labour force whose spells began on step `lost_job_day`, at `step`."""
    employed = torch.zeros(n, dtype=torch.float32 if differentiable else torch.bool)
    columns = {"region": torch.zeros(n, dtype=torch.uint8), "in_labour_force": torch.ones(n, dtype=torch.bool),
               "is_employed": employed, "job_industry": torch.zeros(n, dtype=torch.uint8),
               "lost_job_day": torch.full((n,), lost_job_day, dtype=torch.int16)}
    return World.of(AgentTable(columns), seed=seed, step=step, differentiable=differentiable).with_env(**env)


def still_unemployed(labour: Labour, world: World, weeks: int) -> torch.Tensor:
    """Share of the agents unemployed after `weeks` weekly steps (no job loss: exposure 0)."""
    for _ in range(weeks):
        world = world.update(labour(world)).advance(7)
    return 1 - world.agents.is_employed.float().mean()


def test_weeks_unemployed_count_whole_weeks_from_the_last_loss_or_day_0():
    lost = torch.tensor([0, 7, 14, 20, -1, -1], dtype=torch.int16)
    assert weeks_unemployed(lost, 21).tolist() == [3.0, 2.0, 1.0, 0.0, 3.0, 3.0]


def test_rehiring_rates_fall_geometrically_over_27_weeks_then_hold():
    # rho = 0.1 (no lockdown), m = 0.25: rho_w = 0.1 * 0.25 ** (min(w, 27) / 27)
    labour = Labour(rehire_per_week=0.1, long_term_rehire_factor=0.25)
    for weeks, expected in [(0, 0.1), (9, 0.1 * 0.25 ** (1 / 3)), (27, 0.025), (54, 0.025)]:
        _, rho = labour.rates_per_week(unemployed_world(lost_job_day=0, step=7 * weeks, n=3))
        assert rho.detach().tolist() == pytest.approx([expected] * 3, rel=1e-6), weeks
    _, rho = labour.rates_per_week(unemployed_world(lost_job_day=0, step=7 * 9, n=1, lockdown=1.0))
    assert float(rho.detach()) == pytest.approx(0.1 * (1 - 0.7) * 0.25 ** (1 / 3), rel=1e-6)  # times (1 - q L), q = 0.7


@pytest.mark.parametrize("differentiable", [False, True])
def test_share_still_unemployed_matches_the_closed_form(differentiable):
    # Spells 25 weeks old when the run starts, rho = 0.2, m = 0.3; over 4 weeks they cross 27 weeks, so the share
    # still unemployed is exp(-0.2 * (0.3 ** (25/27) + 0.3 ** (26/27) + 0.3 + 0.3)) = 0.7801.
    labour = Labour(rehire_per_week=0.2, long_term_rehire_factor=0.3, exposure_by_industry=NO_JOB_LOSS)
    world = unemployed_world(lost_job_day=0, step=7 * 25, differentiable=differentiable)
    expected = math.exp(-0.2 * sum(0.3 ** (min(w, LONG_TERM_WEEKS) / LONG_TERM_WEEKS) for w in (25, 26, 27, 28)))
    assert expected == pytest.approx(0.7801, abs=1e-4)
    share = float(still_unemployed(labour, world, 4).detach())
    assert share == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / N))


def test_gradient_of_the_share_still_unemployed_equals_finite_differences():
    # Four weeks from new spells (w = 0..3), rho = 0.2, m = 0.5, no job loss, u = logit(m / 2). Autograd of the
    # simulated share (straight-through draws) and the central difference (h = 0.5) of the simulated share in fast
    # mode on the same uniforms, against the closed form's derivative. Measured on seeds 5-8 (20,000 agents):
    # autograd / exact 0.9997-1.008, finite difference / exact 0.94-1.05 (the closed form's own central difference
    # at h = 0.5 is 0.994 of its derivative).
    def share(u: float, differentiable: bool = False) -> tuple[Labour, torch.Tensor]:
        labour = Labour(rehire_per_week=0.2, long_term_rehire_factor=0.5, exposure_by_industry=NO_JOB_LOSS)
        with torch.no_grad():
            unconstrained(labour, "long_term_rehire_factor").fill_(u)
        return labour, still_unemployed(labour, unemployed_world(lost_job_day=0, step=0,
                                                                 differentiable=differentiable), 4)

    def closed(u: float) -> float:
        m = 2 / (1 + math.exp(-u))
        return math.exp(-0.2 * sum(m ** (w / LONG_TERM_WEEKS) for w in range(4)))

    u0, h = math.log(0.25 / 0.75), 0.5
    labour, simulated = share(u0, differentiable=True)
    simulated.backward()
    autograd = float(unconstrained(labour, "long_term_rehire_factor").grad)
    finite = (float(share(u0 + h)[1]) - float(share(u0 - h)[1])) / (2 * h)
    exact = (closed(u0 + 1e-5) - closed(u0 - 1e-5)) / 2e-5
    assert exact == pytest.approx(-0.01454, rel=1e-3)
    assert autograd == pytest.approx(exact, rel=0.03)
    assert finite == pytest.approx(exact, rel=0.15)


@pytest.mark.parametrize("differentiable", [False, True])
def test_the_default_is_the_model_without_duration_dependence(differentiable):
    # m = 1 gives rho_i = rho exactly, so the draws are those of a constant re-hiring rate, bit for bit
    labour = Labour(rehire_per_week=0.3, job_loss_per_week=0.05)
    assert float(labour.long_term_rehire_factor.detach()) == 1.0
    world = unemployed_world(lost_job_day=0, step=7 * 40, differentiable=differentiable)
    _, rho = labour.rates_per_week(world)
    assert bool((rho == labour.rehire_per_week).all())
    out = labour(world)
    p = -torch.expm1(-labour.rehire_per_week.detach())
    hired = world.bernoulli("labour", p.expand(N), among=~world.agents.is_employed.bool())
    assert torch.equal(out["is_employed"].detach().bool(), hired.detach().bool())


@pytest.mark.parametrize("bad", [0.0, 2.0, -0.5, math.nan])
def test_bad_long_term_rehire_factor_is_refused(bad):
    with pytest.raises(ValueError, match="long_term_rehire_factor must be a number in \\(0, 2\\)"):
        Labour(long_term_rehire_factor=bad)
