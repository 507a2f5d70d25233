"""`anchored`: a forecast restarted from the last observed row, by hand."""

import pytest
import torch

from populace.calibrate import anchored

SIMULATED = torch.tensor([[1.0, 4.0], [2.0, 0.0], [3.0, 5.0], [4.0, 6.0]])  # rows 0-1 training, 2-3 held out
OBSERVED = torch.tensor([[9.0, 9.0], [6.0, 3.0], [0.0, 0.0], [0.0, 0.0]])


def test_counts_are_scaled_to_the_observation_on_the_anchor_row():
    got = anchored(SIMULATED, OBSERVED, 1, [2, 3])
    # column 0: ratio 6 / 2 = 3; column 1: the simulation is 0 on the anchor row, so it is left as it is
    assert got.tolist() == [[9.0, 5.0], [12.0, 6.0]]


def test_rates_are_shifted_to_the_observation_on_the_anchor_row():
    got = anchored(SIMULATED, OBSERVED, 1, [2, 3], additive=True)
    assert got.tolist() == [[7.0, 8.0], [8.0, 9.0]]  # + (6 - 2), + (3 - 0)


def test_an_exact_simulation_is_unchanged_and_shapes_must_agree():
    assert anchored(SIMULATED, SIMULATED, 1, [2, 3]).tolist() == SIMULATED[2:].tolist()
    with pytest.raises(ValueError, match="differ in shape"):
        anchored(SIMULATED, OBSERVED[:, :1], 1, [2, 3])
