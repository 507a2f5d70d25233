r"""A small decision-tree classifier on discrete attributes (CART with Gini impurity), written for `clusters`.

Each split asks whether an agent's level of one attribute equals one value ("age band == 65 or older"); the split
chosen at a node minimises the size-weighted Gini impurity of its two sides,

    n_L (1 - sum_c p_Lc^2) + n_R (1 - sum_c p_Rc^2),

over every attribute and level (ties: the first attribute, then the lowest level), if it lowers the node's impurity
and leaves at least `min_leaf` training agents on each side. Growth stops at `max_depth`. A leaf predicts its most
common class (the lowest on ties), so the tree is deterministic: the same data give the same tree.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

LEAF = -1


class DecisionTree:
    """A fitted tree: per node, the attribute split on (`LEAF` for a leaf), the level, children and class.

    Args:
        codes: int64 [n, m], the training agents' levels (column j in 0..n_levels[j] - 1).
        labels: int64 [n], their classes in 0..n_classes - 1.
        n_levels: L_j of each attribute.
        n_classes: C.
        max_depth: splits from the root to a leaf, at most.
        min_leaf: training agents on each side of a split, at least.
    """

    def __init__(self, codes: Tensor, labels: Tensor, n_levels: Sequence[int], n_classes: int, *,
                 max_depth: int = 12, min_leaf: int = 1):
        if codes.dim() != 2 or labels.shape != codes.shape[:1]:
            raise ValueError(f"codes must be [n, m] and labels [n], got {list(codes.shape)} and {list(labels.shape)}")
        if codes.shape[1] != len(n_levels) or codes.shape[0] == 0:
            raise ValueError(f"codes has {codes.shape[1]} columns and {codes.shape[0]} rows; it needs one column "
                             f"per attribute ({len(n_levels)}) and at least one row")
        if max_depth < 0 or min_leaf < 1:
            raise ValueError(f"max_depth must be >= 0 and min_leaf >= 1, got {max_depth} and {min_leaf}")
        self.n_levels, self.n_classes = tuple(n_levels), n_classes
        self.max_depth, self.min_leaf = max_depth, min_leaf
        self.feature: list[int] = []
        self.level: list[int] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.value: list[int] = []
        self._grow(codes.to(torch.int64), labels.to(torch.int64), 0)

    @property
    def n_leaves(self) -> int:
        return sum(f == LEAF for f in self.feature)

    def predict(self, codes: Tensor) -> Tensor:
        """The class of each agent, int64 [N], from its levels codes [N, m]."""
        if codes.dim() != 2 or codes.shape[1] != len(self.n_levels):
            raise ValueError(f"codes must be [N, {len(self.n_levels)}], got {list(codes.shape)}")
        feature, level = torch.tensor(self.feature), torch.tensor(self.level)
        left, right, value = torch.tensor(self.left), torch.tensor(self.right), torch.tensor(self.value)
        node = torch.zeros(codes.shape[0], dtype=torch.int64)
        rows = torch.arange(codes.shape[0])
        for _ in range(self.max_depth):
            f = feature[node]
            inner = f != LEAF
            if not bool(inner.any()):
                break
            go_left = codes[rows, f.clamp(min=0)].to(torch.int64) == level[node]
            node = torch.where(inner, torch.where(go_left, left[node], right[node]), node)
        return value[node]

    def _grow(self, codes: Tensor, labels: Tensor, depth: int) -> int:
        node = len(self.feature)
        counts = torch.bincount(labels, minlength=self.n_classes)
        for column in (self.feature, self.level, self.left, self.right):
            column.append(LEAF)
        self.value.append(int(counts.argmax()))
        split = self._best_split(codes, labels, counts) if depth < self.max_depth else None
        if split is not None:
            j, level = split
            go = codes[:, j] == level
            self.feature[node], self.level[node] = j, level
            self.left[node] = self._grow(codes[go], labels[go], depth + 1)
            self.right[node] = self._grow(codes[~go], labels[~go], depth + 1)
        return node

    def _best_split(self, codes: Tensor, labels: Tensor, counts: Tensor) -> tuple[int, int] | None:
        n = labels.numel()
        parent = n - float(counts.pow(2).sum()) / n
        best: tuple[float, int, int] | None = None
        c = self.n_classes
        for j, levels in enumerate(self.n_levels):
            left = torch.bincount(codes[:, j] * c + labels, minlength=levels * c).reshape(levels, c).double()
            right = counts.double() - left  # [L, C]
            n_left, n_right = left.sum(1), right.sum(1)
            impurity = (n_left - left.pow(2).sum(1) / n_left.clamp(min=1)
                        + n_right - right.pow(2).sum(1) / n_right.clamp(min=1))
            impurity[(n_left < self.min_leaf) | (n_right < self.min_leaf)] = float("inf")
            level = int(impurity.argmin())
            value = float(impurity[level])
            if value < parent - 1e-12 and (best is None or value < best[0] - 1e-12):
                best = (value, j, level)
        return None if best is None else (best[1], best[2])
