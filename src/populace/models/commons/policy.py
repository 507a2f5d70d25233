r"""What a harvester sees and answers each month: `GroupView` and the `HarvestPolicy` protocol.

A commons run has G groups of N seats; agent (g, n) is row g * N + n of the world's agent table (group-major), so
per-agent columns reshape to [G, N]. At the start of month t every policy sees the same `GroupView` and returns
the amounts its agents ask for, w [G, N] >= 0:

- fast mode: float, integer-valued (whole units), no autograd graph;
- differentiable mode: float, with gradients to the policy's parameters (the rationing is relaxed to match).

Seats that are not `active` (a collapsed group, a newcomer's seat before it joins) ask for nothing whatever the
policy returns. A policy that serves only some seats (the residents beside a newcomer, `WithNewcomer`) sees them as
`deciding`; the other active seats are still members its agents see.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

from torch import Tensor

from populace.core.world import World


@dataclasses.dataclass(frozen=True)
class GroupView:
    """The state of every group at the start of a month, as the harvesters see it.

    Attributes:
        month: months since the start (0 for the first).
        resource: h [G] float, units in the pool now (after last month's regeneration).
        sustainable_share: f [G] float, integer-valued: floor(floor(h / 2) / N), the most each agent can take
            this month with the pool back at capacity after regeneration (10 at h = 100, N = 5).
        last_request: [G, N] float, what each seat asked for last month (0 in month 0).
        last_catch: [G, N] float, what each seat got last month (0 in month 0).
        active: [G, N] bool, seats that harvest this month (the group has not collapsed, the agent has joined).
        deciding: [G, N] bool or None, the active seats whose amounts this policy decides (None: every active seat).
    """

    month: int
    resource: Tensor
    sustainable_share: Tensor
    last_request: Tensor
    last_catch: Tensor
    active: Tensor
    deciding: Tensor | None = None

    @property
    def asked(self) -> Tensor:
        """[G, N] bool: the seats this policy decides for (`deciding`, or every active seat)."""
        return self.active if self.deciding is None else self.deciding & self.active


@runtime_checkable
class HarvestPolicy(Protocol):
    """Anything that answers the amounts asked: heuristics, a language model per archetype, a learned network."""

    def requests(self, view: GroupView, world: World) -> Tensor:
        """w [G, N] float >= 0: what each seat asks for this month (integer-valued in fast mode)."""
        ...
