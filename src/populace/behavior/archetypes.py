r"""Archetypes: agents grouped by a few attributes cut into labelled levels, as integer keys built with tensor ops.

A `Levels` cuts one agent column or situation feature into L labelled levels, either by bin edges (numbers:
level k holds edges[k-1] <= x < edges[k]) or by a table from integer codes to levels (categories). A `Grouping` of
attributes a_1..a_m with L_1..L_m levels gives each agent the mixed-radix key

    key_i = sum_j level_j(i) * stride_j,    stride_j = L_{j+1} * ... * L_m,

one of L_1 x ... x L_m cells, and decodes a key back into its levels' labels (the words a prompt is built from).
`group_keys` finds the distinct keys of N agents and each agent's group ([G] keys, [N] inverse) without a Python
loop over agents. The defaults for the NYC COVID-19 model (`AGE_LEVELS`, `work_levels`, `borough_levels`, and the
situation levels `SYMPTOM_LEVELS`, `INCIDENCE_LEVELS`, `GROWTH_LEVELS`, `WORK_ORDER_LEVELS`) are at the end.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from populace.behavior.heuristic import TELEWORKABLE_FRACTION_BY_INDUSTRY
from populace.data.boroughs import BOROUGHS

Source = str | Callable[[Mapping[str, Tensor]], Tensor]
"""Where a `Levels` reads its values: a column / situation feature name, or a function of the agent table."""

DENSE_KEY_LIMIT = 1 << 24
"""`group_keys` counts keys in a dense table up to this many cells (one pass, ~10x faster than sorting)."""
MAX_CELLS = 2**31 - 1
"""Keys are int32: a grouping (archetypes x situations) has at most this many cells."""


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
    """

    name: str
    source: Source
    labels: tuple[str, ...]
    edges: tuple[float, ...] | None = None
    code_levels: tuple[int, ...] | None = None
    other_level: int | None = None

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

    @classmethod
    def bins(cls, name: str, source: Source, edges: Sequence[float], labels: Sequence[str]) -> Levels:
        """Numbers cut at `edges`: level k holds edges[k-1] <= x < edges[k] (so len(labels) = len(edges) + 1)."""
        return cls(name, source, tuple(labels), edges=tuple(float(e) for e in edges))

    @classmethod
    def codes(cls, name: str, source: Source, labels: Sequence[str], *, code_levels: Sequence[int] | None = None,
              other_label: str | None = None) -> Levels:
        """Integer codes: code c has level `code_levels[c]` (default: level c); codes past the table get the
        extra level `other_label` (None: they are an error)."""
        labels = tuple(labels)
        table = tuple(range(len(labels))) if code_levels is None else tuple(int(c) for c in code_levels)
        other = None
        if other_label is not None:
            labels, other = (*labels, other_label), len(labels)
        return cls(name, source, labels, code_levels=table, other_level=other)

    @property
    def n_levels(self) -> int:
        return len(self.labels)

    def source_name(self) -> str:
        return self.source if isinstance(self.source, str) else getattr(self.source, "__name__", repr(self.source))

    def levels(self, values: Tensor) -> Tensor:
        """The level of each value: int32 [N] in 0..L-1.

        Small integer codes (bool, uint8, int8) and codes in general go through a lookup table (one gather); other
        numbers through `torch.bucketize` in their own dtype.
        """
        values = values.detach()
        if values.dim() == 1 and values.numel() > 1 and values.stride(0) == 0:  # one value for all (x.expand(n))
            return self.levels(values[:1]).expand(values.numel())
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
        """The cell of every agent, int32 [N]; `read(source)` returns the [N] values of a source.

        Horner's rule, key = (..(level_1 L_2 + level_2) L_3 + ..) + level_m: one fused pass per attribute.
        """
        if self.n_cells > MAX_CELLS:
            raise ValueError(f"{self} has {self.n_cells:,} cells, more than {MAX_CELLS:,}; use fewer levels")
        key = torch.zeros(n, dtype=torch.int32, device=device)
        for lv in self.levels:
            key = torch.add(lv.levels(read(lv.source)), key, alpha=lv.n_levels)
        return key

    def decode(self, cell: int) -> tuple[int, ...]:
        """The level of each attribute in cell `cell`."""
        return tuple((cell // stride) % lv.n_levels for lv, stride in zip(self.levels, self.strides, strict=True))

    def labels(self, cell: int) -> dict[str, str]:
        """{attribute name: label} of cell `cell`."""
        return {lv.name: lv.labels[k] for lv, k in zip(self.levels, self.decode(cell), strict=True)}

    def __repr__(self) -> str:
        return f"Grouping({' x '.join(f'{lv.name}[{lv.n_levels}]' for lv in self.levels) or 'everyone'})"


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


# ---- defaults for the NYC COVID-19 model ---------------------------------------------------------------------

AGE_LEVELS = Levels.bins("age", "age", (18, 30, 50, 65), (
    "aged under 18", "aged 18 to 29", "aged 30 to 49", "aged 50 to 64", "aged 65 or older"))
"""Five age bands (years)."""

CAN_TELEWORK_SHARE = 0.4
"""An industry where at least this share of workers can work from home counts as 'can work from home'."""


def work_status(agents: Mapping[str, Tensor]) -> Tensor:
    """0 not employed, 1 employed in an industry where most work is on site, 2 in one where much can be remote.

    Reads `is_employed` and `industry` (codes of `populace.population.nyc.INDUSTRIES`; an industry's share of
    teleworkable workers is `TELEWORKABLE_FRACTION_BY_INDUSTRY`, compared with `CAN_TELEWORK_SHARE`).
    """
    for column in ("is_employed", "industry"):
        if column not in agents:
            raise KeyError(f"agents have no column {column!r}, which the 'work' archetype attribute reads")
    table = torch.ones(256, dtype=torch.uint8)  # by industry code: 1 on site, 2 can work from home
    table[:len(TELEWORKABLE_FRACTION_BY_INDUSTRY)] += torch.tensor(
        [share >= CAN_TELEWORK_SHARE for share in TELEWORKABLE_FRACTION_BY_INDUSTRY], dtype=torch.uint8)
    industry, employed = agents["industry"], agents["is_employed"].detach()
    if industry.dtype != torch.uint8:
        industry = industry.clamp(0, 255)
    employed = (employed > 0.5) if employed.is_floating_point() else employed.bool()
    return table.to(industry.device).index_select(0, industry.to(torch.int32)) * employed  # uint8 [N]


WORK_LEVELS = Levels.codes("work", work_status, (
    "not in work", "working at a job that has to be done on site",
    "working at a job that can mostly be done from home"))
"""Three work situations (`work_status`)."""


def borough_levels(region_labels: Sequence[str] = BOROUGHS) -> Levels:
    """The agent's region (column `region`, codes 0..R-1), shown as "living in <label>"."""
    return Levels.codes("borough", "region", [f"living in {label}" for label in region_labels])


SYMPTOM_LEVELS = Levels.bins("symptoms", "is_symptomatic", (0.5,), (
    "You feel well, with no symptoms.", "You have symptoms of COVID-19: fever and a cough."))
INCIDENCE_LEVELS = Levels.bins("local_cases", "incidence_per_100k", (10, 50, 200), (
    "very few new COVID-19 cases (under 10 per 100,000 residents)",
    "some new COVID-19 cases (10 to 50 per 100,000 residents)",
    "many new COVID-19 cases (50 to 200 per 100,000 residents)",
    "very many new COVID-19 cases (over 200 per 100,000 residents)"))
"""Weekly symptomatic cases per 100,000 in the agent's region, in four bands."""
GROWTH_LEVELS = Levels.bins("case_trend", "case_growth", (-0.2, 0.2), (
    "cases are falling", "cases are about as many as the week before", "cases are rising"))
"""Log growth of weekly cases: falling (under -0.2, i.e. down by more than 18%), steady, rising (over +22%)."""
WORK_ORDER_LEVELS = Levels.bins("work_orders", "work_from_home_fraction", (0.05, 0.5, 0.95), (
    "There are no orders to work from home.",
    "Employers are asked to let some staff who can work from home do so.",
    "Orders tell most staff who can work from home to do so.",
    "A stay-at-home order is in force: everyone who can work from home must do so."))
"""The orders' work-from-home fraction, in four bands."""
