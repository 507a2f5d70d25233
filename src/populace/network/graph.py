r"""Contact layers as CSR matrices, and a graph of named layers (household, workplace, school, ...).

A layer is the [N, N] matrix A with A[i, j] = w_ij >= 0 when agent j is a contact of agent i, stored in CSR:
the contacts of agent i are ``col[crow[i]:crow[i + 1]]`` (sorted, no duplicates), their weights
``weight[crow[i]:crow[i + 1]]`` (``weight=None``: every contact has weight 1). Indices are int32 (``crow``
is int64 only when there are 2**31 edges or more). Layers are immutable: build new ones, never edit their
tensors in place (cached transposes would go stale).

Layers and graphs are `nn.Module`s whose tensors are non-persistent buffers: a model that holds them as attributes
moves them with `model.to(device)`, and they stay out of its `state_dict` (they are data, not parameters).

Contacts are directed pairs. The builders make them reciprocal by default, and a trap to know, on 3 agents:
``ContactLayer.from_edges(3, src=[0, 0], dst=[1, 2])`` is the undirected edges 0-1 and 0-2, so 4 contacts
(0 -> 1, 0 -> 2, 1 -> 0, 2 -> 0): agent 0 has degree 2, agents 1 and 2 degree 1. Listing an edge in both
directions (or twice) with ``symmetric=True`` counts it twice: unweighted, the duplicate is merged away;
weighted, the weights of duplicates are summed (so ``[(0, 1, 0.5), (1, 0, 0.5)]`` gives w_01 = w_10 = 1.0).

One-time caches, made at first use and shared by layers with the same contacts (``with_weight``):
a ones [E] vector per dtype for unweighted layers (torch's CSR kernel needs values; a broadcast view was
3x slower), the transpose of a non-symmetric layer for its backward (int32 crow and col, int64
permutation and permuted weights: about 20 bytes per edge), and, only when E >= 2**31, an int64 copy of col
to match crow.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from populace.network.aggregate import aggregate, check_agent_values
from populace.network.build import INT32_MAX, blocked_csr
from populace.network.build import crow_dtype as _crow_dtype

if TYPE_CHECKING:
    from populace.core.world import World

MAX_DENSE_ENTRIES = 10**8
DEFAULT_MAX_GROUP_SIZE = 500
ArrayLike = Tensor | np.ndarray | Sequence[Any]


class _Pattern:
    """The sparsity pattern (crow, col) shared by layers that differ only in weights, with lazy caches."""

    def __init__(self, n_agents: int, crow: Tensor, col: Tensor):
        self.n_agents, self.crow, self.col = n_agents, crow, col
        self._ones: dict[torch.dtype, Tensor] = {}
        self._csr_col: Tensor | None = None
        self._transpose: tuple[Tensor, Tensor, Tensor] | None = None

    def rows(self) -> Tensor:
        """Row (agent) of each edge, int64 [E]; built on demand, not cached."""
        n = self.n_agents
        return torch.repeat_interleave(
            torch.arange(n, device=self.crow.device), self.crow.diff(), output_size=self.col.numel()
        )

    def ones(self, dtype: torch.dtype) -> Tensor:
        """Weights of an unweighted layer, [E] of 1; cached per dtype (one float per edge, made once)."""
        if dtype not in self._ones:
            self._ones[dtype] = torch.ones(self.col.numel(), dtype=dtype, device=self.col.device)
        return self._ones[dtype]

    def csr_col(self) -> Tensor:
        """col in crow's dtype, as torch's CSR needs: col itself, or (E >= 2**31 only) a cached int64 copy."""
        if self.col.dtype == self.crow.dtype:
            return self.col
        if self._csr_col is None:
            self._csr_col = self.col.to(self.crow.dtype)
        return self._csr_col

    def transpose(self) -> tuple[Tensor, Tensor, Tensor]:
        """(crow_t, col_t, perm) of A^T, with edge e of A^T being edge perm[e] of A; computed once, cached."""
        if self._transpose is None:
            perm = torch.argsort(self.col, stable=True)  # rows ascend within a column: sorted transposed rows
            col_t = self.rows()[perm].to(torch.int32)
            counts = torch.bincount(self.col, minlength=self.n_agents)
            crow_t = torch.cat([counts.new_zeros(1), counts.cumsum(0)]).to(self.crow.dtype)
            self._transpose = (crow_t, col_t, perm)
        return self._transpose


class ContactLayer(nn.Module):
    r"""One contact layer: the sparse [N, N] matrix A with A[i, j] = w_ij, y = A x being y_i = sum_j w_ij x_j.

    Args:
        n_agents: N, the number of agents (rows and columns).
        crow: [N + 1] row offsets (any integer dtype; stored int32, or int64 when E >= 2**31).
        col: [E] contact ids, sorted and distinct within each row (any integer dtype; stored int32).
        weight: [E] float weights >= 0, or None for weight 1 on every contact.
        is_symmetric: A equals A^T (weights included); the backward then reuses A instead of its transpose.
        validate: check the structure (and the ``is_symmetric`` claim); builders pass False.

    Build layers with :meth:`from_edges` or :meth:`from_groups` rather than by hand. ``crow``, ``col`` and
    ``weight`` are buffers (moved by ``.to(device)``, which casts the weights with ``.to(dtype)``);
    ``n_agents``, ``is_symmetric``, ``n_edges`` (E) and ``device`` are read-only.
    """

    crow: Tensor
    col: Tensor
    weight: Tensor | None

    def __init__(
        self,
        n_agents: int,
        crow: Tensor,
        col: Tensor,
        weight: Tensor | None = None,
        *,
        is_symmetric: bool = False,
        validate: bool = True,
    ):
        n_agents = _check_n_agents(n_agents)
        if validate:
            _check_csr(n_agents, crow, col)
        crow, col = crow.to(_crow_dtype(col.numel())), col.to(torch.int32)  # no copy when already so
        if validate and weight is not None:
            _check_weight(weight, col.numel(), "weight", "layer")
            if weight.device != col.device:
                raise ValueError(f"weight is on {weight.device} but col is on {col.device}; move one.")
        self._init(n_agents, crow, col, weight, is_symmetric, _Pattern(n_agents, crow, col))
        if validate and is_symmetric:
            self._check_symmetric()

    def _init(self, n: int, crow: Tensor, col: Tensor, weight: Tensor | None, sym: bool, pattern: _Pattern):
        nn.Module.__init__(self)
        self.register_buffer("crow", crow, persistent=False)
        self.register_buffer("col", col, persistent=False)
        self.register_buffer("weight", weight, persistent=False)
        self._n_agents, self._is_symmetric, self._pattern = n, bool(sym), pattern
        self._forget_transpose()

    def _forget_transpose(self) -> None:
        # a plain attribute, not a submodule: a layer and its transpose refer to each other
        object.__setattr__(self, "_transposed", None)

    def _apply(self, fn: Any, recurse: bool = True) -> ContactLayer:
        """Move or cast the buffers (`.to`, `.cuda`, ...), then rebuild the caches made from them."""
        super()._apply(fn, recurse)
        self._pattern = _Pattern(self._n_agents, self.crow, self.col)
        self._forget_transpose()
        return self

    @classmethod
    def _trusted(
        cls,
        n: int,
        crow: Tensor,
        col: Tensor,
        weight: Tensor | None,
        sym: bool,
        pattern: _Pattern | None = None,
    ) -> ContactLayer:
        layer = cls.__new__(cls)
        layer._init(n, crow, col, weight, sym, pattern or _Pattern(n, crow, col))
        return layer

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_edges(
        cls,
        n_agents: int,
        src: ArrayLike,
        dst: ArrayLike,
        weight: ArrayLike | None = None,
        *,
        symmetric: bool = True,
        name: str = "layer",
    ) -> ContactLayer:
        r"""Layer from an edge list: contact src[e] -> dst[e] with weight[e] (default 1), for e in [0, E_in).

        Self-loops (src == dst) are dropped. With ``symmetric`` every edge also gets its reverse (contacts are
        reciprocal) before duplicates are merged: unweighted duplicates collapse to one contact, weighted ones
        have their weights summed. ``src``, ``dst``: integer ids in [0, n_agents), as tensors, numpy arrays or
        lists; ``weight``: finite and >= 0 (zero-weight edges are kept). ``name`` labels error messages.
        """
        n = _check_n_agents(n_agents)
        src_t, dst_t = _as_ids(src, "src", name), _as_ids(dst, "dst", name)
        if src_t.numel() != dst_t.numel():
            raise ValueError(
                f"layer {name!r}: src and dst must have the same length, got {src_t.numel()} and "
                f"{dst_t.numel()}. Edge e is src[e] -> dst[e]."
            )
        dst_t = dst_t.to(src_t.device)
        _check_ids_in_range(n, {"src": src_t, "dst": dst_t}, name)
        w = None
        if weight is not None:
            w = _as_weight(weight, name).to(src_t.device)
            _check_weight(w, src_t.numel(), "weight", f"layer {name!r}")
        if src_t.device.type == "cpu" and not (w is not None and w.requires_grad):
            return cls._from_edges_blocked(n, src_t, dst_t, w, symmetric)
        keep = src_t != dst_t  # drop self-loops
        src_t, dst_t = src_t[keep], dst_t[keep]
        w = None if w is None else w[keep]
        if symmetric:
            src_t, dst_t = torch.cat([src_t, dst_t]), torch.cat([dst_t, src_t])
            w = None if w is None else torch.cat([w, w])
        key, w = _merge_duplicates(src_t * n + dst_t, w)
        src_t, col = torch.div(key, n, rounding_mode="floor"), (key % n).to(torch.int32)
        counts = torch.bincount(src_t, minlength=n)
        crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)]).to(_crow_dtype(col.numel()))
        return cls._trusted(n, crow, col, w, symmetric)

    @classmethod
    def _from_edges_blocked(cls, n: int, src: Tensor, dst: Tensor, w: Tensor | None, symmetric: bool) -> ContactLayer:
        """`from_edges` on the CPU by blocks of rows (`populace.network.build.blocked_csr`): no int64 keys of all
        edges and no sort over them; the same layer (weights of repeats summed in another order)."""

        def draw(start: int, stop: int) -> tuple[Tensor, Tensor, Tensor | None]:
            s, d = src[start:stop], dst[start:stop]
            keep = s != d  # drop self-loops
            return s[keep], d[keep], None if w is None else w[start:stop][keep]

        crow, col, weight = blocked_csr(n, src.numel(), draw, symmetric=symmetric,
                                        weight_dtype=None if w is None else w.dtype)
        return cls._trusted(n, crow, col, weight, symmetric)

    @classmethod
    def from_groups(
        cls,
        group_of_agent: ArrayLike,
        weight: float | None = None,
        *,
        max_group_size: int = DEFAULT_MAX_GROUP_SIZE,
        name: str = "layer",
    ) -> ContactLayer:
        r"""Layer joining every two agents that share a group: A[i, j] = w iff g_i = g_j >= 0 and i != j.

        ``group_of_agent``: [N] integer group id of each agent (household, workplace, class ...), -1 for an
        agent in no group; ids need not be contiguous. ``weight``: the weight of every contact (None: 1).
        A group of size s gives s (s - 1) contacts, so groups over ``max_group_size`` are refused.
        Vectorized: agents are sorted by group and the pairs of each group enumerated with tensor ops.
        """
        if weight is not None and not _is_nonnegative_number(weight):
            raise ValueError(f"layer {name!r}: weight must be a finite number >= 0 or None, got {weight!r}.")
        groups = _as_ids(group_of_agent, "group_of_agent", name, kind="group ids")
        if groups.numel() == 0:
            raise ValueError(f"layer {name!r}: group_of_agent is empty; it needs one group id per agent.")
        n = _check_n_agents(groups.numel())
        if (groups < -1).any():
            bad = (groups < -1).nonzero().squeeze(1)
            raise ValueError(
                f"layer {name!r}: group ids must be >= 0, or -1 for 'in no group'; {bad.numel()} agents have "
                f"other negative ids (e.g. {_examples('group_of_agent', bad, groups)})."
            )
        member = (groups >= 0).nonzero().squeeze(1)  # [M] agent ids, ascending
        order = torch.argsort(groups[member], stable=True)
        by_group = member[order]  # [M] members sorted by group, ascending ids within a group
        sorted_groups = groups[by_group]
        is_start = torch.ones_like(sorted_groups, dtype=torch.bool)
        is_start[1:] = sorted_groups[1:] != sorted_groups[:-1]
        starts = is_start.nonzero().squeeze(1)  # [G] first position of each group
        sizes = torch.diff(starts, append=starts.new_tensor([member.numel()]))  # [G]
        _check_group_sizes(sizes, starts, sorted_groups, max_group_size, name)
        position = torch.empty(n, dtype=torch.int64, device=groups.device)
        position[by_group] = torch.arange(member.numel(), device=groups.device)
        p = position[member]  # [M] position of each member (in id order) in by_group
        k = torch.cumsum(is_start, 0)[p] - 1  # group index of each member
        size, start = sizes[k], starts[k]
        # each member lists its whole group (size entries, itself included), then drops itself
        n_listed = int(size.sum())
        owner = torch.repeat_interleave(
            torch.arange(member.numel(), device=groups.device), size, output_size=n_listed
        )
        j = torch.arange(n_listed, device=groups.device) - (torch.cumsum(size, 0) - size)[owner]
        keep = j != (p - start)[owner]
        col = by_group[(start[owner] + j)[keep]].to(torch.int32)
        degree = torch.zeros(n, dtype=torch.int64, device=groups.device)
        degree[member] = size - 1
        crow = torch.cat([degree.new_zeros(1), degree.cumsum(0)]).to(_crow_dtype(col.numel()))
        w = None
        if weight is not None:
            w = torch.full((col.numel(),), float(weight), dtype=torch.float32, device=groups.device)
        return cls._trusted(n, crow, col, w, True)

    # ------------------------------------------------------------------ attributes
    @property
    def n_agents(self) -> int:
        return self._n_agents

    @property
    def is_symmetric(self) -> bool:
        return self._is_symmetric

    @property
    def n_edges(self) -> int:
        """E, the number of stored (directed) contacts; a reciprocal pair counts twice."""
        return self.col.numel()

    @property
    def device(self) -> torch.device:
        return self.col.device

    def degree(self) -> Tensor:
        """[N] number of contacts of each agent (crow's integer dtype)."""
        return self.crow.diff()

    def edges(self) -> tuple[Tensor, Tensor]:
        """(i, j) of every contact j of agent i, int64 [E] each, in CSR order (the order of ``weight``): a weight
        that depends on both ends, w_ij = f(x_i, x_j), is ``f(x[i], x[j])``, used with ``with_weight``."""
        return self._pattern.rows(), self.col.long()

    def extra_repr(self) -> str:
        w = "None" if self.weight is None else str(self.weight.dtype)
        return (f"n_agents={self._n_agents}, n_edges={self.n_edges}, weight={w}, "
                f"is_symmetric={self._is_symmetric}, device={self.device}")

    # ------------------------------------------------------------------ products
    def aggregate(self, x: Tensor, world: World | None = None, *, support: Tensor | None = None) -> Tensor:
        r"""y_i = sum_j w_ij x_j; x [N] or [N, K] float32/float64, y like x (see network.aggregate, also for
        ``support``). A static layer does not depend on the day: ``world`` is accepted and unused."""
        return aggregate(self, x, support=support)

    def to_sparse_csr(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """A as a torch sparse CSR tensor with ``dtype`` values, detached; weights are cast per call when
        their dtype differs (keep them in x's dtype with ``to(dtype=...)`` to avoid that copy)."""
        w = self.weight
        values = self._pattern.ones(dtype) if w is None else w.detach().to(dtype)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(
                self.crow,
                self._pattern.csr_col(),
                values,
                (self._n_agents, self._n_agents),
                check_invariants=False,
            )

    def transpose(self) -> ContactLayer:
        """A^T: the layer whose row i lists who has i as a contact. ``self`` when symmetric; otherwise the
        pattern is transposed once and cached (and the whole layer cached unless its weights require grad)."""
        if self._is_symmetric:
            return self
        if self._transposed is not None:
            return self._transposed
        crow_t, col_t, perm = self._pattern.transpose()
        w_t = None if self.weight is None else self.weight[perm]
        layer = ContactLayer._trusted(self._n_agents, crow_t, col_t, w_t, False)
        if self.weight is None or not self.weight.requires_grad:
            object.__setattr__(self, "_transposed", layer)
            object.__setattr__(layer, "_transposed", self)
        return layer

    def dense(self) -> Tensor:
        """A as a dense [N, N] tensor (weight's dtype, else float32), for tests and small graphs."""
        n = self._n_agents
        if n * n > MAX_DENSE_ENTRIES:
            raise ValueError(
                f"dense() of {n} agents would hold {n * n:,} entries (limit {MAX_DENSE_ENTRIES:,}). "
                "Use aggregate() or to_sparse_csr() instead."
            )
        w = self._pattern.ones(torch.float32) if self.weight is None else self.weight
        out = torch.zeros(n, n, dtype=w.dtype, device=self.device)
        return out.index_put((self._pattern.rows(), self.col.long()), w)

    # ------------------------------------------------------------------ new layers
    def with_weight(
        self, weight: Tensor | None, *, is_symmetric: bool = False, validate: bool = True
    ) -> ContactLayer:
        """Same contacts, new [E] weights (e.g. a tensor that requires grad); shares the cached pattern.

        Pass ``is_symmetric=True`` only if the new weights satisfy w_ij = w_ji (checked when ``validate``):
        the backward then reuses this layer for A^T instead of gathering transposed weights.
        """
        if validate and weight is not None:
            _check_weight(weight, self.n_edges, "weight", "with_weight")
        if weight is not None and weight.device != self.device:
            raise ValueError(f"weight is on {weight.device} but the layer is on {self.device}; move one.")
        n, crow, col = self._n_agents, self.crow, self.col
        layer = ContactLayer._trusted(n, crow, col, weight, is_symmetric, self._pattern)
        if validate and is_symmetric:
            layer._check_symmetric()
        return layer

    def _check_symmetric(self) -> None:
        crow_t, col_t, perm = self._pattern.transpose()
        same = torch.equal(crow_t, self.crow) and torch.equal(col_t, self.col)
        if same and self.weight is not None:
            same = torch.equal(self.weight[perm], self.weight)
        if not same:
            raise ValueError(
                "is_symmetric=True but A != A^T (contacts or weights are not reciprocal). Pass "
                "is_symmetric=False, or build with ContactLayer.from_edges(..., symmetric=True)."
            )


class ContactGraph(nn.Module):
    r"""Named contact layers over the same N agents; aggregation sums the layers.

    ``aggregate(x)`` is y = sum_l s_l A_l x over the chosen layers l with scales s_l (default 1). Layers keep
    their insertion order; ``graph["household"]``, ``"work" in graph``, ``len(graph)``, ``graph.names``. The
    layers are submodules (``.to(device)`` moves them all).
    """

    def __init__(self, n_agents: int, layers: Mapping[str, ContactLayer]):
        super().__init__()
        self._n_agents = _check_n_agents(n_agents)
        devices = set()
        for name, layer in layers.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"layer names must be non-empty strings, got {name!r}.")
            if not isinstance(layer, ContactLayer):
                raise TypeError(f"layer {name!r} must be a ContactLayer, got {type(layer).__name__}.")
            if layer.n_agents != self._n_agents:
                raise ValueError(
                    f"layer {name!r} has {layer.n_agents} agents but the graph has "
                    f"n_agents={self._n_agents}; every layer must span the same population."
                )
            devices.add(layer.device)
        if len(devices) > 1:
            raise ValueError(
                f"layers are on several devices {sorted(map(str, devices))}; use graph.to(device)."
            )
        self._by_index = nn.ModuleList(layers.values())  # submodules, whatever the names are
        self._layers = dict(layers)

    @classmethod
    def from_edges(
        cls, n_agents: int, edges: Mapping[str, tuple[ArrayLike, ...]], *, symmetric: bool = True
    ) -> ContactGraph:
        """Graph from ``{name: (src, dst)}`` or ``{name: (src, dst, weight)}``, one layer per name.

        Each layer is ``ContactLayer.from_edges(n_agents, src, dst, weight, symmetric=symmetric)``."""
        layers = {}
        for name, spec in edges.items():
            if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
                raise ValueError(
                    f"layer {name!r}: expected (src, dst) or (src, dst, weight), got {type(spec).__name__}"
                    f"{f' of length {len(spec)}' if isinstance(spec, (tuple, list)) else ''}."
                )
            layers[name] = ContactLayer.from_edges(n_agents, *spec, symmetric=symmetric, name=name)
        return cls(n_agents, layers)

    @classmethod
    def from_groups(
        cls,
        n_agents: int,
        groups: Mapping[str, ArrayLike],
        *,
        weights: Mapping[str, float] | None = None,
        max_group_size: int = DEFAULT_MAX_GROUP_SIZE,
    ) -> ContactGraph:
        """Graph from ``{name: group_of_agent}`` ([N] group ids, -1 for none), each layer joining every two
        agents of the same group; ``weights``: optional ``{name: contact weight}``.
        See ContactLayer.from_groups."""
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(groups))
        if unknown:
            raise KeyError(f"weights given for unknown layers {unknown}; the layers are {list(groups)}.")
        layers = {}
        for name, ids in groups.items():
            layer = ContactLayer.from_groups(ids, weights.get(name), max_group_size=max_group_size, name=name)
            if layer.n_agents != n_agents:
                raise ValueError(
                    f"layer {name!r}: group_of_agent has {layer.n_agents} entries, expected one per agent "
                    f"(n_agents={n_agents}); use -1 for agents in no group."
                )
            layers[name] = layer
        return cls(n_agents, layers)

    @property
    def n_agents(self) -> int:
        return self._n_agents

    @property
    def layers(self) -> Mapping[str, ContactLayer]:
        """Read-only ordered mapping name -> ContactLayer."""
        return MappingProxyType(self._layers)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._layers)

    @property
    def n_edges(self) -> int:
        """Total stored (directed) contacts over all layers."""
        return sum(layer.n_edges for layer in self._layers.values())

    @property
    def device(self) -> torch.device | None:
        return next(iter(self._layers.values())).device if self._layers else None

    def __getitem__(self, name: str) -> ContactLayer:
        try:
            return self._layers[name]
        except KeyError:
            raise KeyError(
                f"the contact graph has no layer {name!r} (it has: {', '.join(self._layers)})."
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._layers

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {v.n_edges} edges" for k, v in self._layers.items())
        return f"ContactGraph(n_agents={self._n_agents}, layers={{{inner}}})"

    def degree(self, layer: str) -> Tensor:
        """[N] number of contacts of each agent in ``layer``."""
        return self[layer].degree()

    def with_layer(self, name: str, layer: ContactLayer) -> ContactGraph:
        """A new graph with ``layer`` added under ``name`` (or replacing the layer of that name)."""
        return ContactGraph(self._n_agents, {**self._layers, name: layer})

    def aggregate(
        self,
        x: Tensor,
        world: World | None = None,
        *,
        layers: str | Sequence[str] | None = None,
        scale: Mapping[str, float | Tensor] | None = None,
        support: Tensor | None = None,
    ) -> Tensor:
        r"""y = sum_l s_l A_l x over ``layers`` (default: all); x [N] or [N, K], y like x; ``world`` is unused.

        ``scale``: {layer: s_l}, a number >= 0 or a 0-dim tensor (which may require grad, e.g. a lockdown
        factor on "work"); unlisted layers have s_l = 1, and a layer scaled by the number 0 is skipped.
        ``support``: see `populace.network.aggregate.aggregate`.
        """
        if world is not None and not hasattr(world, "agents"):  # the old second positional was `layers`
            raise TypeError(f"the second argument of ContactGraph.aggregate is the world, got {world!r}; pass the "
                            "layers by keyword: aggregate(x, world, layers=[...])")
        check_agent_values(x, self._n_agents, self.device or x.device)
        names = self.names if layers is None else ((layers,) if isinstance(layers, str) else tuple(layers))
        for name in names:
            if name not in self._layers:
                raise KeyError(
                    f"unknown layer {name!r} in layers (the graph has: {', '.join(self._layers)})."
                )
        scale = dict(scale or {})
        for name, s in scale.items():
            if name not in names:
                raise KeyError(f"scale given for layer {name!r}, which is not among the aggregated {names}.")
            _check_scale(name, s)
        total = None
        for name in names:
            s = scale.get(name)
            if isinstance(s, (int, float)) and s == 0:
                continue
            y = self._layers[name].aggregate(x, support=support)
            if s is not None and not (isinstance(s, (int, float)) and s == 1):
                y = y * s
            total = y if total is None else total + y
        return torch.zeros_like(x) if total is None else total


# ---------------------------------------------------------------------- validation and helpers
def _check_n_agents(n_agents: Any) -> int:
    if isinstance(n_agents, bool) or not isinstance(n_agents, (int, np.integer)):
        raise TypeError(f"n_agents must be an int, got {type(n_agents).__name__} ({n_agents!r}).")
    if not 0 < n_agents <= INT32_MAX:
        raise ValueError(f"n_agents must be in [1, 2**31 - 1] (int32 agent ids), got {n_agents}.")
    return int(n_agents)


def _as_tensor(values: Any) -> Tensor:
    """A tensor as is, a numpy array with its dtype, a list with torch's defaults (int64, float32)."""
    if isinstance(values, Tensor):
        return values
    if isinstance(values, np.ndarray):
        return torch.from_numpy(values)
    return torch.as_tensor(values)


def _as_ids(values: Any, what: str, layer: str, kind: str = "agent ids") -> Tensor:
    """Integer ids as a 1-D int64 tensor (a list, numpy array or tensor); floats and bools are refused."""
    t = _as_tensor(values)
    if t.numel() == 0:
        t = t.to(torch.int64)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(
            f"layer {layer!r}: {what} must hold integer {kind}, got dtype {t.dtype}. "
            f"Convert whole-number ids with {what}.long() (torch) or .astype('int64') (numpy)."
        )
    if t.dim() != 1:
        raise ValueError(f"layer {layer!r}: {what} must be 1-D, got shape {tuple(t.shape)}.")
    return t.to(torch.int64)


def _as_weight(values: Any, layer: str) -> Tensor:
    t = _as_tensor(values)
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"layer {layer!r}: weight must be real numbers, got dtype {t.dtype}.")
    return t if t.is_floating_point() else t.to(torch.float32)


