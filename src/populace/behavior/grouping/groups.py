r"""`Groups`: a partition of agents (each agent's group and the groups' descriptions), and groupings by attributes.

`by_attributes(attributes, names)` puts agents with the same levels of `names` together (today's archetypes: a
hand-chosen product of attributes). `select_attributes` chooses the attributes from agents' answers to probe
situations, greedily by held-out information gain: with the agents split in two halves A and B (seeded), a
grouping's cross-entropy is

    H(grouping) = -(1/|B| S) sum_{i in B} sum_s sum_k Q_isk log qbar_{g(i) s k},
    qbar_g = mean of Q_j over the agents j of half A in group g (the parent group's qbar when there is none),

averaged over both ways round (A fits, B scores; then B fits, A scores). The gain of attribute a is
H(current) - H(current x a), in nats per answer: the information about an agent's answers that knowing a adds,
measured on agents not used to fit it. An attribute that does not matter splits groups into smaller ones whose
means are noisier, so it gains less than nothing, and selection stops when the best gain is not above
`min_gain`. (Means shrunk towards the parent group would look simpler, but the shrinkage is a bias that every
further split, even on noise, reduces: a false gain.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import Tensor

from populace.behavior.grouping.attributes import AgentAttributes
from populace.core import rng

P_FLOOR = 1e-9
FOLD_STREAM = "grouping/folds"


@dataclasses.dataclass(frozen=True)
class Groups:
    """A partition of N agents into G groups.

    Attributes:
        method: how it was made ("attributes", "auto", "clusters", ...).
        group: int64 [N], each agent's group in 0..G-1.
        labels: the G groups' descriptions.
    """

    method: str
    group: Tensor
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        if self.group.dim() != 1 or self.group.is_floating_point():
            raise ValueError(f"group must be an integer tensor [N], got {self.group.dtype} {list(self.group.shape)}")
        if self.group.numel() and (int(self.group.min()) < 0 or int(self.group.max()) >= len(self.labels)):
            raise ValueError(f"group ids must lie in 0..{len(self.labels) - 1} (one label per group)")
        object.__setattr__(self, "group", self.group.to(torch.int64))

    @property
    def n_groups(self) -> int:
        return len(self.labels)


def by_attributes(attributes: AgentAttributes, names: Sequence[str], method: str = "attributes") -> Groups:
    """One group per combination of the levels of `names` present (all agents together for no names)."""
    cells, group = attributes.cells(names)
    return Groups(method, group, tuple(attributes.describe(names, int(c)) for c in cells))


@dataclasses.dataclass(frozen=True)
class AttributeSelection:
    """The attributes `select_attributes` chose, in order, with the held-out gain (nats per answer) of each.

    Attributes:
        names: the chosen attributes, most informative first.
        gains: the gain of each when it was added.
        entropy: H of everyone in one group, then after each addition (len(names) + 1 values).
    """

    names: tuple[str, ...]
    gains: tuple[float, ...]
    entropy: tuple[float, ...]

    def prefixes(self) -> list[tuple[str, ...]]:
        """(), (names[0],), (names[0], names[1]), ...: the groupings met along the way."""
        return [self.names[:d] for d in range(len(self.names) + 1)]


def select_attributes(attributes: AgentAttributes, answers: Tensor, *, max_attributes: int | None = None,
                      max_cells: int | None = None, min_gain: float = 0.0, seed: int = 0) -> AttributeSelection:
    """Greedy selection by held-out information gain (see the module docstring).

    Args:
        attributes: the probed agents' attributes (n rows).
        answers: their answers to the probe situations, Q [n, S, K].
        max_attributes: choose at most this many (default: no limit).
        max_cells: never choose an attribute that would make more possible cells than this.
        min_gain: stop when the best gain is not above this (nats per answer).
        seed: splits the agents into the two halves.
    """
    n = attributes.n
    if answers.dim() != 3 or answers.shape[0] != n:
        raise ValueError(f"answers must be [agents, situations, options] with {n} agents, got {list(answers.shape)}")
    if n < 4:
        raise ValueError(f"select_attributes needs at least 4 probed agents (two halves), got {n}")
    order = torch.argsort(rng.uniform(seed, 0, FOLD_STREAM, torch.arange(n), dtype=torch.float64))
    half = torch.zeros(n, dtype=torch.bool)
    half[order[: n // 2]] = True
    q = answers.to(torch.float64)
    chosen: list[str] = []
    key = torch.zeros(n, dtype=torch.int64)  # the current grouping's cell of each agent
    cells = 1
    means = _mean(q, half).expand(2, *q.shape)  # [2, n, S, K]: everyone's mean, fitted on A, on B
    entropy = [_cross_entropy(q, half, means)]
    gains: list[float] = []
    limit = len(attributes.names) if max_attributes is None else max_attributes
    while len(chosen) < limit:
        best: tuple[float, str, Tensor, Tensor] | None = None
        for name in attributes.names:
            j = attributes.index(name)
            levels = attributes.n_levels[j]
            if name in chosen or (max_cells is not None and cells * levels > max_cells):
                continue
            child = key * levels + attributes.codes[:, j]
            child_means = _group_means(child, q, half, means)
            gain = entropy[-1] - _cross_entropy(q, half, child_means)
            if best is None or gain > best[0]:
                best = (gain, name, child, child_means)
        if best is None or not best[0] > min_gain:
            break
        gain, name, key, means = best
        cells *= attributes.n_levels[attributes.index(name)]
        chosen.append(name)
        gains.append(gain)
        entropy.append(entropy[-1] - gain)
    return AttributeSelection(tuple(chosen), tuple(gains), tuple(entropy))


def _mean(q: Tensor, rows: Tensor) -> Tensor:
    """[2, 1, S, K]: the mean answer of half A (rows) and of half B (~rows)."""
    return torch.stack([q[rows].mean(0), q[~rows].mean(0)]).unsqueeze(1)


def _group_means(key: Tensor, q: Tensor, half: Tensor, parent: Tensor) -> Tensor:
    """[2, n, S, K]: for each fitting half (A, then B), the mean answer of each agent's group on that half, or the
    parent group's mean (`parent` [2, n, S, K], fitted the same way) where the half has none of the group."""
    _, key = torch.unique(key, return_inverse=True)
    g = int(key.max()) + 1
    out = []
    for f, rows in enumerate((half, ~half)):
        total = torch.zeros(g, *q.shape[1:], dtype=q.dtype).index_add_(0, key[rows], q[rows])
        count = torch.bincount(key[rows], minlength=g)[key].view(-1, *[1] * (q.dim() - 1))  # [n, 1, 1]
        out.append(torch.where(count > 0, total[key] / count.clamp(min=1), parent[f]))
    return torch.stack(out)


def _cross_entropy(q: Tensor, half: Tensor, means: Tensor) -> float:
    """H: the mean over both halves of the cross-entropy of one half's answers under the other's means."""
    scored_b = -(q[~half] * means[0][~half].clamp(min=P_FLOOR).log()).sum(-1).mean()
    scored_a = -(q[half] * means[1][half].clamp(min=P_FLOOR).log()).sum(-1).mean()
    return float((scored_a + scored_b) / 2)
