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

from enum import IntEnum

import torch
from torch import Tensor, nn


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
        if stage.dim() == 2:
            return stage[:, k] if excluding is None else stage[:, k] - excluding
        inside = stage == k
        return inside if excluding is None else inside & ~excluding

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

    def _direction(self, stage: Tensor, source: int, target: int) -> Tensor:
        direction = torch.zeros(self.k, dtype=stage.dtype, device=stage.device)
        direction[source], direction[target] = -1, 1
        return direction
