r"""The game's two kinks, exact in fast mode and smooth in differentiable mode (temperature tau > 0):

    clamp(x, lo, hi)   = min(max(x, lo), hi)                      (tau = 0)
                       = lo + tau sp((x - lo) / tau) - tau sp((x - hi) / tau)   (tau > 0; sp = softplus)
    step(x)            = 1[x >= 0]                               (tau = 0)
                       = sigmoid(x / tau)                        (tau > 0)

The smooth clamp is increasing, lies inside [lo, hi] (strictly, up to rounding) and tends to the exact one as
tau -> 0 (it is off by at most tau log 2, at x = lo or hi), so a relaxed donor never gives more than it has and a
punished recipient never goes below 0. Temperatures are in the units of x (fractions, or resources for the floor).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's own convention)
from torch import Tensor


def clamp(x: Tensor, low: float, high: float, temperature: float = 0.0) -> Tensor:
    """x clamped to [low, high] (float('inf') for no upper bound); smoothly when temperature > 0."""
    if temperature == 0:
        return x.clamp(low, high)
    tau = temperature
    smooth = low + tau * F.softplus((x - low) / tau)
    return smooth if high == float("inf") else smooth - tau * F.softplus((x - high) / tau)


def step(x: Tensor, temperature: float = 0.0) -> Tensor:
    """1[x >= 0] in x's dtype; sigmoid(x / temperature) when temperature > 0."""
    if temperature == 0:
        return (x >= 0).to(x.dtype)
    return torch.sigmoid(x / temperature)
