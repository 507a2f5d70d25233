r"""Who meets whom: the donor game's pairing schedule as tensors.

A society's n seats are two halves: A_j is seat j and B_j seat h + j (h = n / 2, j = 0..h-1). In round k,
A_j meets B_{(j + k) mod h}; in even rounds A_j donates to B_{(j + k) mod h}, in odd rounds B_{(j + k) mod h}
donates to A_j. Every seat is in exactly one pair each round, so over an even number of rounds each seat is donor
rounds / 2 times and recipient as often, and A only ever meets B. With n = 4 (h = 2):

    round 0: A0 -> B0, A1 -> B1        donor [0, 1], recipient [2, 3]
    round 1: B1 -> A0, B0 -> A1        donor [3, 2], recipient [0, 1]
    round 2: A0 -> B0, A1 -> B1        (k mod h repeats)
"""

from __future__ import annotations

import torch
from torch import Tensor


def pairing_schedule(agents_per_society: int, rounds: int) -> tuple[Tensor, Tensor]:
    """(donor, recipient), each int64 [rounds, n / 2]: the seats of each round's pairs (module docstring)."""
    if agents_per_society < 2 or agents_per_society % 2 or rounds < 1:
        raise ValueError(f"the schedule needs an even agents_per_society >= 2 and rounds >= 1, got "
                         f"{agents_per_society} and {rounds}")
    h = agents_per_society // 2
    k = torch.arange(rounds).unsqueeze(1)  # [rounds, 1]
    a = torch.arange(h).expand(rounds, h)  # A_j: seat j
    b = h + (a + k) % h  # B_{(j + k) mod h}: seat h + (j + k) mod h
    a_donates = k % 2 == 0
    return torch.where(a_donates, a, b), torch.where(a_donates, b, a)

