r"""`TaxSchedule`: a piecewise-linear income tax given by bracket thresholds and marginal rates.

With thresholds 0 = b_0 < b_1 < ... < b_{K-1} (USD) and marginal rates t_0, ..., t_{K-1} in [0, 1], income z pays

    T(z) = C_j + t_j (z - b_j),   j = max{k : b_k <= z},   C_k = sum_{i<k} t_i (b_{i+1} - b_i)

(C_k is the tax owed at threshold b_k). T is continuous and piecewise linear; it is convex when the rates rise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

US_FEDERAL_2018_THRESHOLDS_USD = (0.0, 9_525.0, 38_700.0, 82_500.0, 157_500.0, 200_000.0, 500_000.0)
US_FEDERAL_2018_RATES = (0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37)
"""2018 US federal income tax, single filers (IRS Revenue Procedure 2018-18), on taxable income."""


class TaxSchedule:
    """Marginal rates `rates` [K] above thresholds `thresholds_usd` [K] (float64; rates may carry gradients).

    >>> s = TaxSchedule([0, 10_000, 50_000], [0.1, 0.2, 0.4])
    >>> s.tax_usd(torch.tensor([5_000.0, 60_000.0], dtype=torch.float64)).tolist()
    [500.0, 13000.0]
    """

    def __init__(self, thresholds_usd: Sequence[float] | Tensor, rates: Sequence[float] | Tensor, *,
                 validate: bool = True):
        self.thresholds_usd = torch.as_tensor(thresholds_usd, dtype=torch.float64)
        self.rates = rates.to(torch.float64) if isinstance(rates, Tensor) else torch.tensor(rates, dtype=torch.float64)
        if validate:
            _check(self.thresholds_usd, self.rates)

    @classmethod
    def flat(cls, rate: float) -> TaxSchedule:
        """One rate on all income: T(z) = rate z."""
        return cls([0.0], [rate])

    @classmethod
    def us_federal_2018(cls) -> TaxSchedule:
        """The 2018 US federal single-filer brackets: 10/12/22/24/32/35/37% at 9,525 / 38,700 / ... / 500,000."""
        return cls(US_FEDERAL_2018_THRESHOLDS_USD, US_FEDERAL_2018_RATES)

    def with_rates(self, rates: Tensor, *, validate: bool = True) -> TaxSchedule:
        """The same brackets with other marginal rates."""
        return TaxSchedule(self.thresholds_usd, rates, validate=validate)

    @property
    def n_brackets(self) -> int:
        return self.thresholds_usd.numel()

    def tax_at_thresholds_usd(self) -> Tensor:
        """C_k, the tax owed at each threshold b_k, [K]."""
        widths = self.thresholds_usd[1:] - self.thresholds_usd[:-1]  # [K-1]
        owed = torch.cumsum(self.rates[:-1] * widths, 0)
        return torch.cat([owed.new_zeros(1), owed])

    def bracket_of(self, income_usd: Tensor) -> Tensor:
        """Index j of the bracket holding each income (int64, same shape); incomes below 0 count as bracket 0."""
        index = torch.searchsorted(self.thresholds_usd, income_usd.detach().contiguous(), right=True) - 1
        return index.clamp_min(0)

    def tax_usd(self, income_usd: Tensor) -> Tensor:
        """T(z) for incomes z >= 0 (USD, any shape)."""
        j = self.bracket_of(income_usd)
        return self.tax_at_thresholds_usd()[j] + self.rates[j] * (income_usd - self.thresholds_usd[j])

    def marginal_rate(self, income_usd: Tensor) -> Tensor:
        """T'(z), the rate of the bracket holding z (the upper bracket's rate at a threshold)."""
        return self.rates[self.bracket_of(income_usd)]

    def __repr__(self) -> str:
        pairs = ", ".join(f"{r:.1%} from {b:,.0f}" for b, r in zip(self.thresholds_usd.tolist(),
                                                                  self.rates.detach().tolist(), strict=True))
        return f"TaxSchedule({pairs})"


def _check(thresholds: Tensor, rates: Tensor) -> None:
    if thresholds.dim() != 1 or thresholds.numel() == 0:
        raise ValueError(f"thresholds_usd must be a non-empty 1-D list of bracket starts, got shape "
                         f"{list(thresholds.shape)}. Example: [0, 9_525, 38_700]")
    if rates.shape != thresholds.shape:
        raise ValueError(f"need one marginal rate per bracket: {thresholds.numel()} thresholds but rates has shape "
                         f"{list(rates.shape)}")
    if not bool(torch.isfinite(thresholds).all()):
        raise ValueError(f"thresholds_usd must be finite, got {thresholds.tolist()}; the top bracket is open-ended "
                         "already, so leave out an infinite upper limit")
    if float(thresholds[0]) != 0.0:
        raise ValueError(f"the first bracket must start at 0 USD, got thresholds_usd[0] = {float(thresholds[0]):,}. "
                         "Prepend 0 (with rate 0 for a tax-free allowance)")
    steps = thresholds[1:] - thresholds[:-1]
    if not bool((steps > 0).all()):
        k = int(torch.nonzero(steps <= 0)[0]) + 1
        raise ValueError(f"bracket thresholds must be strictly increasing, but thresholds_usd[{k}] = "
                         f"{float(thresholds[k]):,} follows {float(thresholds[k - 1]):,}. Sort them, and merge "
                         "brackets that start at the same income")
    values = rates.detach()
    bad = ~((values >= 0) & (values <= 1))  # also catches NaN
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0])
        raise ValueError(f"marginal rates must lie in [0, 1] (fractions, 0.37 for 37%), but rates[{k}] = "
                         f"{float(values[k])}. A rate above 1 taxes more than the extra income; a negative rate is "
                         "a subsidy, which this schedule does not model")
