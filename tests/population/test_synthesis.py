"""Generic synthesis from zones x categories tables: margins met, proportions kept when scaled, bad input."""

import pandas as pd
import pytest
import torch

from populace.population.synthesis import SEED_FLOOR, choose_within_zones, exact_ages, fit_persons, fit_report


def _tables():
    age = pd.DataFrame({"young": [300, 120, 50], "old": [100, 80, 150]}, index=["a", "b", "c"])
    sex = pd.DataFrame({"male": [190, 110, 90], "female": [210, 90, 110]}, index=["a", "b", "c"])
    seed_table = torch.tensor([[[30.0, 20.0], [10.0, 40.0]], [[5.0, 5.0], [5.0, 5.0]]])  # [region, age, sex]
    return {"age": age, "sex": sex}, seed_table, [0, 0, 1]


def test_persons_match_every_margin_within_rounding():
    margins, seed_table, region = _tables()
    people = fit_persons(margins, seed_table, region, seed=1)
    assert people.counts.sum((1, 2)).tolist() == [400, 200, 200]  # zone totals exact
    report = fit_report(people, margins, zone_codes=["a", "b", "c"])
    assert len(report) == 3 * 2 + 3 * 2
    # each margin cell sums 2 rounded joint cells: off by at most 1 person
    assert float(report["difference"].abs().max()) <= 1.0
    columns = people.expand()
    assert columns["zone"].tolist().count(1) == 200
    assert int(((columns["zone"] == 0) & (columns["age"] == 0)).sum()) == pytest.approx(300, abs=1)


def test_seed_association_is_kept_where_margins_allow():
    # region 0's seed ties youth to men (odds ratio 6); zone "a" keeps that association, zone "c" (flat seed) not
    margins, seed_table, region = _tables()
    fitted = fit_persons(margins, seed_table, region, seed=1).fitted
    a, c = fitted[0], fitted[2]
    f = SEED_FLOOR * 25.0  # the floor added to every seed cell: SEED_FLOOR x the mean cell of region 0
    expected = (30 + f) * (40 + f) / ((20 + f) * (10 + f))  # about 6
    assert float(a[0, 0] * a[1, 1] / (a[0, 1] * a[1, 0])) == pytest.approx(expected, rel=1e-5)
    assert float(c[0, 0] * c[1, 1] / (c[0, 1] * c[1, 0])) == pytest.approx(1.0, rel=1e-3)


def test_scaled_population_keeps_proportions():
    margins, seed_table, region = _tables()
    big = {k: v * 100 for k, v in margins.items()}
    people = fit_persons(big, seed_table, region, seed=2, scale=0.1)
    assert people.counts.sum((1, 2)).tolist() == [4000, 2000, 2000]
    share_young = people.counts.sum(2)[:, 0].double() / people.counts.sum((1, 2)).double()
    assert torch.allclose(share_young, torch.tensor([0.75, 0.6, 0.25], dtype=torch.float64), atol=1e-3)


def test_exact_ages_fall_in_their_bands():
    bands = torch.tensor([0, 3, 17] * 1000, dtype=torch.uint8)
    ages = exact_ages(bands, torch.arange(3000), seed=1, open_band=17).long()
    low = bands.long() * 5
    assert bool(((ages >= low) & (ages < low + torch.where(bands == 17, 10, 5))).all())
    assert set(ages[bands == 3].tolist()) == {15, 16, 17, 18, 19}


def test_choose_within_zones_takes_exact_counts_with_chances_proportional_to_weight():
    zone = torch.tensor([0] * 6000 + [1] * 4000)
    weight = torch.tensor([1.0, 3.0]).repeat(5000)  # alternate weights 1 and 3
    chosen = choose_within_zones(zone, weight, torch.tensor([1000, 4000]), torch.arange(10_000), seed=3,
                                 stream="test")
    assert int(chosen[zone == 0].sum()) == 1000
    assert bool(chosen[zone == 1].all())  # asked for everyone
    # zone 0: lambda (3000 * 1 + 3000 * 3) = 1000, so p = 1/12 (weight 1) and 1/4 (weight 3); 4 standard errors
    light, heavy = chosen[:6000][0::2].double().mean(), chosen[:6000][1::2].double().mean()
    assert float(light) == pytest.approx(1 / 12, abs=4 * (1 / 12 * 11 / 12 / 3000) ** 0.5)
    assert float(heavy) == pytest.approx(1 / 4, abs=4 * (1 / 4 * 3 / 4 / 3000) ** 0.5)
    # a weight that would ask for a probability above 1 is capped at 1 and the rest share what is left
    capped = choose_within_zones(torch.zeros(4, dtype=torch.long), torch.tensor([100.0, 1.0, 1.0, 1.0]),
                                 torch.tensor([2]), torch.arange(4), seed=1, stream="test")
    assert bool(capped[0])
    assert int(capped.sum()) == 2
    none_eligible = choose_within_zones(zone, torch.zeros(10_000), torch.tensor([5, 5]), torch.arange(10_000),
                                        seed=3, stream="test")
    assert not bool(none_eligible.any())


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"scale": 0.0}, r"scale must be in \(0, 1\]"),
        ({"region": [0, 0]}, "region_of_zone must have one entry per zone"),
        ({"region": [0, 0, 2]}, "must index the 2 regions"),
        ({"seed_table": torch.ones(2, 3, 2)}, r"seed_table must have shape \[regions, 2, 2\]"),
    ],
)
def test_bad_inputs_raise(change, match):
    margins, seed_table, region = _tables()
    kwargs = {"scale": 1.0, "region": region, "seed_table": seed_table, **change}
    with pytest.raises(ValueError, match=match):
        fit_persons(margins, kwargs["seed_table"], kwargs["region"], seed=1, scale=kwargs["scale"])


def test_margins_with_different_totals_are_refused():
    margins, seed_table, region = _tables()
    margins["sex"] = margins["sex"] * 2
    with pytest.raises(ValueError, match="age and sex disagree"):
        fit_persons(margins, seed_table, region, seed=1)
