r"""Daily random mixing: contacts redrawn every day, drawn from the agents that have something to pass on.

The model. Each day every agent makes m = `calls_per_agent` calls to partners drawn uniformly from the
population (self-calls dropped), and a call is a contact used both ways: both ends count it, so an agent has on
average 2m contacts a day (m own calls, about Poisson(m) calls from others). "20 contacts per agent per day" is
m = 10. The aggregate is y_i = w * sum_j A_ij x_j with A_ij the number of today's calls between i and j.

The computation. Only the sources, the agents with x_j != 0, contribute to y. So only they draw (push-based):

* a source's own m calls, keyed on (seed, day, stream, its id, lane l): each a contact both ways;
* the calls into a source from the other agents: their number K_j ~ Binomial((N - 1) m, 1 / N), the count of the
  (N - 1) m calls of the others that land on j, and each caller uniform over the others, keyed on j's id. A
  caller that is itself a source is dropped: its calls to j are among its own calls already.

Work and memory follow the sources (m + about m calls each), not N m. Each source's numbers are a function of its
global id, so results do not depend on the agents' order or on how they are split. Against drawing every agent's
m calls (the model above, literally), the contacts of a source are the same in distribution except that the
calls into it are drawn from its side: their count has the literal Binomial law (before the callers that are
sources are dropped), and a non-source's calls that reach sources have the literal mean, m S / N, but no cap at
m. Expected aggregate, exactly as in the literal model: E[y_i] = w * (2m / N) * sum_{j != i} x_j. When every
agent is a source (x != 0 everywhere) the contacts are the literal model's: everyone's own calls, no calls drawn
from the callee's side.

With autograd, every agent's m calls are drawn (as the literal model does), those from a non-source to a source
dropped (drawn from the source's side instead), so the forward value is the push's (up to float summation order)
and the gradient is that of today's contact matrix A, which is symmetric, for every agent.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn

from populace.core import rng
from populace.core.ops import flatnonzero
from populace.core.world import World
from populace.network.aggregate import check_agent_values, nonzero_rows

BINOMIAL_TAIL = 2.0**-40
"""Probability left out of the table of the incoming-call count (far below the 2**-32 steps of the uniforms)."""


class RandomMixing(nn.Module):
    r"""Contacts redrawn every day, uniformly at random: a well-mixed population in `aggregate` form.

    Each agent makes `calls_per_agent` calls a day to partners drawn uniformly (self-calls dropped); each call is
    a contact of both ends, so an agent has on average 2 x `calls_per_agent` contacts a day. Drawn on the fly
    from the counter-based RNG keyed on (seed, day, stream, agent id), only for the agents with x != 0 (see the
    module docstring: push-based, with every agent's calls drawn only when a gradient is needed); nothing per
    contact is stored between days. Gradients flow to `x`.
    """

    def __init__(self, calls_per_agent: int, *, weight: float = 1.0, stream: str = "random_mixing"):
        super().__init__()
        if not isinstance(calls_per_agent, int) or calls_per_agent < 1:
            raise ValueError(f"calls_per_agent must be an int >= 1, got {calls_per_agent!r}")
        if not weight >= 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        self.calls_per_agent = calls_per_agent
        self.weight = float(weight)
        self.stream = stream
        self._rows_cache: tuple[Tensor, int, _RowsOfIds] | None = None

    @property
    def mean_contacts(self) -> float:
        """Expected contacts per agent per day (2 x calls: each call counts for both ends)."""
        return 2.0 * self.calls_per_agent

    def aggregate(self, x: Tensor, world: World | None = None, *, support: Tensor | None = None) -> Tensor:
        """Weighted sum of `x` ([N] or [N, K]) over today's random contacts of each agent.

        ``world`` (required) gives the day, seed and agent ids the contacts are drawn from; ``support`` (see
        `populace.network.aggregate.aggregate`) is accepted and unused: the sources are the rows where x != 0.
        """
        if world is None:
            raise TypeError("RandomMixing.aggregate(x, world) needs the world: its contacts are drawn per day")
        ids = world.agents.ids
        n = ids.numel()
        check_agent_values(x, n, ids.device)
        is_source = x != 0 if x.dim() == 1 else (x != 0).any(1)
        sources = nonzero_rows(x)
        row_of = self._rows_of(ids)
        draw = _DayDraws(world.seed, world.step, self.stream, n, self.calls_per_agent)
        if x.requires_grad and torch.is_grad_enabled():
            return self.weight * _all_calls(x, is_source, sources, ids, row_of, draw)
        return _push(x, is_source, sources, ids, row_of, draw).mul_(self.weight)

    def _rows_of(self, ids: Tensor) -> _RowsOfIds:
        """The id -> row map of `ids`, kept while the same ids tensor comes back unchanged (day after day)."""
        cached = self._rows_cache
        if cached is None or cached[0] is not ids or cached[1] != ids._version:
            cached = self._rows_cache = (ids, ids._version, _RowsOfIds(ids))
        return cached[2]

    def extra_repr(self) -> str:
        return f"calls_per_agent={self.calls_per_agent}, weight={self.weight}"


def _push(x: Tensor, is_source: Tensor, sources: Tensor, ids: Tensor, row_of: _RowsOfIds, draw: _DayDraws) -> Tensor:
    """y from the sources' draws alone: their own calls (both ways) and the calls into them from non-sources."""
    y = torch.zeros_like(x)
    partners = row_of(draw.calls(ids[sources])).reshape(-1)  # [S m]
    callers = sources.repeat_interleave(draw.m)
    kept = flatnonzero(partners != callers)  # self-calls dropped
    if kept.numel() < partners.numel():
        partners, callers = partners[kept], callers[kept]
    y.index_add_(0, partners, x[callers])
    back = flatnonzero(is_source[partners])  # the other way, where the partner is a source too
    y.index_add_(0, callers[back], x[partners[back]])
    owners, incoming = draw.incoming(ids, sources, row_of)
    kept = flatnonzero(~is_source[incoming])  # a source's calls into another source are among its own calls
    return y.index_add_(0, incoming[kept], x[owners[kept]])


def _all_calls(x: Tensor, is_source: Tensor, sources: Tensor, ids: Tensor, row_of: _RowsOfIds,
               draw: _DayDraws) -> Tensor:
    """The same y as `_push`, with every agent's calls drawn, so that the gradient reaches every agent's x."""
    n = ids.numel()
    partners = row_of(draw.calls(ids))  # [N, m]
    callers = torch.arange(n, device=x.device).unsqueeze(1).expand_as(partners)
    keep = (partners != callers) & (is_source[callers] | ~is_source[partners])  # calls into sources: drawn below
    partners, callers = partners[keep], callers[keep]
    owners, incoming = draw.incoming(ids, sources, row_of)
    keep = ~is_source[incoming]
    owners, incoming = owners[keep], incoming[keep]
    y = torch.zeros_like(x).index_add_(0, partners, x[callers]).index_add_(0, callers, x[partners])
    # x is 0 on the incoming callers: the second sum adds nothing to the value, only the gradient's path
    return y.index_add_(0, incoming, x[owners]).index_add_(0, owners, x[incoming])


class _DayDraws:
    """One day's counter-based draws of `RandomMixing`: own calls, and calls into sources (count, then callers)."""

    def __init__(self, seed: int, step: int, stream: str, n: int, calls: int):
        self.seed, self.step, self.stream, self.n, self.m = seed, step, stream, n, calls

    def calls(self, caller_ids: Tensor) -> Tensor:
        """Partner ids [k, m] of the m calls of each of `caller_ids` (uniform over all N; self-calls included)."""
        return rng.randint(self.seed, self.step, self.stream, caller_ids, self.n, n=self.m)

    def incoming(self, ids: Tensor, sources: Tensor, row_of: _RowsOfIds) -> tuple[Tensor, Tensor]:
        """(source row, caller row) of every call into a source from another agent, int64 [C] each.

        Source j gets K_j ~ Binomial((N - 1) m, 1 / N) calls (inverse CDF of a float64 uniform), the l-th from
        the caller id r + (r >= id_j), r uniform in [0, N - 1) from lane l.
        """
        empty = sources.new_empty(0)
        if self.n < 2 or sources.numel() == 0:
            return empty, empty
        source_ids = ids[sources].long()
        u = rng.uniform(self.seed, self.step, f"{self.stream}.incoming_count", source_ids, dtype=torch.float64)
        cdf = _binomial_cdf((self.n - 1) * self.m, 1.0 / self.n).to(u.device)
        count = torch.searchsorted(cdf, u).clamp_(max=cdf.numel() - 1)  # [S] calls into each source
        order = torch.argsort(count, descending=True, stable=True)
        sources, source_ids = sources[order], source_ids[order]
        # with more than `lane` calls: the first k[lane] sources in that order
        k = (count.numel() - torch.bincount(count, minlength=cdf.numel()).cumsum(0)).tolist()
        owners, callers = [], []
        for lane in range(int(count.max())):
            r = rng.randint(self.seed, self.step, f"{self.stream}.incoming", source_ids[: k[lane]], self.n - 1,
                           lane=lane)
            owners.append(sources[: k[lane]])
            callers.append(row_of(r + (r >= source_ids[: k[lane]]).long()))
        if not owners:
            return empty, empty
        return torch.cat(owners), torch.cat(callers)


class _RowsOfIds:
    """Row positions of agent ids, for a table whose ids are a permutation of 0..N-1 (the identity needs none)."""

    def __init__(self, ids: Tensor):
        n = ids.numel()
        self.row_of_id: Tensor | None = None
        if not bool((ids == torch.arange(n, device=ids.device, dtype=ids.dtype)).all()):
            if int(ids.max()) >= n or int(ids.min()) < 0:
                raise ValueError("RandomMixing needs agent ids 0..N-1 (in any order); renumber the table's id column")
            self.row_of_id = torch.empty(n, dtype=torch.int64, device=ids.device)
            self.row_of_id[ids.long()] = torch.arange(n, device=ids.device)

    def __call__(self, wanted: Tensor) -> Tensor:
        return wanted if self.row_of_id is None else self.row_of_id[wanted]


@functools.lru_cache(maxsize=16)
def _binomial_cdf(trials: int, p: float) -> Tensor:
    """CDF of Binomial(trials, p) at 0, 1, ..., up to where less than `BINOMIAL_TAIL` is left (float64)."""
    log_pmf, log_ratio = trials * math.log1p(-p), math.log(p) - math.log1p(-p)
    mean, sd = trials * p, math.sqrt(trials * p * (1 - p))
    cdf, total, k = [], 0.0, 0
    while True:
        total += math.exp(log_pmf)
        cdf.append(total)
        # past the mean, stop once the tail is negligible (or, as float sums may stall short of 1, far out)
        if k == trials or (k > mean and (1 - total < BINOMIAL_TAIL or k > mean + 12 * sd + 40)):
            break
        log_pmf += math.log((trials - k) / (k + 1)) + log_ratio
        k += 1
    return torch.tensor(cdf, dtype=torch.float64)
