r"""Contact layers of a synthetic population (household, school, work, community), weighted in contacts per day.

Structure (who can meet whom):

- household: every two members of a household (complete graph per household).
- school: every two pupils of a class (`school_class`, see `groups.assign_school_classes`).
- work: each worker meets at most k = `contacts_per_worker` coworkers of its `workplace`: the workplace's workers
  are put in a random cyclic order and each is joined to the k / 2 next ones, so a worker has exactly k coworker
  contacts in a workplace of more than k + 1 workers (a ring of teams) and all its coworkers in a smaller one.
- community: static random partners. Agent i of Prem band a makes m_a calls (m_a proportional to a's reciprocal
  row sum, scaled so that the mean degree is `partners_per_agent`); each call picks the partner's band b with
  probability C[a, b] / sum_b C[a, b], then a scope: i's zone with probability `p_same_zone`, another zone of its
  region with `p_same_region`, else anywhere; then a partner uniformly among the agents of band b in that scope
  (never i itself). An empty scope falls back to the next wider one. Each call is a contact both ways.

Weights (contacts per day). A Prem et al. 2021 matrix M[a, b] (contacts per day a person of band a has with band
b, 16 bands 0-4 ... 70-74, 75+; our bands 15, 16, 17 all map to Prem's 75+) is not reciprocal for our population:
M[a, b] N_a != M[b, a] N_b. The total daily contacts between bands are made symmetric,

    C[a, b] = (M[a, b] N_a + M[b, a] N_b) / 2          (N_a: our agents in band a)

and each band's target is its row total T_a = sum_b C[a, b], i.e. T_a / N_a contacts per agent per day. A layer
reaches only some band pairs (E[a, b] > 0 directed edges): C is rescaled on those pairs, C'[a, b] = x_a x_b C[a, b],
with x solving sum_b C'[a, b] = T_a (symmetric Sinkhorn scaling), and every edge between bands a and b gets weight
C'[a, b] / E[a, b]. So the mean weighted degree of band a (over all its agents, in the layer or not) is T_a / N_a,
and where the layer reaches every pair (community, household) the whole reciprocal matrix C is matched; contacts
with bands a layer cannot reach (pupil-teacher, work contacts of children) are folded into the pairs it has.
Bands the layer does not reach at all (0-4 at school) lose their contacts. Weights are symmetric: w_ij = w_ji.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from populace.core import AgentTable, rng
from populace.data.contacts import contact_matrix, prem2021_contacts
from populace.network.graph import ContactGraph, ContactLayer
from populace.population.groups import (
    WorkplaceSizes,
    assign_school_classes,
    assign_workplaces,
    order_within_groups,
    require_columns,
)
from populace.population.storage import N_POPULATION_AGE_BANDS

N_PREM_BANDS = 16
SETTING_OF_LAYER: dict[str, str] = {"household": "home", "school": "school", "work": "work", "community": "other"}


def prem_band(age_band: Tensor) -> Tensor:
    """Prem et al. band (0..15, int64) of our 5-year bands (0..17): bands 15, 16, 17 (75-79, 80-84, 85+) -> 75+."""
    return age_band.long().clamp(max=N_PREM_BANDS - 1)


def reciprocal_contacts(matrix: np.ndarray | Tensor, n_by_band: Tensor) -> Tensor:
    """C[a, b] = (M[a, b] N_a + M[b, a] N_b) / 2: total contacts per day between bands a and b, float64 [16, 16].

    `matrix`: M [16, 16], contacts per day a person of band a has with band b; `n_by_band`: N [16] agents per band.
    C is symmetric; C[a, b] / N_a is the reciprocal rate per agent of band a.
    """
    m = _check_matrix(matrix, "matrix")
    total = m * n_by_band.to(torch.float64)[:, None]
    return (total + total.T) / 2


def contact_weights(layer: ContactLayer, age_band: Tensor, matrix: np.ndarray | Tensor) -> ContactLayer:
    """The symmetric `layer` with weights w_ij = C'[a_i, b_j] / E[a_i, b_j] in contacts per day (module docstring).

    `age_band`: our 18 bands, [N]; `matrix`: the Prem-band matrix M [16, 16] of the layer's setting.
    """
    band = prem_band(age_band)
    n_by_band = torch.bincount(band, minlength=N_PREM_BANDS)
    c = reciprocal_contacts(matrix, n_by_band)
    rows, cols = layer.edges()
    pair = band[rows] * N_PREM_BANDS + band[cols]  # [E] band pair of each edge
    del rows, cols
    edges = torch.bincount(pair, minlength=N_PREM_BANDS**2).view(N_PREM_BANDS, N_PREM_BANDS).to(torch.float64)
    fitted = _fit_to_support(c, edges > 0)
    per_edge = torch.where(edges > 0, fitted / edges.clamp(min=1), 0.0)
    return layer.with_weight(per_edge.flatten().to(torch.float32)[pair], is_symmetric=True, validate=False)


def contacts_per_day_by_band(layer: ContactLayer, age_band: Tensor) -> Tensor:
    """Mean weighted degree sum_j w_ij over the agents of each of our 18 bands (float64 [18]; NaN for empty bands)."""
    degree = layer.aggregate(torch.ones(layer.n_agents, dtype=torch.float64))
    band = age_band.long()
    total = torch.zeros(N_POPULATION_AGE_BANDS, dtype=torch.float64).index_add_(0, band, degree)
    return total / torch.bincount(band, minlength=N_POPULATION_AGE_BANDS)


def household_layer(agents: AgentTable, *, contact_matrix: np.ndarray | Tensor | None = None) -> ContactLayer:
    """Every two members of a household in contact; weights from `contact_matrix` (Prem "home"), else 1.

    Reads `household` (and `age_band` when weighted)."""
    require_columns(agents, ("household",) + (("age_band",) if contact_matrix is not None else ()), "household_layer")
    layer = ContactLayer.from_groups(agents["household"], name="household")
    return layer if contact_matrix is None else contact_weights(layer, agents["age_band"], contact_matrix)


def school_layer(agents: AgentTable, *, contact_matrix: np.ndarray | Tensor | None = None) -> ContactLayer:
    """Every two pupils of a class in contact; weights from `contact_matrix` (Prem "school"), else 1.

    Reads `school_class` (from `assign_school_classes`; and `age_band` when weighted)."""
    require_columns(agents, ("school_class",) + (("age_band",) if contact_matrix is not None else ()), "school_layer")
    layer = ContactLayer.from_groups(agents["school_class"], name="school")
    return layer if contact_matrix is None else contact_weights(layer, agents["age_band"], contact_matrix)


def work_layer(
    agents: AgentTable,
    *,
    contacts_per_worker: int = 10,
    contact_matrix: np.ndarray | Tensor | None = None,
    seed: int,
) -> ContactLayer:
    """Each worker in contact with at most `contacts_per_worker` (even, k) coworkers (module docstring); weights from
    `contact_matrix` (Prem "work"), else 1. Reads `workplace` (from `assign_workplaces`), `id` and `age_band`."""
    require_columns(agents, ("workplace",) + (("age_band",) if contact_matrix is not None else ()), "work_layer")
    if not (isinstance(contacts_per_worker, int) and contacts_per_worker >= 2 and contacts_per_worker % 2 == 0):
        raise ValueError(f"contacts_per_worker must be an even int >= 2 (each worker joins the k / 2 next ones in a "
                         f"ring, and is joined by the k / 2 before), got {contacts_per_worker!r}.")
    workplace = agents["workplace"].long()
    workers = (workplace >= 0).nonzero().squeeze(1)  # [M]
    u = rng.uniform(seed, 0, "work_layer.ring", agents.ids[workers], dtype=torch.float64)
    order, start, size = order_within_groups(workplace[workers], u)
    ring = workers[order]  # [M] workers, workplace by workplace, in a random cyclic order within each
    g = torch.repeat_interleave(torch.arange(size.numel()), size)  # [M] workplace of each ring position
    n_next = torch.minimum(size // 2, torch.tensor(contacts_per_worker // 2))[g]  # [M] next ones joined
    src = torch.repeat_interleave(torch.arange(ring.numel()), n_next)  # [E/2] ring positions
    offset = torch.arange(src.numel()) - (torch.cumsum(n_next, 0) - n_next)[src] + 1  # 1..n_next
    gs = g[src]
    dst = start[gs] + (src - start[gs] + offset) % size[gs]
    layer = ContactLayer.from_edges(agents.n, ring[src], ring[dst], symmetric=True, name="work")
    return layer if contact_matrix is None else contact_weights(layer, agents["age_band"], contact_matrix)


def community_layer(
    agents: AgentTable,
    *,
    partners_per_agent: float = 10.0,
    p_same_zone: float = 0.5,
    p_same_region: float = 0.3,
    contact_matrix: np.ndarray | Tensor | None = None,
    seed: int,
) -> ContactLayer:
    """Static random partners, by zone, region and age mixing (module docstring); weights from `contact_matrix`
    (Prem "other"), else 1, when the partner's band is drawn in proportion to the bands' sizes.

    `partners_per_agent`: mean number of distinct partners (degree); the contacts per day come from the matrix.
    Reads `zone`, `region`, `age_band`, `id`.
    """
    require_columns(agents, ("zone", "region", "age_band"), "community_layer")
    _check_probabilities(p_same_zone, p_same_region)
    if not (isinstance(partners_per_agent, (int, float)) and 0 < partners_per_agent < agents.n):
        raise ValueError(f"partners_per_agent must be a number in (0, N={agents.n}), got {partners_per_agent!r}.")
    band = prem_band(agents["age_band"])
    n_by_band = torch.bincount(band, minlength=N_PREM_BANDS)
    if contact_matrix is None:  # proportional mixing: C[a, b] = N_a N_b / N
        c = n_by_band[:, None].double() * n_by_band[None, :].double() / agents.n
    else:
        c = reciprocal_contacts(contact_matrix, n_by_band)
    c = c * (n_by_band > 0)[None, :]  # no partners in empty bands
    calls_by_band = partners_per_agent * agents.n / (2 * c.sum()) * c.sum(1) / n_by_band.clamp(min=1)  # m_a
    # n_i = floor(m_a) + Bernoulli(frac(m_a)) calls for agent i of band a: mean m_a
    m = calls_by_band[band]
    n_calls = (m + rng.uniform(seed, 0, "community.calls", agents.ids, dtype=torch.float64)).floor().long()
    # joint draw of (scope, partner band) per call: P(s, b | a) = p_s C[a, b] / sum_b C[a, b]
    p_scope = torch.tensor([p_same_zone, p_same_region, 1 - p_same_zone - p_same_region], dtype=torch.float64)
    joint = (p_scope[None, :, None] * (c / c.sum(1, keepdim=True).clamp(min=1e-300))[:, None, :]).flatten(1)
    cdf = torch.cumsum(joint, 1)
    cdf[:, -1] = 1.0
    cdf = (cdf + torch.arange(N_PREM_BANDS)[:, None]).flatten()  # row a shifted by a: one sorted array
    blocks = _Blocks(agents["zone"].long(), agents["region"].long(), band)
    src, dst = [], []
    for lane in range(int(n_calls.max()) if n_calls.numel() else 0):  # a loop over calls 1, 2, ... per agent
        caller = (n_calls > lane).nonzero().squeeze(1)
        a = band[caller]
        u = rng.uniform(seed, lane, "community.scope_band", agents.ids[caller], dtype=torch.float64)
        pick = torch.searchsorted(cdf, a + u, right=True) - a * 3 * N_PREM_BANDS
        pick = pick.clamp(0, 3 * N_PREM_BANDS - 1)
        u = rng.uniform(seed, lane, "community.partner", agents.ids[caller], dtype=torch.float64)
        caller, partner = blocks.draw(caller, a, pick // N_PREM_BANDS, pick % N_PREM_BANDS, u)
        src.append(caller)
        dst.append(partner)
    layer = ContactLayer.from_edges(agents.n, torch.cat(src), torch.cat(dst), symmetric=True, name="community")
    return layer if contact_matrix is None else contact_weights(layer, agents["age_band"], contact_matrix)


@dataclass(frozen=True)
class LayerConfig:
    """Settings of `build_layers`; every default is documented in docs/population-schema.md ("Contact layers").

    class_size, pupil_ages: `assign_school_classes`. workplace_sizes: `assign_workplaces`. contacts_per_worker:
    `work_layer`. partners_per_agent, p_same_zone, p_same_region: `community_layer`. contact_matrices: Prem-band
    matrices M [16, 16] by layer name (household, school, work, community), contacts per day; a missing layer uses
    the Prem et al. 2021 US urban matrix of its setting (home, school, work, other). Scale a matrix to scale a layer.
    """

    class_size: int = 25
    pupil_ages: tuple[int, int] = (5, 17)
    workplace_sizes: WorkplaceSizes = field(default_factory=WorkplaceSizes)
    contacts_per_worker: int = 10
    partners_per_agent: float = 10.0
    p_same_zone: float = 0.5
    p_same_region: float = 0.3
    contact_matrices: Mapping[str, np.ndarray | Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.contact_matrices) - set(SETTING_OF_LAYER))
        if unknown:
            raise KeyError(f"contact_matrices has unknown layers {unknown}; the layers are {list(SETTING_OF_LAYER)}.")
        for name, matrix in self.contact_matrices.items():
            _check_matrix(matrix, f"contact_matrices[{name!r}]")
        _check_probabilities(self.p_same_zone, self.p_same_region)


def build_layers(
    agents: AgentTable, config: LayerConfig | None = None, *, seed: int, data_dir: str | None = None
) -> tuple[AgentTable, ContactGraph]:
    """Assign school classes and workplaces, then build the four weighted layers.

    Returns (agents with new `school_class` and `workplace` columns, ContactGraph with layers household, school,
    work, community). `data_dir`: where the Prem et al. 2021 files are (default: the data directory).
    """
    config = LayerConfig() if config is None else config
    require_columns(agents, ("zone", "region", "household", "age", "age_band", "is_employed", "industry"),
                    "build_layers")
    matrices = dict(config.contact_matrices)
    if len(matrices) < len(SETTING_OF_LAYER):
        prem = prem2021_contacts(data_dir, urban=True)
        for name, setting in SETTING_OF_LAYER.items():
            matrices.setdefault(name, contact_matrix(prem, setting))
    agents = agents.with_columns(
        school_class=assign_school_classes(agents, class_size=config.class_size, pupil_ages=config.pupil_ages,
                                           seed=seed),
        workplace=assign_workplaces(agents, sizes=config.workplace_sizes, seed=seed),
    )
    layers = {
        "household": household_layer(agents, contact_matrix=matrices["household"]),
        "school": school_layer(agents, contact_matrix=matrices["school"]),
        "work": work_layer(agents, contacts_per_worker=config.contacts_per_worker,
                           contact_matrix=matrices["work"], seed=seed),
        "community": community_layer(agents, partners_per_agent=config.partners_per_agent,
                                     p_same_zone=config.p_same_zone, p_same_region=config.p_same_region,
                                     contact_matrix=matrices["community"], seed=seed),
    }
    return agents, ContactGraph(agents.n, layers)


class _Blocks:
    """Agents sorted by (Prem band, region, zone): the agents of band b in a zone, a region or the whole population
    are one contiguous block of `perm`, so a uniform partner in a scope is one random position in a block."""

    def __init__(self, zone: Tensor, region: Tensor, band: Tensor):
        n_zones = int(zone.max()) + 1
        region_of_zone = torch.zeros(n_zones, dtype=torch.int64).scatter_reduce_(0, zone, region, "amax")
        if bool((region_of_zone[zone] != region).any()):
            bad = int(zone[region_of_zone[zone] != region][0])
            raise ValueError(f"zone {bad} has agents in several regions; a zone must lie in one region.")
        zone_rank = torch.empty(n_zones, dtype=torch.int64)  # zones renumbered so that each region is a run
        zone_rank[torch.argsort(region_of_zone * n_zones + torch.arange(n_zones))] = torch.arange(n_zones)
        key = band * n_zones + zone_rank[zone]  # [N] (band, region, zone) order
        self.perm = torch.argsort(key, stable=True)
        self.position = torch.empty_like(self.perm)
        self.position[self.perm] = torch.arange(key.numel())
        count = torch.bincount(key, minlength=N_PREM_BANDS * n_zones).view(N_PREM_BANDS, n_zones)
        start = (torch.cumsum(count.flatten(), 0) - count.flatten()).view(N_PREM_BANDS, n_zones)
        n_regions = int(region_of_zone.max()) + 1
        region_of_rank = region_of_zone[torch.argsort(zone_rank)]
        count_br = torch.zeros(N_PREM_BANDS, n_regions, dtype=torch.int64).index_add_(1, region_of_rank, count)
        first_rank = torch.full((n_regions,), n_zones - 1, dtype=torch.int64).scatter_reduce_(
            0, region_of_rank, torch.arange(n_zones), "amin")
        self.count_bz, self.start_bz = count.flatten(), start.flatten()  # [16 Z], index b Z + zone rank
        self.count_br, self.start_br = count_br.flatten(), start[:, first_rank].flatten()  # [16 R], index b R + r
        self.count_b, self.start_b = count.sum(1), start[:, 0]  # [16]
        self.zone_rank, self.zone, self.region = zone_rank, zone, region
        self.n_zones, self.n_regions = n_zones, n_regions

    def draw(self, caller: Tensor, a: Tensor, scope: Tensor, b: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        """(caller, partner) [K] for calls of agents `caller` (band a) into scope (0 zone, 1 rest of region,
        2 anywhere) and band b, u uniform in (0, 1); calls with nobody to meet are dropped."""
        z, r, me = self.zone_rank[self.zone[caller]], self.region[caller], self.position[caller]
        is_own_band = (b == a).long()
        in_zone = b * self.n_zones + z
        zone_start, zone_count = self.start_bz[in_zone], self.count_bz[in_zone]
        in_region = b * self.n_regions + r
        # each scope is a block [start, start + count) minus a sub-block [ex_start, ex_start + ex_count)
        scope = torch.where((scope == 0) & (zone_count - is_own_band == 0), 1, scope)
        scope = torch.where((scope == 1) & (self.count_br[in_region] - zone_count == 0), 2, scope)
        is_zone, is_region = scope == 0, scope == 1
        start = torch.where(is_zone, zone_start, torch.where(is_region, self.start_br[in_region], self.start_b[b]))
        count = torch.where(is_zone, zone_count, torch.where(is_region, self.count_br[in_region], self.count_b[b]))
        ex_start = torch.where(is_region, zone_start, me)
        ex_count = torch.where(is_region, zone_count, is_own_band)
        available = count - ex_count
        slot = start + (u * available).long()
        slot += (slot >= ex_start).long() * ex_count
        ok = available > 0
        return caller[ok], self.perm[slot[ok]]


def _fit_to_support(c: Tensor, support: Tensor, iterations: int = 10_000) -> Tensor:
    """C'[a, b] = x_a x_b C[a, b] on `support` (0 elsewhere), x solving sum_b C'[a, b] = T_a = sum_b C[a, b]
    by the symmetric Sinkhorn iteration x <- sqrt(x T / (C x)); bands without support or target get x_a = 0."""
    target = c.sum(1)
    a = c * support
    x = ((a.sum(1) > 0) & (target > 0)).to(torch.float64)
    for _ in range(iterations):
        ax = a @ x
        x_new = torch.where(ax > 0, torch.sqrt(x * target / ax.clamp(min=1e-300)), 0.0)
        if torch.allclose(x_new, x, rtol=1e-12, atol=0):
            break
        x = x_new
    return x[:, None] * a * x[None, :]


def _check_matrix(matrix: np.ndarray | Tensor, what: str) -> Tensor:
    m = matrix.detach().to(torch.float64) if isinstance(matrix, Tensor) else torch.tensor(np.asarray(matrix, float))
    if m.shape != (N_PREM_BANDS, N_PREM_BANDS):
        raise ValueError(f"{what} must be a [16, 16] matrix over Prem et al. bands 0-4 ... 70-74, 75+ (rows: the "
                         f"person making contacts), got shape {tuple(m.shape)}. See populace.data.contact_matrix.")
    if not bool((torch.isfinite(m) & (m >= 0)).all()):
        raise ValueError(f"{what} must hold finite contacts per day >= 0.")
    return m


def _check_probabilities(p_same_zone: float, p_same_region: float) -> None:
    for name, p in (("p_same_zone", p_same_zone), ("p_same_region", p_same_region)):
        if not (isinstance(p, (int, float)) and 0 <= p <= 1):
            raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}.")
    if p_same_zone + p_same_region > 1:
        raise ValueError(f"p_same_zone + p_same_region must be <= 1 (the rest is partners anywhere), got "
                         f"{p_same_zone} + {p_same_region} = {p_same_zone + p_same_region}.")
