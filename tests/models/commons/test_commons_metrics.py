"""GovSim's metrics against hand-computed values, alone and from a run."""

import pytest
import torch

from populace.models.commons import Commons, CommonsRules, SustainableShare
from populace.models.commons.metrics import efficiency, equality, group_metrics, over_usage, survival_time


def test_survival_time_is_the_last_month_above_the_threshold():
    h = torch.tensor([[100.0, 50.0, 50.0, 50.0],  # sustainable: 3 months
                      [100.0, 4.0, 4.0, 4.0],  # collapses in month 1: 0
                      [100.0, 50.0, 6.0, 5.0],  # left at exactly C in month 3: counts 2 (strict inequality)
                      [4.0, 4.0, 4.0, 4.0]]).T  # [T + 1 = 4, G = 4]; even h0 not above C: 0
    assert survival_time(h, 5.0).tolist() == [3, 0, 2, 0]


def test_efficiency():
    # T = 12, f0 = 50: 600 -> 1; 300 -> 0.5; 0 -> 0; 900 (over-harvest) -> 1 (no bonus)
    assert efficiency(torch.tensor([600.0, 300.0, 0.0, 900.0]), 12).tolist() == [1.0, 0.5, 0.0, 1.0]
    assert efficiency(torch.tensor([30.0]), 3, f0=20.0).item() == pytest.approx(0.5)


def test_equality_is_one_minus_gini():
    gains = torch.tensor([[10.0, 10.0, 10.0, 10.0],
                          [0.0, 0.0, 0.0, 12.0],
                          [1.0, 2.0, 3.0, 4.0],
                          [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    # row 1: sum |Ri - Rj| = 6 * 12 = 72, 2 n^2 mean = 2 * 16 * 3 = 96: Gini 0.75
    # row 2: pairs |i - j| over ordered pairs = 2 * (1+2+3+1+2+1) = 20, 2 * 16 * 2.5 = 80: Gini 0.25
    assert equality(gains).tolist() == pytest.approx([1.0, 0.25, 0.75, 1.0])


def test_over_usage():
    assert over_usage(torch.tensor([3.0, 0.0, 0.0]), torch.tensor([12.0, 5.0, 0.0])).tolist() == [0.25, 0.0, 0.0]


def test_group_metrics_of_a_run():
    # group 0 takes the sustainable share (10 each) for 3 months; group 1 takes 19, 19, 19, 19, 20 and collapses
    class TwoGroups(SustainableShare):
        def requests(self, view, world):
            w = super().requests(view, world).clone()
            w[1] = torch.tensor([19.0, 19.0, 19.0, 19.0, 20.0])
            return w

    rules = CommonsRules(months=3)
    traj = Commons(2, TwoGroups(), rules).run(3, seed=0, progress=False)
    m = group_metrics(traj, rules)
    assert m["survival_months"].tolist() == [3, 0]
    assert m["survived"].tolist() == [1, 0]
    assert m["gain_per_agent"].tolist() == [30, 19.2]
    assert m["efficiency"].tolist() == pytest.approx([1.0, 96 / 150])
    assert m["equality"].tolist() == pytest.approx([1.0, 1 - 8 / (2 * 25 * 19.2)])  # 8 = sum |Ri - Rj|
    assert m["over_usage"].tolist() == [0.0, 1.0]


def test_group_metrics_needs_a_finished_run():
    rules = CommonsRules(months=3)
    with pytest.raises(ValueError, match=r"needs a finished run of 3 months"):
        group_metrics(Commons(1, SustainableShare(), rules).run(2, seed=0, progress=False), rules)
