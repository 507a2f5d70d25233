"""`Contacts`: what a model needs of its contact structure, whether static layers, graphs or daily random mixing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from torch import Tensor

if TYPE_CHECKING:
    from populace.core.world import World


@runtime_checkable
class Contacts(Protocol):
    """y_i = sum_j w_ij(t) x_j over the contacts of each agent on the world's day.

    `ContactLayer`, `ContactGraph` and `RandomMixing` implement it; a model calls `contacts.aggregate(x, world)`
    whatever it was given. ``support``: sorted int64 rows outside which x is 0 and its gradient unused (a hint
    that static layers use to push from those rows only; see `populace.network.aggregate.aggregate`).
    """

    def aggregate(self, x: Tensor, world: World | None = None, *, support: Tensor | None = None) -> Tensor: ...