def _examples(what: str, where: Tensor, values: Tensor, k: int = 3) -> str:
    return ", ".join(f"{what}[{int(i)}]={values[i].item()}" for i in where[:k])


def _check_ids_in_range(n: int, ids: Mapping[str, Tensor], layer: str) -> None:
    bad = {what: ((t < 0) | (t >= n)).nonzero().squeeze(1) for what, t in ids.items()}
    n_bad = sum(b.numel() for b in bad.values())
    if n_bad:
        examples = ", ".join(_examples(w, b, ids[w]) for w, b in bad.items() if b.numel())
        raise IndexError(
            f"layer {layer!r}: {n_bad} agent ids out of range [0, {n}) (e.g. {examples}). Ids are row "
            "numbers in the population: renumber them (torch.unique(ids, return_inverse=True)) or fix "
            "n_agents."
        )


def _check_weight(w: Any, n_edges: int, what: str, where: str) -> None:
    if not isinstance(w, Tensor) or not w.is_floating_point():
        kind = w.dtype if isinstance(w, Tensor) else type(w).__name__
        raise TypeError(f"{where}: {what} must be a float tensor, got {kind}.")
    if w.shape != (n_edges,):
        raise ValueError(
            f"{where}: {what} must have shape [E] = ({n_edges},), one per edge, got {tuple(w.shape)}."
        )
    bad = (~torch.isfinite(w.detach()) | (w.detach() < 0)).nonzero().squeeze(1)
    if bad.numel():
        raise ValueError(
            f"{where}: {what} must be finite and >= 0; {bad.numel()} bad values "
            f"(e.g. {_examples(what, bad, w.detach())}). Drop those edges or clamp the weights."
        )


