r"""Parametric donor strategies: the fraction a donor gives as a function of its recipient's trace.

A strategy has four parameters theta = (a, b, c, t): base, slope, bonus and threshold. A donor facing a recipient
whose last donated fraction was r (the first entry of its trace, `populace.models.cooperation.model`) gives

    f = clamp(a + b r + c 1[r >= t], lo, 1)          lo = 0, or -1 with punishment

of its resources; a negative f (only with punishment) spends -f of them to punish. A recipient that has not
donated yet this generation counts as r = `NO_HISTORY` = 1 (as generous as can be: tit-for-tat opens by giving).
These strategies read only the first entry of the trace; its deeper entries (what the recipient's partners did
before) are there for strategies that read the whole trace, such as language models.
The published variants are rows of this one formula:

- `unconditional(f)`: a = f, b = c = 0 (gives f whatever the recipient did);
- `tit_for_tat(generosity)`: a = generosity, b = 1 (gives back what the recipient gave, plus generosity);
- `reputation(threshold, high, low)`: a = low, c = high - low, t = threshold (high to a recipient whose last
  fraction reached the threshold, low otherwise; a negative low punishes).

A `StrategyTable` holds K strategies, theta [K, 4]; agents hold a strategy id (their lineage) and their own theta
[N, 4], first their strategy's row, then inherited and mutated (`populace.models.cooperation.selection`). In
differentiable mode the clamp and the indicator are smooth (`populace.models.cooperation.relaxed`), so gradients
reach theta through every donation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from populace.models.cooperation import relaxed

NO_HISTORY = 1.0
"""r of a recipient that has not donated yet this generation."""
PARAMETERS = ("base", "slope", "bonus", "threshold")
"""The columns of theta, in order: a, b, c, t."""


@dataclasses.dataclass(frozen=True)
class Strategy:
    """One parametric strategy: f = clamp(base + slope r + bonus 1[r >= threshold], lo, 1) (module docstring)."""

    name: str
    base: float
    slope: float = 0.0
    bonus: float = 0.0
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a strategy needs a non-empty name, got {self.name!r}")
        for field in PARAMETERS:
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"strategy {self.name!r}: {field} must be a finite number, got {value!r}")

    @property
    def theta(self) -> tuple[float, float, float, float]:
        return (float(self.base), float(self.slope), float(self.bonus), float(self.threshold))


def unconditional(fraction: float, name: str | None = None) -> Strategy:
    """Give `fraction` of one's resources to everyone."""
    return Strategy(name or f"unconditional {fraction:g}", base=fraction)


def tit_for_tat(generosity: float = 0.0, name: str | None = None) -> Strategy:
    """Give the fraction the recipient last gave, plus `generosity`."""
    return Strategy(name or ("tit-for-tat" if generosity == 0 else f"generous tit-for-tat {generosity:g}"),
                    base=generosity, slope=1.0)


def reputation(threshold: float, high: float, low: float, name: str | None = None) -> Strategy:
    """Give `high` to a recipient whose last fraction was at least `threshold`, `low` (negative: punish) otherwise."""
    return Strategy(name or f"reputation {threshold:g} ({high:g}/{low:g})", base=low, bonus=high - low,
                    threshold=threshold)


def default_strategies() -> tuple[Strategy, ...]:
    """A mix of the three families: a free rider, an unconditional half-giver, tit-for-tat and a reputation
    threshold (ours: the published strategies are written by language models)."""
    return (unconditional(0.0, "free rider"), unconditional(0.5, "half"), tit_for_tat(),
            reputation(0.5, high=0.8, low=0.1, name="reputation"))


class StrategyTable(nn.Module):
    """K strategies: names and theta [K, 4] (columns `PARAMETERS`), an `nn.Parameter` that a fit may train.

    Args:
        strategies: the strategies, one row each (default: `default_strategies()`).
        trainable: whether theta requires gradients (for `populace.models.cooperation.learned`).
        dtype: float dtype of theta.
    """

    def __init__(self, strategies: Sequence[Strategy] | None = None, *, trainable: bool = False,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        strategies = tuple(default_strategies() if strategies is None else strategies)
        if not strategies or not all(isinstance(s, Strategy) for s in strategies):
            raise ValueError("a StrategyTable needs at least one Strategy (e.g. unconditional(0.5), tit_for_tat(), "
                             "reputation(0.5, high=0.8, low=0.1))")
        names = [s.name for s in strategies]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"strategy names must be unique, got {repeated} more than once; pass name= to tell "
                             "them apart")
        self.names = tuple(names)
        self.theta = nn.Parameter(torch.tensor([s.theta for s in strategies], dtype=dtype), requires_grad=trainable)

    def __len__(self) -> int:
        return len(self.names)

    def extra_repr(self) -> str:
        return f"names={list(self.names)}"


def donation_fraction(theta: Tensor, last_fraction: Tensor, has_history: Tensor, *, lowest: float,
                      temperature: float = 0.0) -> Tensor:
    """f [...] = clamp(a + b r + c 1[r >= t], lowest, 1) for donors' theta [..., 4] and their recipients' last
    fractions [...] (r = `NO_HISTORY` where has_history is False); smooth when temperature > 0."""
    r = torch.where(has_history, last_fraction, torch.full_like(last_fraction, NO_HISTORY))
    a, b, c, t = theta.unbind(-1)
    return relaxed.clamp(a + b * r + c * relaxed.step(r - t, temperature), lowest, 1.0, temperature)


def mutate(theta: Tensor, noise: Tensor, std: float) -> Tensor:
    """theta + std z [..., 4] for standard normal draws z [..., 4] (the caller's counter-based draws)."""
    return theta + std * noise.to(theta.dtype)
