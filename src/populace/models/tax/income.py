r"""US incomes as a generalized beta distribution of the second kind (GB2), GAMLSS parameterisation.

Density (Rigby & Stasinopoulos, GAMLSS ``GB2``; McDonald 1984, Econometrica 52(3)), for mu, sigma, nu, tau > 0:

    f(y) = sigma (y / mu)^(sigma nu) / (y B(nu, tau) [1 + (y / mu)^sigma]^(nu + tau)),   y > 0
    F(y) = I_b(nu, tau),  b = (y / mu)^sigma / (1 + (y / mu)^sigma)     (I: regularized incomplete beta)
    Q(p) = mu (b_p / (1 - b_p))^(1 / sigma),  b_p = I^{-1}_p(nu, tau)   (the Beta(nu, tau) quantile)
    E[y^k] = mu^k B(nu + k / sigma, tau - k / sigma) / B(nu, tau),  for -sigma nu < k < sigma tau

The upper tail is Pareto with index a = sigma tau: P(y > z) ~ C z^(-sigma tau). Draws are Q(u) with u from the
engine's counter-based uniforms, so a population is a pure function of (seed, agent id).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import special
from torch import Tensor

from populace.core import rng


@dataclass(frozen=True)
class GB2Income:
    """GB2(mu, sigma, nu, tau) annual income in USD; `ACS_2023_INCOME` is the fit to the US 2023 ACS.

    Attributes:
        mu_usd: scale (USD); the median is mu when nu = tau.
        sigma: shape of the body and, with tau, of the upper tail (tail index sigma tau).
        nu: lower-tail shape (density ~ y^(sigma nu - 1) near 0).
        tau: upper-tail shape.
    """

    mu_usd: float
    sigma: float
    nu: float
    tau: float

    def __post_init__(self) -> None:
        for name in ("mu_usd", "sigma", "nu", "tau"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"GB2Income.{name} must be a finite number > 0, got {value!r}")

    @property
    def tail_index(self) -> float:
        """Pareto index of the upper tail, a = sigma tau."""
        return self.sigma * self.tau

    def quantile(self, p: Tensor) -> Tensor:
        """Q(p) in USD for probabilities p in (0, 1) (float64 tensor, any shape)."""
        if not bool(((p > 0) & (p < 1)).all()):
            raise ValueError("GB2Income.quantile needs probabilities in the open interval (0, 1); "
                             f"got values in [{float(p.min())}, {float(p.max())}]")
        u = p.detach().cpu().double().numpy()
        b = special.betaincinv(self.nu, self.tau, u)  # Beta(nu, tau) quantile
        one_minus_b = special.betaincinv(self.tau, self.nu, 1.0 - u)  # 1 - b ~ Beta(tau, nu): no cancellation near 1
        ratio = np.exp(np.log(b) - np.log(one_minus_b))  # b / (1 - b)
        return torch.from_numpy(self.mu_usd * ratio ** (1.0 / self.sigma)).to(p.device)

    def cdf(self, y_usd: Tensor) -> Tensor:
        """F(y) for incomes y > 0 in USD (float64)."""
        s = (y_usd.detach().cpu().double().numpy() / self.mu_usd) ** self.sigma
        return torch.from_numpy(special.betainc(self.nu, self.tau, s / (1.0 + s))).to(y_usd.device)

    def moment(self, k: float) -> float:
        """E[y^k] in USD^k, finite for -sigma nu < k < sigma tau."""
        if not -self.sigma * self.nu < k < self.sigma * self.tau:
            raise ValueError(f"E[y^{k}] is infinite for this GB2: moments exist only for "
                             f"{-self.sigma * self.nu:.4g} < k < {self.sigma * self.tau:.4g}")
        log_ratio = special.betaln(self.nu + k / self.sigma, self.tau - k / self.sigma) - special.betaln(
            self.nu, self.tau)
        return float(self.mu_usd**k * math.exp(log_ratio))

    def sample(self, seed: int, agent_ids: Tensor, *, stream: str = "income") -> Tensor:
        """One income per agent (float64 USD, [N]): Q(u), u = rng.uniform(seed, 0, stream, id) in float64."""
        return self.quantile(rng.uniform(seed, 0, stream, agent_ids, dtype=torch.float64))


@dataclass(frozen=True)
class ParetoIncome:
    """Pareto(a) income above a minimum: P(y > z) = (minimum / z)^a, Q(p) = minimum (1 - p)^(-1/a).

    The textbook top tail of Saez (2001): its mean above any z* >= minimum is z* a / (a - 1), so a = m / (m - z*).
    """

    minimum_usd: float
    tail_index: float

    def __post_init__(self) -> None:
        if not (self.minimum_usd > 0 and self.tail_index > 1):
            raise ValueError(f"ParetoIncome needs minimum_usd > 0 and tail_index > 1 (a finite mean), got "
                             f"minimum_usd={self.minimum_usd}, tail_index={self.tail_index}")

    def quantile(self, p: Tensor) -> Tensor:
        """Q(p) in USD for p in (0, 1)."""
        return self.minimum_usd * torch.exp(-torch.log1p(-p.double()) / self.tail_index)

    def sample(self, seed: int, agent_ids: Tensor, *, stream: str = "income") -> Tensor:
        """One income per agent (float64 USD, [N]) from the counter-based uniforms, like `GB2Income.sample`."""
        return self.quantile(rng.uniform(seed, 0, stream, agent_ids, dtype=torch.float64))


ACS_2023_INCOME = GB2Income(mu_usd=72402.78, sigma=2.0721, nu=0.48652, tau=1.14104)
"""US personal income, GB2 fitted by GAMLSS to the 2023 American Community Survey (values from the issue brief)."""
