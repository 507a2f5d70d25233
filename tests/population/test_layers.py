"""Contact layers: group structure, degree bounds, community scopes and age mixing, contacts per day, bad input.

Tests marked needs_data read the Prem et al. 2021 matrices from the data directory."""

import numpy as np
import pytest
import torch
from scipy import stats

from populace.core import AgentTable, rng
from populace.data.contacts import contact_matrix, prem2021_contacts
from populace.population import (
    LayerConfig,
    WorkplaceSizes,
    assign_school_classes,
    assign_workplaces,
    build_layers,
    community_layer,
    contacts_per_day_by_band,
    household_layer,
    prem_band,
    reciprocal_contacts,
    work_layer,
)

N_ZONES, N_REGIONS = 8, 3


def toy_population(n_households: int, *, seed: int = 0) -> AgentTable:
    """Households of 1..6 in zone order (equal zones, regions of 3, 3 and 2 zones); heads 18..89, others 0..94;
    65% of 16..69-year-olds employed in one of 13 industries."""
    h = torch.arange(n_households)
    size = 1 + (rng.uniform(seed, 0, "toy.size", h) ** 1.6 * 6).long()
    household = torch.repeat_interleave(h, size)
    ids = torch.arange(household.numel())
    is_head = torch.ones(ids.numel(), dtype=torch.bool)
    is_head[1:] = household[1:] != household[:-1]
    age = torch.where(is_head, 18 + (rng.uniform(seed, 0, "toy.head", ids) * 72).long(),
                      (rng.uniform(seed, 0, "toy.age", ids) * 95).long())
    zone = household * N_ZONES // n_households
    employed = (age >= 16) & (age < 70) & (rng.uniform(seed, 0, "toy.job", ids) < 0.65)
    industry = torch.where(employed, (rng.uniform(seed, 0, "toy.industry", ids) * 13).long(), 255)
    return AgentTable({
        "zone": zone.to(torch.int16), "region": (zone * N_REGIONS // N_ZONES).to(torch.uint8),
        "household": household.to(torch.int32), "age": age.to(torch.uint8),
        "age_band": (age // 5).clamp(max=17).to(torch.uint8), "is_employed": employed,
        "industry": industry.to(torch.uint8),
    })


@pytest.fixture(scope="module")
def people() -> AgentTable:
    return toy_population(12_000)  # ~34k agents


@pytest.fixture(scope="module")
def prem() -> dict[str, np.ndarray]:
    table = prem2021_contacts()
    return {s: contact_matrix(table, s) for s in ("home", "school", "work", "other")}


@pytest.fixture(scope="module")
def built(people):
    return build_layers(people, seed=7)


def edges(layer):
    rows = torch.repeat_interleave(torch.arange(layer.n_agents), layer.degree().long())
    return rows, layer.col.long()


def test_household_layer_is_every_household_complete_and_nothing_else(people):
    layer = household_layer(people)
    src, dst = edges(layer)
    household = people["household"].long()
    assert bool((household[src] == household[dst]).all())
    assert bool((src != dst).all())
    size = torch.bincount(household)
    assert torch.equal(layer.degree().long(), size[household] - 1)  # plus distinct contacts: complete


def test_school_classes_group_pupils_of_one_zone_and_age_in_classes_of_about_class_size(people):
    school_class = assign_school_classes(people, class_size=25, seed=1).long()
    age, zone = people["age"].long(), people["zone"].long()
    is_pupil = (age >= 5) & (age <= 17)
    assert torch.equal(school_class >= 0, is_pupil)
    pupils = is_pupil.nonzero().squeeze(1)
    k = school_class[pupils]
    n_classes = int(k.max()) + 1
    for column in (age, zone):  # every class is one (zone, age)
        lo = torch.full((n_classes,), 999).scatter_reduce(0, k, column[pupils], "amin")
        hi = torch.full((n_classes,), -1).scatter_reduce(0, k, column[pupils], "amax")
        assert torch.equal(lo, hi)
    size = torch.bincount(k)
    group = zone[pupils] * 256 + age[pupils]
    group_size = torch.zeros(256 * N_ZONES, dtype=torch.long).index_add_(0, group, torch.ones_like(group))
    class_group = torch.zeros(n_classes, dtype=torch.long).scatter(0, k, group)
    big_enough = group_size[class_group] >= 13
    assert big_enough.float().mean() > 0.9  # the fixture has ~40 pupils per (zone, age)
    assert bool(((size >= 12.5) & (size <= 37.5))[big_enough].all())
    # k = round(n / 25) classes per group, sizes differing by at most one
    per_group = torch.bincount(class_group, minlength=256 * N_ZONES)
    used = group_size > 0
    assert torch.equal(per_group[used], ((group_size[used] / 25 + 0.5).floor().long().clamp(min=1)))


def test_small_zones_pool_their_pupils_by_region_so_classes_keep_their_size():
    small = toy_population(600)  # ~1,700 agents: one or two pupils per (zone, age)
    school_class = assign_school_classes(small, class_size=25, seed=1).long()
    age, zone, region = small["age"].long(), small["zone"].long(), small["region"].long()
    pupils = (school_class >= 0).nonzero().squeeze(1)
    k = school_class[pupils]
    for column in (age, region):  # every class is one (region, age)
        lo = torch.full((int(k.max()) + 1,), 999).scatter_reduce(0, k, column[pupils], "amin")
        hi = torch.full((int(k.max()) + 1,), -1).scatter_reduce(0, k, column[pupils], "amax")
        assert torch.equal(lo, hi)
    group = zone[pupils] * 256 + age[pupils]
    mean_zone_group = float(torch.bincount(group)[group].double().mean())  # pupils' own (zone, age) group size
    mean_class = float(torch.bincount(k)[k].double().mean())
    assert mean_zone_group < 12.5
    assert mean_class > 2 * mean_zone_group  # pooled across the region's zones


def test_workplaces_follow_the_size_distribution_and_share_region_and_industry(people):
    sizes = WorkplaceSizes(alpha=1.06, max_size=40)
    workplace = assign_workplaces(people, sizes=sizes, seed=2).long()
    assert torch.equal(workplace >= 0, people["is_employed"])
    workers = (workplace >= 0).nonzero().squeeze(1)
    w = workplace[workers]
    group = people["region"].long()[workers] * 256 + people["industry"].long()[workers]
    n_places = int(w.max()) + 1
    lo = torch.full((n_places,), 10**6).scatter_reduce(0, w, group, "amin")
    hi = torch.full((n_places,), -1).scatter_reduce(0, w, group, "amax")
    assert torch.equal(lo, hi)
    # the last workplace of each group takes the workers left (truncated): compare the others with the law
    is_last = torch.ones(n_places, dtype=torch.bool)
    is_last[:-1] = lo[1:] != lo[:-1]
    size = torch.bincount(w)[~is_last]
    edges_ = torch.tensor([0, 1, 2, 4, 9, 19, 40])  # bins (0, 1], (1, 2], (2, 4], (4, 9], (9, 19], (19, 40]
    observed = torch.histc(size.double(), bins=40, min=0.5, max=40.5).cumsum(0)[edges_[1:] - 1]
    observed = torch.diff(observed, prepend=observed.new_zeros(1))
    expected = torch.diff(sizes.cdf(edges_)) * size.numel()
    assert stats.chisquare(observed.numpy(), expected.numpy()).pvalue > 1e-3  # false alarm 1 in 1000


def test_work_layer_bounds_contacts_and_keeps_them_within_workplaces(people):
    workplace = assign_workplaces(people, sizes=WorkplaceSizes(alpha=1.06, max_size=60), seed=3)
    agents = people.with_columns(workplace=workplace)
    layer = work_layer(agents, contacts_per_worker=6, seed=3)
    src, dst = edges(layer)
    w = workplace.long()
    assert bool((w[src] == w[dst]).all())
    assert bool((w[src] >= 0).all())
    assert bool((src != dst).all())
    size = torch.bincount(w[w >= 0])[w.clamp(min=0)]
    degree = layer.degree().long()
    is_worker = w >= 0
    assert torch.equal(degree[is_worker], torch.clamp(size[is_worker] - 1, max=6))  # <= 6, all coworkers if few
    layer.with_weight(torch.ones(layer.n_edges), is_symmetric=True)  # validates A == A^T


@pytest.mark.needs_data
def test_community_scopes_match_the_probabilities_and_the_age_mixing_matches_the_matrix(people, prem):
    layer = community_layer(people, partners_per_agent=8, p_same_zone=0.5, p_same_region=0.3,
                            contact_matrix=prem["other"], seed=4)
    src, dst = edges(layer)
    assert bool((src != dst).all())
    assert abs(layer.n_edges / people.n - 8) < 0.2  # a few repeated pairs merge
    zone, region = people["zone"].long(), people["region"].long()
    share_zone = torch.bincount(zone).double() / people.n
    share_region = torch.bincount(region).double() / people.n
    # a call lands in the caller's zone w.p. p_zone + p_anywhere * share of the zone, and so on
    expect_zone = 0.5 + 0.2 * float((share_zone**2).sum())
    expect_region = 0.3 + 0.2 * float((share_region**2).sum() - (share_zone**2).sum())
    n_undirected = layer.n_edges / 2
    same_zone = float((zone[src] == zone[dst]).double().mean())
    other_zone_same_region = float(((region[src] == region[dst]) & (zone[src] != zone[dst])).double().mean())
    for got, want in ((same_zone, expect_zone), (other_zone_same_region, expect_region)):
        assert abs(got - want) < 4 * np.sqrt(want * (1 - want) / n_undirected)  # 4 standard errors
    # undirected edges by band pair {a, b}: expected share 2 C[a, b] / sum C off the diagonal, C[a, a] / sum C on it
    band = prem_band(people["age_band"])
    c = reciprocal_contacts(prem["other"], torch.bincount(band, minlength=16))
    upper = src < dst
    a, b = band[src[upper]], band[dst[upper]]
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    observed = torch.bincount(lo * 16 + hi, minlength=256).view(16, 16)
    share = torch.triu(2 * c) - torch.diag(torch.diag(c))
    iu = torch.triu_indices(16, 16)
    obs, exp = observed[iu[0], iu[1]].double(), (share / share.sum())[iu[0], iu[1]] * int(upper.sum())
    assert stats.chisquare(obs.numpy(), exp.numpy()).pvalue > 1e-3  # false alarm 1 in 1000


@pytest.mark.needs_data
def test_weighted_degree_by_band_is_the_reciprocal_prem_row_sum(people, built, prem):
    agents, graph = built
    band = prem_band(agents["age_band"])
    n_by_band = torch.bincount(band, minlength=16)
    for layer_name, setting in (("household", "home"), ("school", "school"), ("work", "work"),
                                ("community", "other")):
        layer = graph[layer_name]
        target = reciprocal_contacts(prem[setting], n_by_band).sum(1) / n_by_band
        degree = layer.aggregate(torch.ones(agents.n, dtype=torch.float64))
        got = torch.zeros(16, dtype=torch.float64).index_add_(0, band, degree) / n_by_band
        reached = torch.bincount(band[layer.degree() > 0], minlength=16) > 0
        torch.testing.assert_close(got[reached], target[reached], rtol=1e-4, atol=1e-6)
        assert bool((got[~reached] == 0).all())
        layer.with_weight(layer.weight, is_symmetric=True)  # validates w_ij == w_ji
    assert torch.equal(torch.nonzero(graph["school"].degree() > 0).squeeze(1),
                       torch.nonzero(agents["school_class"] >= 0).squeeze(1))
    by_band = contacts_per_day_by_band(graph["community"], agents["age_band"])
    assert by_band.shape == (18,)
    assert abs(float(by_band[15]) - float(by_band[17])) < 0.1  # all use Prem's 75+


@pytest.mark.needs_data
def test_community_weights_match_the_whole_reciprocal_matrix(built, prem):
    agents, graph = built
    layer = graph["community"]
    band = prem_band(agents["age_band"])
    src, dst = edges(layer)
    total = torch.zeros(256, dtype=torch.float64).index_add_(0, band[src] * 16 + band[dst], layer.weight.double())
    c = reciprocal_contacts(prem["other"], torch.bincount(band, minlength=16))
    torch.testing.assert_close(total.view(16, 16), c, rtol=1e-4, atol=1e-3)


@pytest.mark.needs_data
def test_build_is_reproducible_from_the_seed_and_independent_of_row_order(people, built):
    agents, graph = built
    _, again = build_layers(people, seed=7)
    for name in graph.names:
        assert torch.equal(graph[name].col, again[name].col)
        assert torch.equal(graph[name].weight, again[name].weight)
    _, other = build_layers(people, seed=8)
    assert not torch.equal(graph["community"].col, other["community"].col)
    order = torch.randperm(people.n, generator=torch.Generator().manual_seed(0))
    shuffled = people.take(order)  # ids travel with the rows
    classes = assign_school_classes(shuffled, seed=7)
    places = assign_workplaces(shuffled, seed=7)
    assert torch.equal(classes, agents["school_class"][order])
    assert torch.equal(places, agents["workplace"][order])


def test_bad_input_raises_errors_that_name_the_problem(people):
    matrix = np.ones((16, 16))
    with pytest.raises(KeyError, match=r"no column\(s\) \['household'\]"):
        household_layer(people.drop("household"))
    with pytest.raises(KeyError, match=r"no column.*'workplace'"):
        work_layer(people, seed=0)
    with pytest.raises(ValueError, match="class_size must be an int >= 1"):
        assign_school_classes(people, class_size=0, seed=0)
    with pytest.raises(ValueError, match="pupil_ages must be"):
        assign_school_classes(people, pupil_ages=(17, 5), seed=0)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        WorkplaceSizes(alpha=-1.0)
    with pytest.raises(ValueError, match="max_size must be an int >= 1"):
        WorkplaceSizes(max_size=0)
    jobless = people.with_columns(industry=torch.full((people.n,), 255, dtype=torch.uint8))
    with pytest.raises(ValueError, match="employed agents have industry 255"):
        assign_workplaces(jobless, seed=0)
    with_places = people.with_columns(workplace=assign_workplaces(people, seed=0))
    with pytest.raises(ValueError, match="contacts_per_worker must be an even int >= 2"):
        work_layer(with_places, contacts_per_worker=5, seed=0)
    with pytest.raises(ValueError, match=r"p_same_zone \+ p_same_region must be <= 1"):
        community_layer(people, p_same_zone=0.7, p_same_region=0.5, seed=0)
    with pytest.raises(ValueError, match="p_same_zone must be a probability"):
        LayerConfig(p_same_zone=1.5)
    with pytest.raises(ValueError, match="partners_per_agent must be a number"):
        community_layer(people, partners_per_agent=0, seed=0)
    with pytest.raises(ValueError, match=r"must be a \[16, 16\] matrix"):
        household_layer(people, contact_matrix=matrix[:15])
    with pytest.raises(ValueError, match="finite contacts per day >= 0"):
        LayerConfig(contact_matrices={"work": -matrix})
    with pytest.raises(KeyError, match=r"unknown layers \['transit'\]"):
        LayerConfig(contact_matrices={"transit": matrix})
    moved = people.with_columns(region=torch.where(torch.arange(people.n) == 0, 2, people["region"].long()))
    with pytest.raises(ValueError, match="zone 0 has agents in several regions"):
        community_layer(moved, seed=0)
