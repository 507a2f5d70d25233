"""The objective's terms are the sums the docstring states."""

import pytest
import torch

from populace.control import ControlVariable, Objective

REMOVAL = ControlVariable("u", 0.0, 2.0)


def test_tracking_and_control_terms_match_their_formulas():
    series = {"prey": torch.tensor([0.3, 0.5, 0.4, 0.2]), "predators": torch.tensor([0.1, 0.1, 0.3, 0.2]),
              "u": torch.tensor([1.0, 1.0, 0.5, 2.0])}
    objective = Objective({"prey": 0.4, "predators": 0.2}, scale=0.1, control_weight=3.0)
    terms = objective.terms(series, [REMOVAL])
    # rows 1..3: prey deviations 1, 0, -2 (in units of 0.1), predators -1, 1, 0; over T = 3 steps
    assert float(terms["tracking"]) == pytest.approx((1 + 0 + 4 + 1 + 1 + 0) / 3)
    # control fractions u / 2 on rows 1..3: 0.5, 0.25, 1
    assert float(terms["control"]) == pytest.approx((0.25 + 0.0625 + 1) / 3)
    assert objective.total(terms) == pytest.approx(7 / 3 + 3 * 1.3125 / 3)
    late = Objective({"prey": 0.4}, scale=0.1, from_step=2).terms(series, [REMOVAL])
    assert float(late["tracking"]) == pytest.approx((0 + 4) / 3)  # the first step's deviation is forgiven


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"targets": {}}, "at least one target level"),
    ({"targets": {"prey": 0.4}, "scale": 0.0}, "scale must be a finite number > 0"),
    ({"targets": {"prey": 0.4}, "control_weight": -1.0}, "control_weight must be a finite number >= 0"),
    ({"targets": {"prey": 0.4}, "from_step": 0}, "from_step must be an int >= 1"),
])
def test_bad_objectives_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Objective(**kwargs)


def test_series_without_a_target_or_a_control_are_refused():
    with pytest.raises(KeyError, match=r"the series lack \['prey'\]"):
        Objective({"prey": 0.4}).terms({"u": torch.zeros(3)}, [REMOVAL])