def _check_csr(n: int, crow: Any, col: Any) -> None:
    for what, t in (("crow", crow), ("col", col)):
        if not isinstance(t, Tensor) or t.dtype == torch.bool or t.is_floating_point() or t.dim() != 1:
            desc = f"{t.dtype} {tuple(t.shape)}" if isinstance(t, Tensor) else type(t).__name__
            raise TypeError(f"{what} must be a 1-D integer tensor, got {desc}.")
    if crow.numel() != n + 1:
        raise ValueError(f"crow must have N + 1 = {n + 1} entries (row offsets), got {crow.numel()}.")
    if crow.device != col.device:
        raise ValueError(f"crow is on {crow.device} but col is on {col.device}; move one.")
    e = col.numel()
    if crow[0] != 0 or crow[-1] != e or (crow.diff() < 0).any():
        raise ValueError(
            f"crow must start at 0, never decrease and end at E = len(col) = {e}; got "
            f"crow[0]={int(crow[0])}, crow[-1]={int(crow[-1])}. crow[i]:crow[i + 1] is the slice of col "
            "holding agent i's contacts."
        )
    bad = ((col < 0) | (col >= n)).nonzero().squeeze(1)
    if bad.numel():
        raise IndexError(f"{bad.numel()} col ids out of range [0, {n}) (e.g. {_examples('col', bad, col)}).")
    if e > 1:
        row_start = torch.zeros(e, dtype=torch.bool, device=col.device)
        row_start[crow[:-1][crow.diff() > 0].long()] = True
        bad = ((col.diff() <= 0) & ~row_start[1:]).nonzero().squeeze(1) + 1
        if bad.numel():
            raise ValueError(
                f"col must be strictly increasing within each row (sorted, no duplicate contacts); "
                f"{bad.numel()} violations (e.g. at {_examples('col', bad, col)}). "
                "Build with ContactLayer.from_edges, which sorts and merges duplicates."
            )


