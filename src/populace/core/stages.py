r"""`Stages`: a model's compartments (S, I, R, ...) per agent, in the representation of the run's mode.

Fast mode holds a uint8 code per agent [N]; differentiable mode a one-hot float mass [N, K] whose entries carry
gradients. A substep written against these methods, with draws from `World.bernoulli` / `World.categorical`, runs
in both modes and samples the same agents in both:

    new = STAGES.member(stage, Stage.S) * world.bernoulli("transmission", p)   # bool [N] | float mass [N]
    stage = STAGES.move(stage, new, Stage.S, Stage.I)

`member` is membership in the mode's own type (bool, or the float mass); `mass` is always float (what contact
aggregation and observables need); `counts` sums each stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

import torch
from torch import Tensor, nn

from populace.core.ops import without


class Stages:
    """The stages of an `IntEnum` whose values are 0..K-1, and the operations that know each mode's representation."""

    def __init__(self, stages: type[IntEnum]):
        values = sorted(int(s) for s in stages)
        if values != list(range(len(values))) or not values:
            raise ValueError(f"{stages.__name__} must number its stages 0..K-1, got values {values}")
        if len(values) > 256:
            raise ValueError(f"{stages.__name__} has {len(values)} stages; uint8 codes hold at most 256")
        self.enum = stages
        self.k = len(values)

    def encode(self, codes: Tensor, *, differentiable: bool) -> Tensor:
        """The stage column from codes [N]: uint8 codes, or (differentiable) the float one-hot [N, K]."""
        if differentiable:
            return nn.functional.one_hot(codes.long(), self.k).float()
        return codes.to(torch.uint8)

    def member(self, stage: Tensor, k: int, *, excluding: Tensor | None = None) -> Tensor:
        """Who is in stage k: bool [N] in fast mode, the float mass [N] in differentiable mode.

        `excluding` (bool | float [N], a part of stage k, e.g. today's arrivals) is taken out: `& ~excluding` on
        bools, `- excluding` on masses, so its gradient cancels too.
        """
        inside = stage[:, k] if stage.dim() == 2 else stage == k
        return inside if excluding is None else without(inside, excluding)

    def member_any(self, stage: Tensor, ks: Sequence[int]) -> Tensor:
        """Who is in any of the stages ks: bool [N] in fast mode (one range test when the codes are consecutive),
        the summed float mass [N] (in the order of ks) in differentiable mode."""
        ks = [int(k) for k in ks]
        if not ks or len(set(ks)) != len(ks):
            raise ValueError(f"member_any needs distinct stages of {self.enum.__name__}, got {ks}")
        if stage.dim() == 2:
            total = stage[:, ks[0]]
            for k in ks[1:]:
                total = total + stage[:, k]
            return total
        low, high = min(ks), max(ks)
        if sorted(ks) == list(range(low, high + 1)):
            return stage == low if low == high else (stage >= low) & (stage <= high)
        inside = stage == ks[0]
        for k in ks[1:]:
            inside = inside | (stage == k)
        return inside

    def mass(self, stage: Tensor, k: int) -> Tensor:
        """Float [N]: 1.0 / 0.0 in fast mode, the mass of stage k in differentiable mode."""
        return stage[:, k] if stage.dim() == 2 else (stage == k).float()

    def counts(self, stage: Tensor) -> Tensor:
        """Agents (or mass) in each stage, float [K]."""
        if stage.dim() == 2:
            return stage.sum(0)
        return torch.bincount(stage, minlength=self.k).float()

    def move(self, stage: Tensor, moved: Tensor, source: int, target: int) -> Tensor:
        """The stage column after `moved` leaves `source` for `target`, out of place.

        Fast mode: `moved` is bool [N] and must mark agents of `source` only (e.g. `member(stage, source) * draw`).
        Differentiable mode: `moved` is the float mass [N] that moves, with its gradient.
        """
        if stage.dim() == 2:
            return stage + moved.unsqueeze(-1) * self._direction(stage, source, target)
        return torch.where(moved, target, stage).to(torch.uint8)

    def move_rows(self, stage: Tensor, rows: Tensor, moved: Tensor, source: int, target: int) -> Tensor:
        """`move` restricted to agents `rows` (int64 [M]; `moved` [M]): the work follows the rows, not N."""
        if stage.dim() == 2:
            return stage.index_add(0, rows, moved.unsqueeze(-1) * self._direction(stage, source, target))
        stage = stage.clone()
        stage[rows[moved]] = target
        return stage

    def move_rows_many(self, stage: Tensor, rows: Tensor, moves: Sequence[tuple[Tensor, int, int]]) -> Tensor:
        """Several `move_rows` on the same agents `rows` (distinct, int64 [M]) at once, each move (moved [M], source,
        target) read from the stage before any of them: one new column, not one per move.

        Fast mode: each agent moves at most once (the masks are disjoint; checked, with one reduction, since a second
        move would silently overwrite the first). Differentiable mode adds every move's mass.

        Example: E -> A or I and A -> R on today's event rows, `[(e * to_a, E, A), (e * to_i, E, I), (a * ends, A, R)]`.
        """
        if not moves:
            return stage
        if stage.dim() == 2:
            deltas = [moved.unsqueeze(-1) * self._direction(stage, source, target) for moved, source, target in moves]
            delta = deltas[0]  # [M, K]
            for d in deltas[1:]:
                delta = delta + d
            return stage.index_add(0, rows, delta)
        _check_disjoint(rows, [moved for moved, _, _ in moves])
        stage = stage.clone()
        for moved, _, target in moves:
            stage[rows[moved]] = target
        return stage

    def _direction(self, stage: Tensor, source: int, target: int) -> Tensor:
        direction = torch.zeros(self.k, dtype=stage.dtype, device=stage.device)
        direction[source], direction[target] = -1, 1
        return direction


def _check_disjoint(rows: Tensor, masks: Sequence[Tensor]) -> None:
    """Refuse bool masks [M] of which two mark the same row (one `any` over M after 2 ops per mask)."""
    seen, twice = masks[0], torch.zeros_like(masks[0])
    for mask in masks[1:]:
        twice, seen = twice | (seen & mask), seen | mask
    if bool(twice.any()):
        agents = rows[twice]
        raise ValueError(f"move_rows_many moves {agents.numel()} agent(s) more than once in fast mode (rows "
                         f"{agents[:5].tolist()}); a second move would overwrite the first: make the moves' masks "
                         "disjoint (e.g. `e * to_a` and `e * ~to_a`), or apply the moves one after another with "
                         "move_rows")
