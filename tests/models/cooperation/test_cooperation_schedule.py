"""The pairing schedule: the published rule A_j meets B_{(j + k) mod h}, alternating roles, each seat donor and
recipient rounds / 2 times, never itself, A only ever with B."""

import pytest
import torch

from populace.models.cooperation.schedule import pairing_schedule


def test_four_seats_by_hand():
    donor, recipient = pairing_schedule(4, 3)
    # round 0: A0 -> B0, A1 -> B1; round 1: B1 -> A0, B0 -> A1; round 2 repeats round 0 (k mod 2)
    assert donor.tolist() == [[0, 1], [3, 2], [0, 1]]
    assert recipient.tolist() == [[2, 3], [0, 1], [2, 3]]


def test_published_schedule_twelve_agents_twelve_rounds():
    donor, recipient = pairing_schedule(12, 12)
    assert donor.shape == recipient.shape == (12, 6)
    for k in range(12):
        a_seat = donor[k] if k % 2 == 0 else recipient[k]
        b_seat = recipient[k] if k % 2 == 0 else donor[k]
        assert a_seat.tolist() == list(range(6))
        assert b_seat.tolist() == [6 + (j + k) % 6 for j in range(6)]  # A_j meets B_{(j + k) mod 6}
    assert torch.bincount(donor.reshape(-1), minlength=12).tolist() == [6] * 12
    assert torch.bincount(recipient.reshape(-1), minlength=12).tolist() == [6] * 12


@pytest.mark.parametrize(("n", "rounds"), [(2, 2), (4, 6), (6, 12), (12, 12), (20, 8)])
def test_every_seat_in_one_pair_a_round_donor_and_recipient_equally(n, rounds):
    donor, recipient = pairing_schedule(n, rounds)
    h = n // 2
    for k in range(rounds):
        assert sorted(torch.cat([donor[k], recipient[k]]).tolist()) == list(range(n))  # one pair each, no self
    assert bool((donor != recipient).all())
    assert bool(((donor < h) != (recipient < h)).all())  # A meets only B
    assert torch.bincount(donor.reshape(-1), minlength=n).tolist() == [rounds // 2] * n
    assert torch.bincount(recipient.reshape(-1), minlength=n).tolist() == [rounds // 2] * n


def test_bad_schedule_sizes_are_refused():
    with pytest.raises(ValueError, match="even agents_per_society >= 2"):
        pairing_schedule(5, 4)