def _merge_duplicates(key: Tensor, w: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Sorted distinct keys; with weights, the weights of equal keys summed."""
    if w is None:
        return torch.unique(key, sorted=True), None
    key, order = torch.sort(key)
    is_first = torch.ones_like(key, dtype=torch.bool)
    is_first[1:] = key[1:] != key[:-1]
    slot = torch.cumsum(is_first, 0) - 1
    summed = torch.zeros(int(is_first.sum()), dtype=w.dtype, device=w.device).index_add_(0, slot, w[order])
    return key[is_first], summed


def _check_group_sizes(sizes: Tensor, starts: Tensor, groups: Tensor, limit: int, layer: str) -> None:
    if sizes.numel() == 0:
        return
    largest = int(sizes.max())
    if largest > limit:
        gid = int(groups[starts[int(sizes.argmax())]])
        raise ValueError(
            f"layer {layer!r}: group {gid} has {largest} agents, over max_group_size={limit} "
            f"(a complete graph on it is {largest * (largest - 1):,} contacts). Split large groups "
            f"(e.g. workplaces into teams), or pass max_group_size={largest} if you mean it."
        )


def _check_scale(name: str, s: Any) -> None:
    if isinstance(s, Tensor):
        if s.dim() != 0:
            raise ValueError(
                f"scale[{name!r}] must be a number or a 0-dim tensor, got shape {tuple(s.shape)}."
            )
    elif not _is_nonnegative_number(s):
        raise ValueError(f"scale[{name!r}] must be a finite number >= 0 or a 0-dim tensor, got {s!r}.")


def _is_nonnegative_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
