r"""The rules of the donor game with cultural evolution (Vallinder and Hughes 2024) as parameters: `DonorGameRules`.

A society of n agents (n even) plays `generations` generations of `rounds` rounds each. Every agent starts a
generation with R0 resources. The agents form two halves, A_0..A_{h-1} and B_0..B_{h-1} (h = n / 2); in round k
agent A_j meets B_{(j + k) mod h}, and the roles alternate: in even rounds A donates to B, in odd rounds B to A
(`populace.models.cooperation.schedule`). The donor gives x in [0, R_donor]; the recipient receives m x
(m = `multiplier`). With `punishment`, the donor may instead spend x to take `punishment_factor` x from the
recipient, whose resources are floored at 0. After a generation the `survivor_fraction` of each society with the
most resources survives with its strategy, the rest are replaced by newcomers that inherit the survivors'
strategies (with Gaussian mutation of `mutation_std` on parametric strategies), and everyone starts again at R0.

Defaults are the published ones: n = 12, 10 generations, 12 rounds, R0 = 10, m = 2, traces 3 deep, no punishment
(factor 2 when on), the top half survives. `mutation_std` (0.05, in units of the donated fraction) is ours: the
published agents are language models, which write new strategies instead of mutating numbers.
"""

from __future__ import annotations

import dataclasses
import math


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class DonorGameRules:
    """The parameters of the donor game (module docstring), validated on construction.

    Attributes:
        agents_per_society: n, agents of a society in a generation (even, >= 2: two halves meet).
        generations: G, generations of a run (>= 1).
        rounds: rounds of a generation (even, >= 2: each agent is donor rounds / 2 times and recipient as often).
        initial_resources: R0, resources of every agent when a generation starts (> 0).
        multiplier: m, the recipient receives m x for a donation x (> 0; 1.5, 2 and 3 were studied).
        trace_depth: D, the steps of a recipient's trace its donor sees (>= 1).
        punishment: whether donors may punish instead of donating.
        punishment_factor: the recipient loses this times what the punisher spends (> 0).
        survivor_fraction: the share of each society that survives a generation (n times it a whole number in
            1..n-1).
        mutation_std: standard deviation of the Gaussian mutation of inherited strategy parameters (>= 0).
    """

    agents_per_society: int = 12
    generations: int = 10
    rounds: int = 12
    initial_resources: float = 10.0
    multiplier: float = 2.0
    trace_depth: int = 3
    punishment: bool = False
    punishment_factor: float = 2.0
    survivor_fraction: float = 0.5
    mutation_std: float = 0.05

    def __post_init__(self) -> None:
        n = self.agents_per_society
        if not _is_int(n) or n < 2 or n % 2:
            raise ValueError(f"agents_per_society must be an even int >= 2 (two halves meet; published: 12), got {n!r}")
        if not _is_int(self.generations) or self.generations < 1:
            raise ValueError(f"generations must be an int >= 1 (published: 10), got {self.generations!r}")
        if not _is_int(self.rounds) or self.rounds < 2 or self.rounds % 2:
            raise ValueError(f"rounds must be an even int >= 2 (roles alternate, so each agent donates rounds / 2 "
                             f"times; published: 12), got {self.rounds!r}")
        if not _is_int(self.trace_depth) or self.trace_depth < 1:
            raise ValueError(f"trace_depth must be an int >= 1 (published: 3), got {self.trace_depth!r}")
        for name, published in (("initial_resources", 10), ("multiplier", 2), ("punishment_factor", 2)):
            value = getattr(self, name)
            if not _is_number(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0 (published: {published}), got {value!r}")
        if not isinstance(self.punishment, bool):
            raise ValueError(f"punishment must be True or False (published: False, and True as a variant), got "
                             f"{self.punishment!r}")
        share = self.survivor_fraction
        if not _is_number(share) or not 0 < share < 1 or not float(share * n).is_integer():
            raise ValueError(f"survivor_fraction must lie in (0, 1) with agents_per_society x it a whole number "
                             f"(published: 0.5, the top half), got {share!r} for {n} agents")
        if not _is_number(self.mutation_std) or self.mutation_std < 0:
            raise ValueError(f"mutation_std must be a finite number >= 0 (0: no mutation; default 0.05), got "
                             f"{self.mutation_std!r}")

    @property
    def half(self) -> int:
        """h = n / 2, the agents of each half."""
        return self.agents_per_society // 2

    @property
    def n_survivors(self) -> int:
        """The agents of a society that survive a generation: n x `survivor_fraction`."""
        return round(self.agents_per_society * self.survivor_fraction)

    @property
    def steps(self) -> int:
        """Engine steps of a whole run: one per round, G x rounds."""
        return self.generations * self.rounds

    @property
    def lowest_fraction(self) -> float:
        """The lowest signed donated fraction: -1 with punishment (spend all to punish), else 0."""
        return -1.0 if self.punishment else 0.0
