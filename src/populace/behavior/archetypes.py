r"""Archetypes: agents grouped by a few attributes cut into labelled levels, as integer keys built with array ops.

A `Levels` cuts one agent column or situation feature into L labelled levels, either by bin edges (numbers:
level k holds edges[k-1] <= x < edges[k]) or by a table from integer codes to levels (categories). A `Grouping` of
attributes a_1..a_m with L_1..L_m levels gives each agent the mixed-radix key

    key_i = sum_j level_j(i) * stride_j,    stride_j = L_{j+1} * ... * L_m,

one of L_1 x ... x L_m cells, and decodes a key back into its levels' labels (the words a prompt is built from).
`group_keys` finds the distinct keys of N agents and each agent's group ([G] keys, [N] inverse) without a Python
loop over agents. A model defines its own levels (e.g. `populace.models.covid_nyc.archetypes`).

Speed (a decision step of 8.4M agents): on the CPU, levels and keys are computed with NumPy in the narrowest
unsigned type that holds them (uint8 up to 256 cells, then uint16), several times faster there than PyTorch's
elementwise ops; elsewhere with PyTorch (int32). `Levels.level_values` and `Grouping.key_values` give them in that
raw form (`LevelValues`: an int when every agent has the same one), `combine_keys`, `mask_keys`, `count_keys` and
`take_keys` work on it, and `KeyCache` keeps the levels of agent columns that have not changed since the last step
(age, region: computed once per run).
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

Source = str | Callable[[Mapping[str, Tensor]], Tensor]
"""Where a `Levels` reads its values: a column / situation feature name, or a function of the agent table."""

LevelValues = int | np.ndarray | Tensor
"""Levels or keys of N agents: an int when all N share it, else [N] values, a NumPy array on the CPU (uint8 up to
256 cells, uint16 up to 65,536, else int32; see `NUMPY_ON_CPU`), an int32 tensor elsewhere. Read-only: a level
array may be the agent column itself (codes that are their own levels)."""

DENSE_KEY_LIMIT = 1 << 24
"""`group_keys` counts keys in a dense table up to this many cells (one pass, ~10x faster than sorting)."""
MAX_CELLS = 2**31 - 1
"""Keys are int32 at most: a grouping (archetypes x situations) has at most this many cells."""
COUNT_CHUNK = 1 << 18
"""`count_keys` counts NumPy keys this many at a time."""
NUMPY_ON_CPU = True
"""Compute the levels and keys of CPU tensors with NumPy (the same values; False: PyTorch, as on other devices)."""


def uses_numpy(values: Tensor) -> bool:
    """True when the levels and keys of `values` are NumPy arrays (a CPU tensor, `NUMPY_ON_CPU`)."""
    return NUMPY_ON_CPU and values.device.type == "cpu"


def key_dtype(n_cells: int) -> np.dtype:
    """The narrowest NumPy type of keys 0..n_cells-1: uint8, uint16 or int32."""
    if n_cells > MAX_CELLS:
        raise ValueError(f"{n_cells:,} cells is more than int32 keys hold ({MAX_CELLS:,}); use fewer levels")
    return np.dtype(np.uint8 if n_cells <= 1 << 8 else np.uint16 if n_cells <= 1 << 16 else np.int32)


@dataclasses.dataclass(frozen=True)
class Levels:
    """One attribute cut into labelled levels. Build it with `Levels.bins` or `Levels.codes`.

    Attributes:
        name: the attribute's name (also the prompt field that shows its label).
        source: the column or situation feature read, or a function of the agent table returning [N] values.
        labels: the words for each level, as the prompt shows them.
        edges: for numbers, the L - 1 increasing bin edges; None for codes.
        code_levels: for codes, the level of code c at position c; codes past the end get `other_level`.
        other_level: the level of codes past `code_levels` (None: such a code is an error).
        reads: for a function source, the agent columns it reads: its levels are then computed again only when one
            of them changes (`KeyCache`); empty: every time.
    """

    name: str
    source: Source
    labels: tuple[str, ...]
    edges: tuple[float, ...] | None = None
    code_levels: tuple[int, ...] | None = None
    other_level: int | None = None
    reads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ValueError(f"a Levels name must be an identifier (it names a prompt field), got {self.name!r}")
        if not self.labels or any(not isinstance(label, str) or not label for label in self.labels):
            raise ValueError(f"Levels {self.name!r} needs one non-empty label per level, got {self.labels!r}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"Levels {self.name!r} has repeated labels {self.labels!r}: each level needs its own")
        if self.edges is not None:
            if len(self.edges) != len(self.labels) - 1:
                raise ValueError(f"Levels {self.name!r}: {len(self.labels)} labels need {len(self.labels) - 1} bin "
                                 f"edges, got {len(self.edges)}: {self.edges!r}")
            increasing = all(b > a for a, b in zip(self.edges, self.edges[1:], strict=False))
            if not increasing or any(not math.isfinite(e) for e in self.edges):
                raise ValueError(f"Levels {self.name!r}: bin edges must be finite and increasing, got {self.edges!r}")
        elif self.code_levels is not None:
            bad = [lv for lv in (*self.code_levels, self.other_level) if lv is not None and lv not in
                   range(len(self.labels))]
            if bad:
                raise ValueError(f"Levels {self.name!r}: code levels must lie in 0..{len(self.labels) - 1}, got {bad}")
        else:
            raise ValueError(f"Levels {self.name!r} needs bin edges or a code table; use Levels.bins or Levels.codes")
        reads = (self.reads,) if isinstance(self.reads, str) else tuple(self.reads)
        if reads and (not callable(self.source) or not all(isinstance(c, str) for c in reads)):
            raise ValueError(f"Levels {self.name!r}: reads names the agent columns a function source reads (column "
                             f"names), got {self.reads!r} for the source {self.source_name()!r}")
        object.__setattr__(self, "reads", reads)

    @classmethod
    def bins(cls, name: str, source: Source, edges: Sequence[float], labels: Sequence[str], *,
             reads: Sequence[str] = ()) -> Levels:
        """Numbers cut at `edges`: level k holds edges[k-1] <= x < edges[k] (so len(labels) = len(edges) + 1)."""
        return cls(name, source, tuple(labels), edges=tuple(float(e) for e in edges), reads=tuple(reads))

    @classmethod
    def codes(cls, name: str, source: Source, labels: Sequence[str], *, code_levels: Sequence[int] | None = None,
              other_label: str | None = None, reads: Sequence[str] = ()) -> Levels:
        """Integer codes: code c has level `code_levels[c]` (default: level c); codes past the table get the
        extra level `other_label` (None: they are an error)."""
        labels = tuple(labels)
        table = tuple(range(len(labels))) if code_levels is None else tuple(int(c) for c in code_levels)
        other = None
        if other_label is not None:
            labels, other = (*labels, other_label), len(labels)
        return cls(name, source, labels, code_levels=table, other_level=other, reads=tuple(reads))

    @property
    def n_levels(self) -> int:
        return len(self.labels)

    def source_name(self) -> str:
        return self.source if isinstance(self.source, str) else getattr(self.source, "__name__", repr(self.source))

    def levels(self, values: Tensor) -> Tensor:
        """The level of each value: int32 [N] in 0..L-1 (`level_values` as a tensor)."""
        return as_tensor(self.level_values(values), values.numel(), values.device, torch.int32)

    def level_values(self, values: Tensor) -> LevelValues:
        """The level of each value [N], as `LevelValues`: an int when all are equal and it shows without a pass
        over them (one value for all, or min and max in one level).

        Numbers are cut at the edges in their own dtype (x >= edge, one pass per edge between min and max); codes,
        and small integers cut at edges, go through a lookup table over min..max (one gather, none when the codes
        are their own levels). NaN, infinite or fractional codes and codes without a level raise ValueError.
        """
        values = values.detach()
        if values.dim() == 1 and values.numel() > 1 and values.stride(0) == 0:  # one value for all (x.expand(n))
            one = self.level_values(values[:1])
            return one if isinstance(one, int) else int(one[0])
        if uses_numpy(values):
            return self._levels_numpy(values)
        return self._levels_torch(values)

    def _levels_numpy(self, values: Tensor) -> int | np.ndarray:
        dtype = key_dtype(self.n_levels)
        if values.numel() == 0:
            return np.zeros(0, dtype)
        if self.edges is not None and values.is_floating_point():
            edges = torch.tensor(self.edges, dtype=values.dtype)  # compared in the values' own precision
            if values.dtype == torch.bfloat16:  # NumPy has no bfloat16; float32 holds both exactly
                values, edges = values.float(), edges.float()
            return self._bin_numpy(values.numpy(), edges.numpy(), dtype)
        x = (values.float() if values.dtype == torch.bfloat16 else values).numpy()
        if x.dtype == np.bool_:
            x = x.view(np.uint8)
        elif x.dtype.kind == "f":
            if not bool((x == np.round(x)).all()):
                raise ValueError(f"{self.source_name()!r} (levels {self.name!r}) must hold integer codes, got "
                                 f"fractional values; use Levels.bins for numbers")
            x = x.astype(np.int64)
        low, high = int(x.min()), int(x.max())
        if self.edges is not None and high - low > DENSE_KEY_LIMIT:  # wide integers: compare, no table
            return self._bin_numpy(x, np.asarray(self.edges, dtype=np.float64), dtype)
        start = 0 if low >= 0 and high < 1 << 16 else low  # a table from 0 indexes x without a subtraction
        table = self._table(start, high).numpy()  # int32 [high - start + 1]
        index = x if start == 0 else x.astype(np.int64) - start
        if bool((table[low - start:] < 0).any()):  # codes in low..high without a level: are any used?
            level = table[index]
            if bool((level < 0).any()):
                bad = np.unique(x[level < 0])[:5].tolist()
                raise ValueError(f"{self.source_name()!r} (levels {self.name!r}) has codes {bad} outside 0.."
                                 f"{len(self.code_levels or ()) - 1}; give Levels.codes an other_label for them, "
                                 f"or more labels")
            return level.astype(dtype)
        used = table[low - start:]
        if bool((used == used[0]).all()):
            return int(used[0])
        if start == 0 and x.dtype == dtype and bool((table == np.arange(table.size)).all()):
            return x  # codes that are their own levels
        return table.astype(dtype)[index]

    def _bin_numpy(self, x: np.ndarray, edges: np.ndarray, dtype: np.dtype) -> int | np.ndarray:
        """level = number of edges <= x, counting only the edges between min(x) and max(x)."""
        low, high = x.min(), x.max()  # NaN propagates
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError(f"{self.source_name()!r} (levels {self.name!r}) has NaN or infinite values")
        first, last = (int(i) for i in np.searchsorted(edges, np.array([low, high]), side="right"))
        if first == last:
            return first
        above = x >= edges[first]
        level = above.view(np.uint8) if dtype == np.uint8 else above.astype(dtype)
        for edge in edges[first + 1:last]:
            level += x >= edge
        if first:
            level += first
        return level

    def _levels_torch(self, values: Tensor) -> Tensor:
        if self.edges is not None and values.is_floating_point():
            if not bool(torch.isfinite(values).all()):
                raise ValueError(f"{self.source_name()!r} (levels {self.name!r}) has NaN or infinite values")
            edges = torch.tensor(self.edges, dtype=values.dtype, device=values.device)
            return torch.bucketize(values.contiguous(), edges, right=True, out_int32=True)
        if values.is_floating_point():
            if not bool((values == values.round()).all()):
                raise ValueError(f"{self.source_name()!r} (levels {self.name!r}) must hold integer codes, got "
                                 f"fractional values; use Levels.bins for numbers")
            values = values.long()
        if values.dtype in (torch.bool, torch.uint8, torch.int8):
            low, high = (0, 1) if values.dtype == torch.bool else (torch.iinfo(values.dtype).min,
                                                                   torch.iinfo(values.dtype).max)
        else:
            low, high = (int(values.min()), int(values.max())) if values.numel() else (0, 0)
            if self.edges is not None and high - low > DENSE_KEY_LIMIT:  # wide integers: compare, no table
                edges = torch.tensor(self.edges, dtype=torch.float64, device=values.device)
                return torch.bucketize(values.double(), edges, right=True, out_int32=True)
        table = self._table(low, high).to(values.device)  # [high - low + 1]
        index = values.to(torch.int32) if low == 0 else values.to(torch.int64) - low
        level = table.index_select(0, index)
        if self.other_level is None and self.code_levels is not None and bool((level < 0).any()):
            bad = torch.unique(values[level < 0])[:5].tolist()
            raise ValueError(f"{self.source_name()!r} (levels {self.name!r}) has codes {bad} outside 0.."
                             f"{len(self.code_levels) - 1}; give Levels.codes an other_label for them, or more labels")
        return level

    def _table(self, low: int, high: int) -> Tensor:
        """The level of every integer low..high (int32); -1 for codes with no level."""
        if high - low > DENSE_KEY_LIMIT:
            raise ValueError(f"{self.source_name()!r} (levels {self.name!r}) spans the codes {low}..{high}, too many "
                             f"for a lookup table; map them to fewer codes first")
        codes = torch.arange(low, high + 1, dtype=torch.float64)
        if self.edges is not None:
            return torch.bucketize(codes, torch.tensor(self.edges, dtype=torch.float64), right=True, out_int32=True)
        known = torch.tensor(self.code_levels, dtype=torch.int32)
        inside = (codes >= 0) & (codes < known.numel())
        other = -1 if self.other_level is None else self.other_level
        table = torch.full(codes.shape, other, dtype=torch.int32)
        table[inside] = known[codes[inside].long()]
        return table


class Grouping:
    """Agents' cells in the product of some `Levels` (mixed-radix integer keys; see the module docstring).

    Args:
        levels: the attributes, outermost first; none gives one cell holding everyone.
    """

    def __init__(self, levels: Sequence[Levels]):
        self.levels = tuple(levels)
        names = [lv.name for lv in self.levels]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"a grouping names the attribute(s) {repeated} more than once")
        sizes = [lv.n_levels for lv in self.levels]
        self.strides = tuple(math.prod(sizes[j + 1:]) for j in range(len(sizes)))
        self.n_cells = math.prod(sizes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(lv.name for lv in self.levels)

    def keys(self, read: Callable[[Source], Tensor], n: int, device: torch.device) -> Tensor:
        """The cell of every agent, int32 [N]; `read(source)` returns the [N] values of a source."""
        self._check_size()
        key = self.key_values([lv.level_values(read(lv.source)) for lv in self.levels])
        return as_tensor(key, n, device, torch.int32)

    def key_values(self, levels: Sequence[LevelValues]) -> LevelValues:
        """The cells of the agents whose levels of each attribute are `levels` (as `Levels.level_values` gives
        them), by Horner's rule: key = (..(level_1 L_2 + level_2) L_3 + ..) + level_m, one pass per attribute."""
        self._check_size()
        key: LevelValues = 0
        cells = 1
        for lv, level in zip(self.levels, levels, strict=True):
            cells *= lv.n_levels
            key = combine_keys(key, level, lv.n_levels, cells)
        return key

    def _check_size(self) -> None:
        if self.n_cells > MAX_CELLS:
            raise ValueError(f"{self} has {self.n_cells:,} cells, more than {MAX_CELLS:,}; use fewer levels")

    def decode(self, cell: int) -> tuple[int, ...]:
        """The level of each attribute in cell `cell`."""
        return tuple((cell // stride) % lv.n_levels for lv, stride in zip(self.levels, self.strides, strict=True))

    def labels(self, cell: int) -> dict[str, str]:
        """{attribute name: label} of cell `cell`."""
        return {lv.name: lv.labels[k] for lv, k in zip(self.levels, self.decode(cell), strict=True)}

    def __repr__(self) -> str:
        return f"Grouping({' x '.join(f'{lv.name}[{lv.n_levels}]' for lv in self.levels) or 'everyone'})"


# ---- operations on LevelValues ---------------------------------------------------------------------------------

def combine_keys(outer: LevelValues, inner: LevelValues, n_inner: int, n_cells: int) -> LevelValues:
    """outer * n_inner + inner (keys of 0..n_cells-1): a new NumPy array in `key_dtype(n_cells)` or int32 tensor,
    `inner` itself when `outer` is 0 and it has that dtype, an int when both are ints."""
    if isinstance(outer, int) and isinstance(inner, int):
        return outer * n_inner + inner
    if isinstance(outer, int):
        if isinstance(inner, Tensor):
            return inner.to(torch.int32) + outer * n_inner
        if outer == 0 and inner.dtype == key_dtype(n_cells):
            return inner
        key = inner.astype(key_dtype(n_cells))
        key += outer * n_inner
        return key
    if isinstance(outer, Tensor):
        return torch.add(inner, outer, alpha=n_inner).to(torch.int32)
    key = outer.astype(key_dtype(n_cells))
    key *= n_inner
    key += inner
    return key


def mask_keys(keys: LevelValues, keep: np.ndarray | Tensor, fill: int) -> np.ndarray | Tensor:
    """keys where `keep` (bool [N]) is True, `fill` elsewhere: a new array (`fill` must fit the keys' dtype)."""
    if isinstance(keep, Tensor):
        return torch.where(keep, keys, fill).to(torch.int32)
    if isinstance(keys, int):
        keys = np.full(keep.shape, keys, key_dtype(max(keys, fill) + 1))
    out = keys * keep  # keys' dtype; 0 where not kept
    out += ~keep * keys.dtype.type(fill)
    return out


def count_keys(keys: LevelValues, n_keys: int, n: int) -> Tensor:
    """Agents per key: int64 [n_keys] (keys of N agents in 0..n_keys-1)."""
    if isinstance(keys, int):
        counts = torch.zeros(n_keys, dtype=torch.int64)
        counts[keys] = n
        return counts
    if isinstance(keys, np.ndarray):  # by chunks: np.bincount widens its input to int64, a copy that fits in cache
        counts = np.zeros(n_keys, dtype=np.int64)
        for start in range(0, keys.size, COUNT_CHUNK):
            counts += np.bincount(keys[start:start + COUNT_CHUNK], minlength=n_keys)
        return torch.from_numpy(counts)
    return torch.bincount(keys, minlength=n_keys)


def take_keys(table: Tensor, keys: LevelValues, n: int) -> Tensor:
    """table[keys]: [N, *] rows from a [n_keys, *] table, differentiable in `table`."""
    if isinstance(keys, int):
        return table[keys:keys + 1].expand(n, *table.shape[1:]).contiguous()
    if isinstance(keys, np.ndarray):
        if table.requires_grad:
            return table.index_select(0, torch.from_numpy(keys.astype(np.int32)))
        return torch.from_numpy(table.detach().cpu().numpy()[keys])
    return table.index_select(0, keys)


def as_tensor(keys: LevelValues, n: int, device: torch.device | str, dtype: torch.dtype) -> Tensor:
    """Levels or keys as a [N] tensor of `dtype` (a copy, never the agent column itself)."""
    if isinstance(keys, int):
        return torch.full((n,), keys, dtype=dtype, device=device)
    if isinstance(keys, np.ndarray):
        return torch.from_numpy(keys.astype(torch.empty(0, dtype=dtype).numpy().dtype)).to(device)
    return keys.to(dtype=dtype, copy=True)


def group_keys(keys: Tensor, n_cells: int) -> tuple[Tensor, Tensor]:
    """The distinct keys (int64 [G], ascending) among `keys` (integer [N] in 0..n_cells-1) and each one's group.

    Returns (cells [G], group [N] in 0..G-1, int64). Up to `DENSE_KEY_LIMIT` cells a bincount marks the keys present
    and a [n_cells] lookup table numbers them (O(N + cells)); past it, `torch.unique(return_inverse=True)` sorts.
    Both give the same answer.
    """
    if keys.numel() == 0:
        return keys.new_zeros(0, dtype=torch.long), keys.new_zeros(0, dtype=torch.long)
    if n_cells <= DENSE_KEY_LIMIT:
        present = torch.bincount(keys, minlength=n_cells) > 0
        cells = present.nonzero().squeeze(1)  # [G], ascending
        number = torch.full((n_cells,), -1, dtype=torch.long, device=keys.device)
        number[cells] = torch.arange(cells.numel(), device=keys.device)
        return cells, number.index_select(0, keys)
    cells, group = torch.unique(keys.long(), return_inverse=True)
    return cells, group


class KeyCache:
    """Levels and keys computed before, given back while the tensors they were computed from are unchanged.

    An entry holds each input tensor by a weak reference (the cache keeps no column alive) with its version counter
    (which an in-place change through PyTorch bumps): it is found again only for the very same, unchanged tensors,
    e.g. the columns age and region that a run never replaces. A change made behind PyTorch's back (writing into
    `tensor.numpy()`) is not seen; inference-mode tensors, which keep no version, are never cached.
    """

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[tuple[tuple[weakref.ref, int], ...], object]] = {}

    def get(self, name: Hashable, inputs: Sequence[Tensor]) -> object | None:
        """The value stored under `name` from these very `inputs`, unchanged since; None if there is none."""
        entry = self._entries.get(name)
        if entry is None or len(entry[0]) != len(inputs):
            return None
        for (ref, version), tensor in zip(entry[0], inputs, strict=True):
            if ref() is not tensor or tensor._version != version:
                return None
        return entry[1]

    def put(self, name: Hashable, inputs: Sequence[Tensor], value: object) -> None:
        """Store `value` under `name`, computed from `inputs` (replacing what was there)."""
        if any(t.is_inference() for t in inputs):
            return
        self._entries[name] = (tuple((weakref.ref(t), t._version) for t in inputs), value)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
