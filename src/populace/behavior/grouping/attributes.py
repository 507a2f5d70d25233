r"""`AgentAttributes`: every agent's level of each of m discrete attributes, as one integer table.

A grouping of agents by attributes needs their levels side by side: codes [N, m] (int64), where codes[i, j] is agent
i's level of attribute j, in 0..L_j - 1, with the words of each level in `labels[j]`. `AgentAttributes.from_levels`
cuts agent columns with the same `Levels` the archetypes use; `cells(names)` numbers the distinct combinations of
some attributes present (the mixed-radix key of `populace.behavior.archetypes.Grouping`, then `group_keys`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from populace.behavior.archetypes import Levels, group_keys


@dataclasses.dataclass(frozen=True)
class AgentAttributes:
    """Discrete attributes of N agents.

    Attributes:
        names: the m attribute names, in the order of the columns of `codes`.
        codes: int64 [N, m], codes[i, j] in 0..len(labels[j]) - 1.
        labels: for each attribute, the words of its levels.
    """

    names: tuple[str, ...]
    codes: Tensor
    labels: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        names, labels = tuple(self.names), tuple(tuple(lv) for lv in self.labels)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "labels", labels)
        if len(set(names)) != len(names):
            raise ValueError(f"attribute names must be distinct, got {list(names)}")
        codes = self.codes
        if not isinstance(codes, Tensor) or codes.dim() != 2 or codes.shape[1] != len(names):
            shape = list(codes.shape) if isinstance(codes, Tensor) else type(codes).__name__
            raise ValueError(f"codes must be an integer tensor [N, {len(names)}] (one column per attribute "
                             f"{list(names)}), got {shape}")
        if codes.is_floating_point() or codes.dtype == torch.bool:
            raise TypeError(f"codes must hold integer levels, got {codes.dtype}")
        if len(labels) != len(names):
            raise ValueError(f"labels needs one tuple of level words per attribute ({len(names)}), got {len(labels)}")
        codes = codes.to(torch.int64)
        object.__setattr__(self, "codes", codes)
        for j, name in enumerate(names):
            if codes.shape[0] and (int(codes[:, j].min()) < 0 or int(codes[:, j].max()) >= len(labels[j])):
                raise ValueError(f"attribute {name!r} has codes outside 0..{len(labels[j]) - 1} (its "
                                 f"{len(labels[j])} labels): {codes[:, j].unique()[:8].tolist()}")

    @classmethod
    def from_levels(cls, agents: Mapping[str, Tensor], levels: Sequence[Levels]) -> AgentAttributes:
        """The level of each agent in each `Levels` (read from agent columns or functions of them)."""
        if not levels:
            raise ValueError("from_levels needs at least one Levels")
        n = len(next(iter(agents.values())))
        columns = []
        for lv in levels:
            source = lv.source(agents) if callable(lv.source) else agents[lv.source]
            columns.append(lv.levels(source).to(torch.int64).reshape(n))
        return cls(tuple(lv.name for lv in levels), torch.stack(columns, dim=1), tuple(lv.labels for lv in levels))

    @property
    def n(self) -> int:
        """The number of agents."""
        return int(self.codes.shape[0])

    @property
    def n_levels(self) -> tuple[int, ...]:
        """L_j, the number of levels of each attribute."""
        return tuple(len(lv) for lv in self.labels)

    def index(self, name: str) -> int:
        """The column of attribute `name`; a `KeyError` listing the attributes if there is none."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no attribute {name!r} (the attributes are: {', '.join(self.names)})") from None

    def take(self, rows: Tensor) -> AgentAttributes:
        """The attributes of the agents at positions `rows` (int64 [n])."""
        return AgentAttributes(self.names, self.codes[rows], self.labels)

    def keys(self, names: Sequence[str]) -> tuple[Tensor, int]:
        """(key [N] int64, cells): the mixed-radix key of each agent's levels of `names` (outermost first) and the
        number of possible cells, prod L_j (1 for no names)."""
        key = torch.zeros(self.n, dtype=torch.int64)
        cells = 1
        for name in names:
            j = self.index(name)
            key = key * self.n_levels[j] + self.codes[:, j]
            cells *= self.n_levels[j]
        return key, cells

    def cells(self, names: Sequence[str]) -> tuple[Tensor, Tensor]:
        """(cells [G], group [N]): the distinct keys of `names` present (ascending) and each agent's position among
        them (int64, 0..G-1)."""
        key, n_cells = self.keys(names)
        if n_cells > 2**62:
            raise ValueError(f"the attributes {list(names)} have {n_cells:,} cells, too many for int64 keys")
        return group_keys(key, n_cells)

    def describe(self, names: Sequence[str], key: int) -> str:
        """The labels of cell `key` of `names`, joined by ', ' ("everyone" for no names)."""
        parts = []
        for name in reversed(list(names)):
            j = self.index(name)
            key, level = divmod(key, self.n_levels[j])
            parts.append(self.labels[j][level])
        return ", ".join(reversed(parts)) or "everyone"
