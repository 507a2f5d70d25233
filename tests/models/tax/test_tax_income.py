"""GB2 income: quantile function against the integrated density, draws against quantiles and moments."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from populace.models.tax.income import ACS_2023_INCOME, GB2Income, ParetoIncome

G = ACS_2023_INCOME


def gb2_density(y: float) -> float:
    """f(y) written out from the GAMLSS GB2 formula, independent of the code under test."""
    r = (y / G.mu_usd) ** G.sigma
    return G.sigma * r**G.nu / (y * math.exp(math.lgamma(G.nu) + math.lgamma(G.tau) - math.lgamma(G.nu + G.tau))
                               * (1 + r) ** (G.nu + G.tau))


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5, 0.9, 0.99])
def test_quantile_inverts_the_integrated_density(p):
    q = float(G.quantile(torch.tensor([p], dtype=torch.float64)))
    mass, _ = integrate.quad(gb2_density, 0, q, limit=200)
    assert mass == pytest.approx(p, abs=1e-7)
    assert float(G.cdf(torch.tensor([q], dtype=torch.float64))) == pytest.approx(p, abs=1e-12)


def test_median_of_the_acs_fit():
    # b = I^{-1}_{0.5}(nu, tau) = 0.2125..., Q = mu (b / (1 - b))^(1/sigma) = 38,101.5 USD
    assert float(G.quantile(torch.tensor([0.5], dtype=torch.float64))) == pytest.approx(38_101.54, abs=0.01)


@pytest.fixture(scope="module")
def draws():
    return G.sample(seed=3, agent_ids=torch.arange(400_000)).numpy()


@pytest.mark.parametrize("p", [0.05, 0.25, 0.5, 0.75, 0.95, 0.999])
def test_draws_fall_below_each_quantile_with_its_probability(draws, p):
    below = float(np.mean(draws <= float(G.quantile(torch.tensor([p], dtype=torch.float64)))))
    se = math.sqrt(p * (1 - p) / draws.size)
    assert abs(below - p) < 4 * se  # 4 standard errors of a binomial share


@pytest.mark.parametrize("k", [-0.5, 0.5, 1.0])
def test_sample_moments_match_the_beta_function_formula(draws, k):
    # E[y^k] = mu^k B(nu + k/sigma, tau - k/sigma) / B(nu, tau); the SE uses E[y^2k], finite for 2k < sigma tau
    # = 2.364 (for k = 1, 2k = 2: barely finite, so the SE itself is noisy; the mean is what is tested).
    mean, second = G.moment(k), G.moment(2 * k)
    se = math.sqrt((second - mean**2) / draws.size)
    assert abs(float(np.mean(draws.astype(np.float64) ** k)) - mean) < 4 * se


def test_mean_income_closed_form():
    assert G.moment(1) == pytest.approx(59_249.37, abs=0.01)


def test_draws_depend_on_agent_id_not_position():
    ids = torch.tensor([5, 17, 2_000_000])
    assert torch.equal(G.sample(9, ids), G.sample(9, ids.flip(0)).flip(0))
    assert torch.equal(G.sample(9, ids)[1:], G.sample(9, ids[1:]))
    assert not torch.equal(G.sample(9, ids), G.sample(10, ids))


def test_pareto_quantile_closed_form():
    pareto = ParetoIncome(minimum_usd=10_000.0, tail_index=2.0)
    assert float(pareto.quantile(torch.tensor([0.75], dtype=torch.float64))) == pytest.approx(20_000.0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GB2Income(mu_usd=-1.0, sigma=2.0, nu=0.5, tau=1.0), "mu_usd must be a finite number > 0"),
        (lambda: GB2Income(mu_usd=1.0, sigma=2.0, nu=0.5, tau=math.inf), "tau must be a finite number > 0"),
        (lambda: ParetoIncome(minimum_usd=1.0, tail_index=0.8), "tail_index > 1"),
        (lambda: G.moment(2.5), r"moments exist only for -1.008 < k < 2.364"),
        (lambda: G.quantile(torch.tensor([0.0, 0.5])), r"open interval \(0, 1\)"),
    ],
)
def test_bad_income_inputs_say_what_is_wrong(build, message):
    with pytest.raises(ValueError, match=message):
        build()
