r"""Who decides the donations: the `DonorPolicy` protocol and what a donor sees (`DonorView`).

By default `Cooperation` decides with the agents' parametric strategies (their theta, `strategies.py`). A
`DonorPolicy` replaces that: each round it sees, for the h donors of every society, their strategy ids and their
recipients' traces, and answers signed fractions f [S, h] (gift f > 0 of the donor's resources; with punishment,
f < 0 spends -f of them to punish); when a generation ends it gives the newcomers their strategy ids (`inherit`:
e.g. a language model rewriting the inherited strategy text). Strategy ids index the policy's own table
(`n_strategies` at the start).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

from torch import Tensor

from populace.core.world import World


@dataclasses.dataclass(frozen=True)
class DonorView:
    """The donors of one round in every society.

    Attributes:
        round: the round within the generation (0-based); generation: the generation (0-based).
        donor_seats: int64 [h], the donors' seats this round (the schedule's).
        donor_strategy: int64 [S, h], each donor's strategy id.
        donor_resources: float [S, h], each donor's resources before the round.
        recipient_trace: float [S, h, D], each donor's recipient's trace (entry 0: what it gave last, signed).
        recipient_history: int [S, h], how many entries of that trace are valid (0: it has not given yet).
    """

    round: int
    generation: int
    donor_seats: Tensor
    donor_strategy: Tensor
    donor_resources: Tensor
    recipient_trace: Tensor
    recipient_history: Tensor


@runtime_checkable
class DonorPolicy(Protocol):
    """Decides every donor's fraction and the newcomers' strategies (module docstring)."""

    @property
    def n_strategies(self) -> int:
        """How many strategies the agents of generation 0 are drawn from (ids 0..n-1)."""
        ...

    def fractions(self, view: DonorView, world: World) -> Tensor:
        """f [S, h] float in [lowest, 1]: each donor's signed fraction this round."""
        ...

    def inherit(self, strategy: Tensor, survives: Tensor, world: World) -> Tensor:
        """int64 [S, n]: the strategy ids of the next generation, from the inherited ids `strategy` [S, n] (each
        newcomer holds its parent's) and which seats are survivors `survives` [S, n] bool."""
        ...
