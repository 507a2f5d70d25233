"""IPF against closed forms, integer rounding that keeps totals, and bad input."""

import pytest
import torch

from populace.population import Margin, integerize, ipf


def test_uniform_seed_gives_the_independence_table():
    # With a constant seed the KL-closest table with given margins is the outer product row x col / total.
    rows = torch.tensor([30.0, 50.0, 20.0], dtype=torch.float64)
    cols = torch.tensor([60.0, 40.0], dtype=torch.float64)
    fit = ipf(torch.ones(3, 2, dtype=torch.float64), [Margin((0,), rows), Margin((1,), cols)])
    assert fit.converged
    assert torch.allclose(fit.table, torch.outer(rows, cols) / 100.0, atol=1e-9)


def test_seed_odds_ratios_are_preserved():
    # IPF keeps the seed's cross-product (odds) ratios: x00 x11 / (x01 x10) is invariant under row/column scaling.
    seed = torch.tensor([[4.0, 1.0], [2.0, 3.0]], dtype=torch.float64)
    fit = ipf(seed, [Margin((0,), torch.tensor([10.0, 90.0], dtype=torch.float64)),
                     Margin((1,), torch.tensor([35.0, 65.0], dtype=torch.float64))], tolerance=1e-12)
    t = fit.table
    assert float(t[0, 0] * t[1, 1] / (t[0, 1] * t[1, 0])) == pytest.approx(6.0, rel=1e-9)
    assert torch.allclose(t.sum(1), torch.tensor([10.0, 90.0], dtype=torch.float64), atol=1e-9)
    assert torch.allclose(t.sum(0), torch.tensor([35.0, 65.0], dtype=torch.float64), atol=1e-9)


def test_zones_fit_independently_with_joint_margins():
    g = torch.Generator().manual_seed(0)
    seed = torch.rand(4, 5, 2, generator=g, dtype=torch.float64) + 0.1  # [zone, age, sex]
    by_age = torch.rand(4, 5, generator=g, dtype=torch.float64) * 100
    zone_totals = by_age.sum(1, keepdim=True)
    share_female = torch.rand(4, 1, generator=g, dtype=torch.float64)
    by_sex = torch.cat([zone_totals * share_female, zone_totals * (1 - share_female)], dim=1)
    fit = ipf(seed, [Margin((0, 1), by_age, "age"), Margin((0, 2), by_sex, "sex")], tolerance=1e-10)
    assert torch.allclose(fit.table.sum(2), by_age, atol=1e-6)
    assert torch.allclose(fit.table.sum(1), by_sex, atol=1e-6)
    # each zone's fit equals fitting that zone alone
    alone = ipf(seed[2], [Margin((0,), by_age[2]), Margin((1,), by_sex[2])], tolerance=1e-10)
    assert torch.allclose(alone.table, fit.table[2], atol=1e-6)


def test_integerize_keeps_every_zone_total_and_rounds_each_cell_down_or_up():
    g = torch.Generator().manual_seed(1)
    table = torch.rand(6, 7, 3, generator=g, dtype=torch.float64) * 10
    table = table / table.sum((1, 2), keepdim=True) * torch.tensor([100.0, 250, 17, 3, 80, 1000]).reshape(6, 1, 1)
    counts = integerize(table, seed=3, zone_axes=1)
    assert counts.dtype == torch.int64
    assert counts.sum((1, 2)).tolist() == [100, 250, 17, 3, 80, 1000]
    assert bool(((counts - table.floor()) >= 0).all() & ((counts - table.floor()) <= 1).all())
    assert torch.equal(counts, integerize(table, seed=3, zone_axes=1))  # reproducible from the seed


def test_integerize_rounds_up_in_proportion_to_fractions():
    # 1000 zones of 3 cells with fractions 0.1, 0.3, 0.6 (total 1): the extra unit lands in each with those odds.
    table = torch.tensor([[0.1, 0.3, 0.6]], dtype=torch.float64).expand(20_000, 3).contiguous()
    share = integerize(table, seed=5, zone_axes=1).double().mean(0)
    se = (torch.tensor([0.1, 0.3, 0.6]) * torch.tensor([0.9, 0.7, 0.4]) / 20_000).sqrt().double()
    assert bool(((share - torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64)).abs() < 4 * se).all())


@pytest.mark.parametrize(
    ("margins", "error", "match"),
    [
        ([], ValueError, "at least one margin"),
        ([Margin((0,), torch.ones(4))], ValueError, r"target has shape \(4,\), expected \(3,\)"),
        ([Margin((2,), torch.ones(3))], ValueError, "axes must be increasing positions"),
        ([Margin((0,), torch.tensor([1.0, -1.0, 2.0]))], ValueError, "1 negative or non-finite"),
        ([Margin((0,), torch.ones(3), "age"), Margin((1,), torch.ones(2), "sex")], ValueError,
         "age and sex disagree in total: 3.0 vs 2.0"),
    ],
)
def test_bad_margins_raise(margins, error, match):
    with pytest.raises(error, match=match):
        ipf(torch.ones(3, 2, dtype=torch.float64), margins)


def test_unreachable_target_is_explained():
    seed = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)  # all weight in one cell
    margins = [Margin((0,), torch.tensor([1.0, 1.0], dtype=torch.float64), "rows"),
               Margin((1,), torch.tensor([1.0, 1.0], dtype=torch.float64), "cols")]
    with pytest.raises(ValueError, match=r"did not converge in 20 sweeps.*seed cells are all 0"):
        ipf(seed, margins, max_iterations=20)
    loose = ipf(seed, margins, max_iterations=20, strict=False)
    assert not loose.converged
    assert loose.max_relative_error > 0.1


def test_bad_seeds_raise():
    with pytest.raises(TypeError, match="floating-point"):
        ipf(torch.ones(3, dtype=torch.int64), [Margin((0,), torch.ones(3))])
    with pytest.raises(ValueError, match="finite, non-negative"):
        ipf(torch.tensor([1.0, float("nan")]), [Margin((0,), torch.ones(2))])
