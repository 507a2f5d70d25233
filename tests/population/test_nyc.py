"""Synthetic NYC at 1% against the real tables: totals, margins, households, jobs, reproducibility."""

import pytest
import torch

from populace.data import census_county_population, dcp_nta_profiles
from populace.population.nyc import INDUSTRIES, synthesize_nyc
from populace.population.storage import NO_CODE

pytestmark = pytest.mark.needs_data

SCALE = 0.01


@pytest.fixture(scope="module")
def nyc():
    return synthesize_nyc(scale=SCALE, seed=1)


@pytest.fixture(scope="module")
def profiles():
    return dcp_nta_profiles()


def test_borough_totals_match_the_census_2019_estimate(nyc):
    census = census_county_population().groupby("borough", observed=True)["count"].sum()
    counts = torch.bincount(nyc.agents.region.long(), minlength=5)
    for code, borough in enumerate(nyc.codes["region"]):
        # each NTA rounds to whole persons: a borough is off by at most half a person per NTA
        assert int(counts[code]) == pytest.approx(census[borough] * SCALE, abs=0.5 * 83)
    assert nyc.agents.n == pytest.approx(8_336_817 * SCALE, abs=3)


def test_every_margin_matches_its_table(nyc):
    report = nyc.fit
    assert set(report["attribute"]) == {"age_band", "sex", "race_ethnicity"}
    # IPF meets the (fractional, 1%-scaled) targets exactly; unbiased rounding of the 18 x 2 x 8 joint cells of a
    # zone then adds independent-ish errors of variance f(1 - f) <= 1/4 per joint cell. A margin cell sums
    # 288 / C joint cells (C categories of its attribute), a citywide category 262 times more: 4 sd bounds.
    cells_per_zone = 18 * 2 * 8
    for attribute, rows in report.groupby("attribute"):
        joint_cells = cells_per_zone / rows["category"].nunique()
        assert rows["difference"].abs().max() < 4 * (0.25 * joint_cells) ** 0.5, attribute
        city = rows.groupby("category")[["target", "synthetic"]].sum()
        assert ((city["synthetic"] - city["target"]).abs() < 4 * (0.25 * joint_cells * 262) ** 0.5).all(), attribute


def test_nta_age_shares_follow_city_planning(nyc, profiles):
    # the share of children under 18 per borough, synthetic vs the City Planning age bands (15-19 split 3/5)
    agents = nyc.agents
    for code, borough in enumerate(nyc.codes["region"]):
        rows = profiles[profiles["borough"] == borough]
        under_18 = rows[["age_0_4", "age_5_9", "age_10_14"]].to_numpy().sum() + 0.6 * rows["age_15_19"].sum()
        expected = under_18 / rows["population"].sum()
        mine = agents.region == code
        share = float((agents.age[mine] < 18).double().mean())
        assert share == pytest.approx(expected, abs=0.01), borough


def test_households_are_whole_local_and_headed_by_adults(nyc):
    agents, households = nyc.agents, nyc.households
    home = agents.household.long()
    assert int(home.min()) == 0
    assert int(home.max()) == len(households) - 1
    sizes = torch.bincount(home, minlength=len(households))
    assert torch.equal(sizes, torch.as_tensor(households["size"].to_numpy(copy=True)).long())
    zone_of_home = torch.as_tensor(households["zone"].to_numpy(copy=True))
    assert torch.equal(zone_of_home[home], agents.zone)  # members share the NTA
    adults = torch.bincount(home[agents.age >= 18], minlength=len(households))
    homes_of_adult_zones = torch.bincount(agents.zone[agents.age >= 18].long(), minlength=262)[
        torch.as_tensor(households["zone"].to_numpy(copy=True)).long()] > 0
    assert bool((adults[homes_of_adult_zones] >= 1).all())
    assert torch.equal(home, torch.sort(home).values)  # rows ordered by household, so households are contiguous
    assert 2.4 < agents.n / len(households) < 2.8  # NYC mean household size 2.6 (ACS)
    sizes = torch.as_tensor(households["size"].to_numpy(copy=True)).long()
    four_plus = sizes[sizes >= 4]
    # ACS 2019-23 NYC: about half of the 4+ households have exactly 4 members; the geometric tail gives 40-55%
    assert 0.35 < float((four_plus == 4).double().mean()) < 0.6
    # the geometric tail with the NTA's implied mean (group-quarters residents included: see nyc.py) puts about 12%
    # of them at 8 or more; a regression bound
    assert float((four_plus >= 8).double().mean()) < 0.15


def test_jobs_match_the_employment_and_industry_tables(nyc, profiles):
    agents = nyc.agents
    assert not bool((agents.is_employed & (agents.age < 16)).any())
    assert torch.equal(agents.is_employed, agents.industry != NO_CODE)
    employed_share = float(agents.is_employed.sum()) / agents.n
    assert employed_share == pytest.approx(profiles["employed"].sum() / profiles["population"].sum(), abs=0.005)
    industry_share = torch.bincount(agents.industry[agents.is_employed].long(), minlength=13).double()
    industry_share /= industry_share.sum()
    table = torch.tensor([profiles[f"ind_{name}"].sum() for name in INDUSTRIES], dtype=torch.float64)
    assert torch.allclose(industry_share, table / table.sum(), atol=0.005)
    # within an NTA the chance to work is proportional to the CPS employment-population ratio of one's age group,
    # so citywide the rate of each group relative to ages 25-54 follows the ratios (0.297, 0.646, 0.618, 0.186
    # over 0.779), up to the NTA mix and sampling noise at 1% (about 0.02)
    def rate(low: int, high: int) -> float:
        group = (agents.age >= low) & (agents.age < high)
        return float(agents.is_employed[group].double().mean())

    prime = rate(25, 55)
    for (low, high), ratio in {(16, 20): 0.297, (20, 25): 0.646, (55, 65): 0.618, (65, 200): 0.186}.items():
        assert rate(low, high) / prime == pytest.approx(ratio / 0.779, abs=0.05), (low, high)


def test_same_seed_same_population_other_seed_differs(nyc):
    again = synthesize_nyc(scale=SCALE, seed=1)
    for column in nyc.agents.columns:
        assert torch.equal(again.agents[column], nyc.agents[column]), column
    other = synthesize_nyc(scale=SCALE, seed=2)
    assert not torch.equal(other.agents.household, nyc.agents.household)
