"""Parametric strategies: the one formula on hand values, its three families, the smooth version, the table."""

import pytest
import torch

from populace.models.cooperation import Strategy, StrategyTable, reputation, tit_for_tat, unconditional
from populace.models.cooperation.strategies import donation_fraction, mutate


def _f(strategy: Strategy, r: list[float], *, seen: bool = True, lowest: float = 0.0, temperature: float = 0.0):
    theta = torch.tensor([strategy.theta] * len(r), dtype=torch.float64)
    has = torch.full((len(r),), seen)
    return donation_fraction(theta, torch.tensor(r, dtype=torch.float64), has, lowest=lowest,
                             temperature=temperature).tolist()


def test_the_three_families_on_hand_values():
    assert _f(unconditional(0.3), [0.0, 0.9]) == [0.3, 0.3]
    assert _f(tit_for_tat(), [0.0, 0.4, 1.0]) == [0.0, 0.4, 1.0]
    assert _f(tit_for_tat(0.2), [0.0, 0.5, 0.9]) == pytest.approx([0.2, 0.7, 1.0])  # clamped at 1
    assert _f(reputation(0.5, high=0.8, low=0.1), [0.49, 0.5, 0.9]) == pytest.approx([0.1, 0.8, 0.8])
    assert _f(Strategy("mix", base=0.1, slope=0.5, bonus=0.2, threshold=0.6), [0.4, 0.6]) == pytest.approx(
        [0.3, 0.6])  # 0.1 + 0.5 r + 0.2 1[r >= 0.6]


def test_no_history_counts_as_fully_generous_and_punishment_goes_below_zero():
    assert _f(tit_for_tat(), [0.0], seen=False) == [1.0]  # tit-for-tat opens by giving everything
    punisher = reputation(0.5, high=0.6, low=-0.4)
    assert _f(punisher, [0.2, 0.7]) == pytest.approx([0.0, 0.6])  # no punishment: clamped at 0
    assert _f(punisher, [0.2, 0.7], lowest=-1.0) == pytest.approx([-0.4, 0.6])
    assert _f(unconditional(-3.0), [0.5], lowest=-1.0) == [-1.0]


def test_smooth_version_stays_inside_and_tends_to_the_exact_one():
    strategy = tit_for_tat(0.2)
    r = [-0.5, 0.0, 0.3, 0.8, 1.0]
    exact = _f(strategy, r)
    for tau in (0.1, 0.01, 0.001):
        smooth = _f(strategy, r, temperature=tau)
        assert all(0 <= f <= 1 for f in smooth)
        assert smooth == pytest.approx(exact, abs=tau * 0.7)  # at most tau log 2 from the exact clamp


def test_mutation_adds_std_times_the_draws():
    theta = torch.tensor([[0.5, 1.0, 0.0, 0.5]])
    noise = torch.tensor([[1.0, -2.0, 0.5, 0.0]], dtype=torch.float64)
    assert mutate(theta, noise, 0.1)[0].tolist() == pytest.approx([0.6, 0.8, 0.05, 0.5])


def test_table_rows_names_and_bad_tables():
    table = StrategyTable([unconditional(0.5), tit_for_tat(), reputation(0.5, high=0.8, low=0.1)])
    assert table.names == ("unconditional 0.5", "tit-for-tat", "reputation 0.5 (0.8/0.1)")
    assert table.theta.reshape(-1).tolist() == pytest.approx([0.5, 0, 0, 0.5, 0, 1, 0, 0.5, 0.1, 0, 0.7, 0.5])
    assert not table.theta.requires_grad
    assert StrategyTable(trainable=True).theta.requires_grad
    assert len(StrategyTable()) == 4
    with pytest.raises(ValueError, match="strategy names must be unique, got \\['tit-for-tat'\\]"):
        StrategyTable([tit_for_tat(), tit_for_tat()])
    with pytest.raises(ValueError, match="needs at least one Strategy"):
        StrategyTable([])
    with pytest.raises(ValueError, match="strategy 'x': slope must be a finite number"):
        Strategy("x", base=0.1, slope=float("nan"))
