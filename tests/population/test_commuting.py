"""Commuting: work regions drawn from a home x work table (binomial tolerances), workplaces grouped by work region
that mix home regions as the table implies, and the synthetic NYC's flows against the ACS commuting table."""

import math

import numpy as np
import pytest
import torch

from populace.core import AgentTable
from populace.data import acs_commuting_flows, commuting_shares, paths
from populace.population import Population, assign_workplaces, check_population
from populace.population.commuting import assign_work_regions
from populace.population.nyc import build_nyc
from populace.population.storage import NO_CODE

K_SE = 4  # tolerance in binomial standard errors: two-sided false alarm 6e-5 per cell, about 2e-3 over 30 cells


def workers(n: int, n_regions: int, *, seed: int = 0) -> AgentTable:
    """n agents spread over regions (one zone each), 3 in 4 employed, 4 industries."""
    gen = torch.Generator().manual_seed(seed)
    region = torch.randint(0, n_regions, (n,), generator=gen)
    is_employed = torch.rand(n, generator=gen) < 0.75
    industry = torch.where(is_employed, torch.randint(0, 4, (n,), generator=gen), NO_CODE)
    order = torch.argsort(region, stable=True)
    return AgentTable({"id": torch.arange(n, dtype=torch.int32), "zone": region[order].to(torch.int16),
                       "region": region[order].to(torch.uint8), "is_employed": is_employed[order],
                       "industry": industry[order].to(torch.uint8)})


SHARES = np.array([[0.6, 0.3, 0.0, 0.1],   # region 0: 60% at home, 30% in region 1, 10% outside
                   [0.0, 1.0, 0.0, 0.0],   # region 1: everyone at home
                   [0.2, 0.5, 0.25, 0.05]])


def test_work_regions_follow_each_home_regions_row_within_binomial_tolerance():
    agents = workers(30_000, 3)
    work = assign_work_regions(agents, SHARES, seed=7)
    employed = agents["is_employed"]
    assert work.dtype == torch.uint8
    assert bool((work[~employed] == NO_CODE).all())
    for h in range(3):
        mine = work[employed & (agents["region"] == h)].long()
        n = mine.numel()
        counts = torch.bincount(torch.where(mine == NO_CODE, 3, mine), minlength=4).double()
        for w, p in enumerate(SHARES[h]):
            se = math.sqrt(p * (1 - p) / n)
            assert abs(float(counts[w]) / n - p) <= K_SE * se, (h, w)  # p = 0 or 1: exactly
    # reproducible, and keyed on agent ids, not rows: a shuffled table gives each agent the same draw
    assert torch.equal(assign_work_regions(agents, SHARES, seed=7), work)
    assert not torch.equal(assign_work_regions(agents, SHARES, seed=8), work)
    perm = torch.randperm(agents.n, generator=torch.Generator().manual_seed(1))
    shuffled = AgentTable({name: values[perm] for name, values in agents.items()})
    assert torch.equal(assign_work_regions(shuffled, SHARES, seed=7), work[perm])


def test_workplaces_group_by_work_region_and_mix_home_regions():
    agents = workers(20_000, 3)
    agents = agents.with_columns(work_region=assign_work_regions(agents, SHARES, seed=7))
    place = assign_workplaces(agents, seed=3).long()
    outside = agents["is_employed"] & (agents["work_region"] == NO_CODE)
    assert bool((place[outside] == -1).all())  # working outside the area: no workplace here
    assert bool((place[agents["is_employed"] & ~outside] >= 0).all())
    has = place >= 0
    region_of_place = torch.full((int(place.max()) + 1,), -1).scatter_reduce(
        0, place[has], agents["work_region"].long()[has], "amax")
    assert torch.equal(region_of_place[place[has]], agents["work_region"].long()[has])  # one work region each
    # region 1's workplaces: 30% of region 0's workers, all of region 1's, half of region 2's. Places of 50 or more
    # hold home regions near those numbers (stratified), not one home region each.
    in_one = has & (agents["work_region"] == 1)
    n_home = torch.bincount(agents["region"].long()[in_one], minlength=3).double()
    expected = n_home / n_home.sum()
    size = torch.bincount(place[in_one])
    for p in (size >= 50).nonzero().flatten()[:20]:
        mix = torch.bincount(agents["region"].long()[place == p], minlength=3).double() / size[p]
        torch.testing.assert_close(mix, expected, atol=2.5 / float(size[p]) + 0.02, rtol=0)


def test_without_commuting_the_workplaces_are_as_before():
    # a work region equal to the home region everywhere gives the home-region grouping, draw for draw
    agents = workers(20_000, 3)
    at_home = torch.where(agents["is_employed"], agents["region"], NO_CODE).to(torch.uint8)
    assert torch.equal(assign_workplaces(agents.with_columns(work_region=at_home), seed=3),
                       assign_workplaces(agents, seed=3))


