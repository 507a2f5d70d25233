"""The draw coupling of a stochastic-derivative run: what each Bernoulli draw of a step does on the primal path and
on an alternative path (Arya, Schauer, Schäfer & Rackauckas, "Automatic Differentiation of Programs with Discrete
Randomness", NeurIPS 2022).

A Bernoulli draw x = 1[u < p] whose probability moves with a parameter, dp/dtheta = p', has the derivative
d/dtheta E[f(x)] = p' (f(1) - f(0)). Its stochastic derivative says which draws would flip and how often: when
p' > 0 a draw that gave 0 flips to 1 with weight p' / (1 - p) (the chance that u falls in [p, p + p' dtheta) given
u >= p, per unit dtheta); when p' < 0 a draw that gave 1 flips to 0 with weight -p' / p. Averaged over x, weight
times (f(flipped) - f(x)) is p' (f(1) - f(0)), the exact derivative.

On the primal path (`Mode.PRIMAL`) p carries its tangent p' as a forward-mode dual number; each draw returns the
primal sample and records every position's flip weight. An alternative path replays a step either as it is
(`Mode.FOLLOW`: its own p, the same uniforms, no new flips: they would be second order) or from the primal's world
with one chosen draw flipped (`Mode.REPLAY`). Which flip is kept is chosen by `Reservoir`, the pruning of the paper:
between the path's current alternative and this step's new flips, one is kept at random and reweighted by the
inverse of its chance of being kept, so the estimate stays unbiased.
"""

from __future__ import annotations

import dataclasses
import enum

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor

from populace.sampling import active_coupling, coupled

__all__ = ["DrawCoupling", "Flip", "Mode", "Reservoir", "active_coupling", "coupled", "flip_weights"]

class Mode(enum.Enum):
    PRIMAL = "primal"
    FOLLOW = "follow"
    REPLAY = "replay"


@dataclasses.dataclass
class DrawCoupling:
    """How the Bernoulli draws of one step behave; draws are numbered by call order within the step.

    Attributes:
        mode: PRIMAL records flip weights; FOLLOW draws plainly; REPLAY flips `flip_position` of call `flip_call`.
        weights: (PRIMAL) each call's flip weights [M] (None where p carries no tangent), in call order.
        flip_call, flip_position: (REPLAY) the draw to flip.
    """

    mode: Mode
    weights: list[Tensor | None] = dataclasses.field(default_factory=list)
    flip_call: int = -1
    flip_position: int = -1
    calls: int = 0

    def bernoulli(self, p: Tensor, u: Tensor, *, among: Tensor | None = None) -> Tensor:
        """x = 1[u < p] (bool) for this step's next draw, recorded or flipped as the mode says; only the draws
        `among` (bool like p; None: all) count: x is False elsewhere and never flips."""
        primal, tangent = fwad.unpack_dual(p)
        hard = u < primal if among is None else (u < primal) & among
        if self.mode is Mode.PRIMAL:
            weights = None if tangent is None else flip_weights(primal, tangent, hard)
            self.weights.append(weights if weights is None or among is None else weights * among)
        elif self.mode is Mode.REPLAY and self.calls == self.flip_call:
            hard = hard.clone()
            hard[self.flip_position] = ~hard[self.flip_position]
        self.calls += 1
        return hard


def flip_weights(p: Tensor, dp: Tensor, hard: Tensor) -> Tensor:
    """Rate per unit parameter at which each draw x = `hard` flips: dp / (1 - p) for x = 0 when dp > 0, -dp / p for
    x = 1 when dp < 0, else 0 ([M] float64). The denominators are never 0 where used: u < 1 makes p = 1 draw 1, and
    u > 0 makes p = 0 draw 0."""
    p, dp = p.double(), dp.double()
    up = torch.where(~hard & (dp > 0), dp, 0.0) / torch.where(hard, 1.0, 1 - p).clamp(min=1e-300)
    down = torch.where(hard & (dp < 0), -dp, 0.0) / torch.where(hard, p, 1.0).clamp(min=1e-300)
    return up + down


@dataclasses.dataclass(frozen=True)
class Flip:
    """A new alternative: flip position `position` of draw call `call` of this step."""

    call: int
    position: int


class Reservoir:
    """Pruning for one alternative path: keep its current alternative or take one of a step's new flips, chosen at
    random, and reweight the one kept so that the estimate stays unbiased (Arya et al. 2022, sec. 4).

    Each step gets the score W_t ** `step_exponent` (W_t: its flips' total weight); the current alternative scores
    the sum of the earlier steps' scores. The kept one is chosen in proportion to its score, a flip within a step in
    proportion to its weight, and it is weighted by its weight / (its probability of being chosen). Exponent 1 is
    the paper's pruning (the path's weight is the total of all flip weights); a smaller one samples the steps more
    evenly, which favours early flips, whose consequences are the largest in a growing epidemic. Choices come
    from a seeded generator of its own, so a run is reproducible.
    """

    def __init__(self, seed: int, step_exponent: float = 1.0):
        if not 0 <= step_exponent <= 1:
            raise ValueError(f"step_exponent must be in [0, 1], got {step_exponent!r}")
        self.weight = 0.0
        self.step_exponent = step_exponent
        self._score = 0.0
        self._generator = torch.Generator().manual_seed(seed)

    def choose(self, step_weights: list[Tensor | None]) -> Flip | None:
        """Given a primal step's flip weights per call, the flip to take (None: keep the current alternative)."""
        parts = [torch.zeros(0, dtype=torch.float64) if w is None else w.cpu() for w in step_weights]
        cumulative = torch.cat(parts).cumsum(0)  # all of the step's flips, call after call
        new = float(cumulative[-1]) if len(cumulative) else 0.0
        if new <= 0:
            return None
        kept, step_score = self._score, new**self.step_exponent
        self._score = kept + step_score
        r = float(torch.rand((), generator=self._generator, dtype=torch.float64)) * self._score
        if r < kept:
            self.weight *= self._score / kept
            return None
        self.weight = self._score * new / step_score
        target = torch.tensor([min((r - kept) / step_score * new, new * (1 - 1e-12))], dtype=torch.float64)
        index = int(torch.searchsorted(cumulative, target, side="right"))  # the first flip whose cumulative passes it
        for call, part in enumerate(parts):
            if index < len(part):
                return Flip(call, index)
            index -= len(part)
        raise AssertionError("unreachable: the index lies within the step's flips")
