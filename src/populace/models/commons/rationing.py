r"""Who gets what when a group asks for more than its pool holds: exact random rationing, the proportional variant,
and the differentiable relaxation.

GovSim's rule hands the h units out one at a time, each to a random agent whose demand is still unmet. We read
"random" as: every requested unit is equally likely to be served next, so handing out h units one at a time is
drawing h of the W = sum_i w_i requested units without replacement. Agent i's catch is then the number of its w_i
units among those drawn:

    c ~ MultivariateHypergeometric(w_1, ..., w_N; h),   E[c_i] = h w_i / W  (the proportional share).

(Picking a uniformly random *agent* among those with unmet demand would be another rule, which favours small
requests; the issue's "expectation equal to the proportional share" is the property of the reading above.)

The draw is exact and vectorized: each requested unit j of agent i gets a random 32-bit key from the counter-based
RNG, keyed on (seed, month, stream, agent id, j), made unique by appending its position in the group; the h units
with the smallest keys are served, so c_i counts agent i's keys at or below the group's h-th smallest key. Only
over-demanded groups are drawn, in chunks of at most `UNITS_PER_CHUNK` requested units (bounded memory); a
group's draws depend only on its own agents' ids, not on the chunking or the other groups.

Proportional variant: c_i = floor(h w_i / W); the (fewer than N) units lost to rounding stay in the pool.
Relaxation (differentiable mode): c_i = w_i min(1, h / W), the exact rule's expectation, with min(1, x) optionally
smoothed to 1 - tau log(1 + exp((1 - x) / tau)) so that the kink at W = h has a gradient too.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional

from populace.core import rng

UNITS_PER_CHUNK = 1 << 21
"""Requested units keyed at a time: 2M int64 keys (16 MiB) plus their sort."""

POSITION_BITS = 20
"""Bits of a unit's position in its group appended to its random key: at most 2**20 requested units per group."""


def over_demanded(resource: Tensor, requests: Tensor) -> Tensor:
    """[G] bool: groups whose agents ask for more than the pool, sum_i w_i > h."""
    return requests.sum(dim=1) > resource


def random_rationing(resource: Tensor, requests: Tensor, agent_ids: Tensor, *, seed: int, month: int,
                     stream: str = "commons-rationing") -> Tensor:
    """Catches c [G, N]: w where the group's demand fits its pool, the multivariate hypergeometric draw (module
    docstring) where it does not.

    Args:
        resource: h [G], whole units.
        requests: w [G, N], whole units >= 0.
        agent_ids: [G, N] the agents' stable ids (the keys of their random numbers).
        seed, month: the run's seed and the month (step) of the draw.
    """
    catch = requests.clone()
    rows = over_demanded(resource, requests).nonzero().squeeze(1)
    if rows.numel() == 0:
        return catch
    largest = int(requests[rows].max())
    if largest * requests.shape[1] >= 1 << POSITION_BITS:
        raise ValueError(f"an agent asks for {largest} units; the exact rationing keys at most {1 << POSITION_BITS} "
                         f"units per group of {requests.shape[1]} seats. Cap the requests (a greedy policy's amount) "
                         "or use proportional rationing")
    widest = requests[rows].amax(dim=1).to(torch.int64)  # lanes each group needs [M]
    start = 0
    while start < rows.numel():  # a chunk keys (its groups) x N x (its widest request) <= UNITS_PER_CHUNK units
        lanes = torch.cummax(widest[start:start + UNITS_PER_CHUNK], 0).values
        cost = torch.arange(1, lanes.numel() + 1, device=lanes.device) * requests.shape[1] * lanes
        stop = start + max(1, int(torch.searchsorted(cost, UNITS_PER_CHUNK, right=True)))
        part = rows[start:stop]
        catch[part] = _draw_catches(resource[part], requests[part], agent_ids[part], seed, month, stream)
        start = stop
    return catch


def _draw_catches(resource: Tensor, requests: Tensor, agent_ids: Tensor, seed: int, month: int,
                  stream: str) -> Tensor:
    """The hypergeometric catches [M, N] of M over-demanded groups (`random_rationing`)."""
    m, n = requests.shape
    want = requests.to(torch.int64)
    lanes = int(want.max())
    bits = rng.random_bits(seed, month, stream, agent_ids.reshape(-1), n=lanes).reshape(m, n, lanes)
    position = torch.arange(n * lanes, dtype=torch.int64, device=requests.device).reshape(1, n, lanes)
    keys = (bits << POSITION_BITS) | position  # unique within a group: [M, N, lanes]
    requested = torch.arange(lanes, device=requests.device) < want.unsqueeze(2)
    keys = torch.where(requested, keys, torch.iinfo(torch.int64).max)
    ordered = keys.reshape(m, n * lanes).sort(dim=1).values
    last_served = ordered.gather(1, resource.to(torch.int64).clamp(min=1).unsqueeze(1) - 1)  # h-th smallest [M, 1]
    served = requested & (keys <= last_served.unsqueeze(2)) & (resource > 0).reshape(m, 1, 1)
    return served.sum(dim=2).to(requests.dtype)


def proportional_rationing(resource: Tensor, requests: Tensor) -> Tensor:
    """Catches c [G, N]: w where demand fits, floor(h w_i / W) where it does not (whole units)."""
    demand = requests.sum(dim=1, keepdim=True)
    share = torch.floor(resource.unsqueeze(1) * requests / demand.clamp(min=1))
    return torch.where(over_demanded(resource, requests).unsqueeze(1), share, requests)


def relaxed_rationing(resource: Tensor, requests: Tensor, *, temperature: float = 0.0) -> Tensor:
    """c [G, N] = w min(1, h / W) (smooth min at `temperature` tau > 0, the exact min at 0): differentiable in h and
    w, the expected catch of the random rule."""
    ratio = resource.unsqueeze(1) / requests.sum(dim=1, keepdim=True).clamp(min=1e-6)
    if temperature > 0:
        fraction = 1 - temperature * functional.softplus((1 - ratio) / temperature)
    else:
        fraction = torch.clamp(ratio, max=1.0)
    return requests * fraction
