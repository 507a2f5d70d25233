"""TaxSchedule: tax owed against hand-computed 2018 figures, continuity, and specific errors for bad schedules."""

import pytest
import torch

from populace.models.tax.schedule import TaxSchedule


def usd(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_us_federal_2018_tax_by_hand():
    # 60,000: 10% of 9,525 + 12% of 29,175 + 22% of 21,300 = 952.50 + 3,501 + 4,686 = 9,139.50
    # 1,000,000: 150,689.50 owed at 500,000 (IRS 2018 table) + 37% of 500,000 = 335,689.50
    tax = TaxSchedule.us_federal_2018().tax_usd(usd(0, 9_525, 60_000, 500_000, 1_000_000))
    assert tax.tolist() == pytest.approx([0, 952.5, 9_139.5, 150_689.5, 335_689.5])


def test_tax_is_continuous_at_every_threshold():
    s = TaxSchedule.us_federal_2018()
    b = s.thresholds_usd[1:]
    assert torch.allclose(s.tax_usd(b - 1e-6), s.tax_usd(b), atol=1e-6)
    assert s.marginal_rate(b).tolist() == pytest.approx([0.12, 0.22, 0.24, 0.32, 0.35, 0.37])


def test_flat_and_three_bracket_schedules():
    assert TaxSchedule.flat(0.25).tax_usd(usd(80_000)).item() == pytest.approx(20_000)
    three = TaxSchedule([0, 40_000, 160_000], [0.1, 0.3, 0.5])
    assert three.tax_usd(usd(200_000)).item() == pytest.approx(4_000 + 36_000 + 20_000)


def test_tax_is_differentiable_in_the_rates():
    rates = torch.tensor([0.1, 0.3, 0.5], dtype=torch.float64, requires_grad=True)
    TaxSchedule([0, 40_000, 160_000], rates).tax_usd(usd(200_000)).backward()
    assert rates.grad.tolist() == pytest.approx([40_000, 120_000, 40_000])  # income taxed in each bracket


@pytest.mark.parametrize(
    ("thresholds", "rates", "message"),
    [
        ([0, 50_000, 40_000], [0.1, 0.2, 0.3], r"strictly increasing, but thresholds_usd\[2\] = 40,000.0 follows"),
        ([0, 50_000, 50_000], [0.1, 0.2, 0.3], "strictly increasing"),
        ([0, 50_000], [0.1, 1.2], r"must lie in \[0, 1\].*rates\[1\] = 1.2"),
        ([0, 50_000], [-0.1, 0.2], r"rates\[0\] = -0.1"),
        ([0, 50_000], [0.1, float("nan")], r"rates\[1\] = nan"),
        ([1_000, 50_000], [0.1, 0.2], "first bracket must start at 0 USD"),
        ([0, 50_000], [0.1, 0.2, 0.3], "need one marginal rate per bracket: 2 thresholds"),
        ([0, float("inf")], [0.1, 0.2], "thresholds_usd must be finite"),
        ([], [], "non-empty 1-D list"),
    ],
)
def test_bad_schedules_give_specific_errors(thresholds, rates, message):
    with pytest.raises(ValueError, match=message):
        TaxSchedule(thresholds, rates)