@pytest.mark.parametrize(("shares", "match"), [
    (np.ones((3, 3)) / 3, r"\[R, R \+ 1\] table .* got shape \(3, 3\)"),
    (np.ones((2, 3)) / 3, r"shares has 2 rows but the agents live in regions 0..2"),
    (SHARES * 1.1, r"row 0 sums to 1.1"),
    (-SHARES, "finite and >= 0"),
])
def test_bad_shares_are_refused(shares, match):
    with pytest.raises(ValueError, match=match):
        assign_work_regions(workers(100, 3), shares, seed=1)


@pytest.fixture(scope="module")
def nyc():
    """NYC at 0.5% (41,683 agents) from the shipped tables (equal to the raw ones, tests/data/test_shipped.py),
    which read in a fraction of the time of the City Planning workbooks."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(paths.ENV_VAR, raising=False)
        patch.setattr(paths, "_candidates", lambda: [])
        yield build_nyc(scale=0.005, seed=1)


def test_nyc_commuting_flows_match_the_acs_table_within_binomial_tolerance(nyc):
    a = nyc.agents
    shares = commuting_shares(acs_commuting_flows())  # [5, 6]
    employed = a["is_employed"]
    assert bool((a["work_region"][~employed] == NO_CODE).all())
    work = a["work_region"].long()
    for h in range(5):
        mine = work[employed & (a["region"] == h)]
        n = mine.numel()
        counts = torch.bincount(torch.where(mine == NO_CODE, 5, mine), minlength=6).double()
        se = np.sqrt(shares[h] * (1 - shares[h]) / n)
        np.testing.assert_array_less(np.abs(counts.numpy() / n - shares[h]), K_SE * se + 1e-12)
    # the effect: Manhattan's daytime workers (NYC residents working there) are about twice its resident workers
    in_manhattan = int((work == 2).sum())
    living = int((employed & (a["region"] == 2)).sum())
    assert 1.9 < in_manhattan / living < 2.3  # the table: 1,718,449 / 838,217 = 2.05


def test_nyc_work_edges_join_home_boroughs_as_the_matrix_implies(nyc):
    a = nyc.agents
    src, dst = nyc.layers["work"].edges()
    home, work = a["region"].long(), a["work_region"].long()
    assert torch.equal(work[src], work[dst])  # coworkers work in the same borough, always
    shares = commuting_shares(acs_commuting_flows())[:, :5]
    n_home = torch.bincount(home[a["is_employed"]], minlength=5).double().numpy()
    implied = n_home[:, None] * shares / (n_home[:, None] * shares).sum(0)  # [h, w] P(lives in h | works in w)
    for w in range(5):
        n_w = int((work == w).sum())
        mates = torch.bincount(home[dst[work[src] == w]], minlength=5).double()
        mix = (mates / mates.sum()).numpy()
        se = np.sqrt(implied[:, w] * (1 - implied[:, w]) / n_w)
        np.testing.assert_array_less(np.abs(mix - implied[:, w]), K_SE * se + 0.005)
        # two coworkers of borough w live in different boroughs with probability 1 - sum_h P(h | w)^2: for
        # Manhattan (41% of its workers live there) 0.72, against 0 without commuting
        crossing = (home[src] != home[dst])[work[src] == w].double().mean()
        assert float(crossing) == pytest.approx(1 - (implied[:, w] ** 2).sum(), abs=0.03), w


def test_nyc_work_region_survives_save_load_and_check(nyc, tmp_path):
    nyc.save(tmp_path / "nyc")
    assert check_population(tmp_path / "nyc") == []
    loaded = Population.load(tmp_path / "nyc")
    assert torch.equal(loaded.agents["work_region"], nyc.agents["work_region"])
    assert loaded.manifest["codes"]["work_region"] == ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"]
    assert any(s["path"].endswith("acs_commuting_flows.parquet") for s in loaded.manifest["sources"])


def test_check_refuses_work_regions_that_contradict_employment_or_workplaces(nyc, tmp_path):
    a = nyc.agents
    idle = int((~a["is_employed"]).nonzero()[0])
    commuter = int((a["workplace"] >= 0).nonzero()[0])
    work_region = a["work_region"].clone()
    work_region[idle] = 2  # not employed, yet working in Manhattan
    work_region[commuter] = NO_CODE  # working outside NYC, yet with a workplace here
    broken = Population(a.with_columns(work_region=work_region), nyc.zones, nyc.households, nyc.layers,
                        dict(nyc.manifest))
    broken.save(tmp_path / "broken")
    messages = [p.message for p in check_population(tmp_path / "broken")]
    assert len(messages) == 2
    assert messages[0].startswith(f"1 agents not employed have a work region (e.g. row {idle} has 2)")
    assert messages[1].startswith(f"1 agents working outside the area (work_region 255) have a workplace (e.g. row "
                                  f"{commuter} has")
