"""Household assembly: sizes add up, every household has an adult, children live with adults, bad input."""

import pytest
import torch

from populace.population import assign_households, household_sizes


def test_sizes_match_the_table_and_the_person_count():
    persons = torch.tensor([20, 9, 3])
    table = torch.tensor([[2, 2, 1, 2], [1, 1, 1, 0], [0, 0, 1, 0]])  # sizes 1, 2, 3, 4+
    zone, size = household_sizes(persons, table)
    assert zone.tolist() == [0] * 7 + [1] * 3 + [2]
    # zone 0: fixed places 1+1+2+2+3 = 9, so the two 4+ households share the other 11, each keeping at least 4
    assert size[zone == 0][:5].tolist() == [1, 1, 2, 2, 3]
    assert int(size[zone == 0][5:].sum()) == 11
    assert int(size[zone == 0][5:].min()) >= 4
    # zone 1 has no 4+ households: the 3 persons beyond 1+2+3 are spread over all of them
    assert size[zone == 1].tolist() == [2, 3, 4]
    assert size[zone == 2].tolist() == [3]
    for z in range(3):
        assert int(size[zone == z].sum()) == int(persons[z])


def test_open_ended_households_have_a_geometric_tail():
    # 4,000 "4+" households and 4,800 persons beyond their 4 each: extras X ~ Geometric, mean 1.2, so
    # P(size 4) = 1 / 2.2 = 0.455, P(5) = 0.248, P(6) = 0.135 (then nudged to the exact total); 4 standard errors
    _, size = household_sizes(torch.tensor([4 * 4000 + 4800]), torch.tensor([[0, 0, 0, 4000]]), seed=7)
    assert int(size.sum()) == 4 * 4000 + 4800
    share = torch.bincount(size.long(), minlength=8)[4:7].double() / 4000
    q = 1 / 2.2
    expected = torch.tensor([q, q * (1 - q), q * (1 - q) ** 2], dtype=torch.float64)
    assert bool(((share - expected).abs() < 4 * (expected * (1 - expected) / 4000).sqrt()).all())


def test_sizes_shrink_largest_first_when_places_exceed_persons():
    _, size = household_sizes(torch.tensor([7]), torch.tensor([[1, 1, 2, 0]]))  # 1 + 2 + 3 + 3 = 9 places
    assert size.tolist() == [1, 2, 2, 2]


def _population(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    n = 3_000
    zone_of_person = torch.randint(0, 3, (n,), generator=g)
    age = torch.where(torch.rand(n, generator=g) < 0.75, torch.randint(18, 90, (n,), generator=g),
                      torch.randint(0, 18, (n,), generator=g))
    is_adult = age >= 18
    persons = torch.bincount(zone_of_person, minlength=3)
    adults = torch.bincount(zone_of_person[is_adult], minlength=3)
    table = torch.stack([(adults * torch.tensor(share)).long() for share in (0.25, 0.25, 0.15, 0.1)], dim=1)
    return zone_of_person, age, is_adult, persons, table


def test_every_person_placed_with_an_adult_head_and_children_never_alone():
    zone_of_person, age, is_adult, persons, table = _population()
    zone, size = household_sizes(persons, table)
    ids = torch.arange(zone_of_person.numel(), dtype=torch.int32)
    home = assign_households(zone_of_person, age, is_adult, ids, zone, size, seed=4).long()
    assert int(home.min()) >= 0
    assert torch.equal(torch.bincount(home, minlength=size.numel()), size.long())  # every place filled once
    assert torch.equal(zone[home], zone_of_person.to(torch.int32))  # members live in their own zone
    adults_per_home = torch.bincount(home[is_adult], minlength=size.numel())
    assert int(adults_per_home.min()) >= 1
    assert bool((size[home[~is_adult]] >= 2).all())  # a child's household has room for an adult too


def test_age_composition_heads_parents_and_partners():
    zone_of_person, age, is_adult, persons, table = _population()
    zone, size = household_sizes(persons, table, seed=1)
    ids = torch.arange(zone_of_person.numel(), dtype=torch.int32)
    home = assign_households(zone_of_person, age, is_adult, ids, zone, size, seed=4).long()
    age = age.double()
    oldest_adult = torch.full((size.numel(),), -1.0, dtype=torch.float64).scatter_reduce(
        0, home[is_adult], age[is_adult], "amax")
    youngest_adult = torch.full((size.numel(),), 999.0, dtype=torch.float64).scatter_reduce(
        0, home[is_adult], age[is_adult], "amin")
    # children live with adults a generation older: the oldest adult of a child's home is 18+ years older on
    # average (heads are drawn nearest age 40 and matched to the children by age rank)
    gap = oldest_adult[home[~is_adult]] - age[~is_adult]
    assert 20 < float(gap.mean()) < 45
    assert float((gap >= 15).double().mean()) > 0.8
    # adults sharing a home are of similar ages: in two-adult homes the ages correlate strongly
    adults_per_home = torch.bincount(home[is_adult], minlength=size.numel())
    pairs = adults_per_home == 2
    r = torch.corrcoef(torch.stack([oldest_adult[pairs], youngest_adult[pairs]]))[0, 1]
    assert float(r) > 0.5


def test_assignment_is_reproducible_and_depends_on_the_seed():
    zone_of_person, age, is_adult, persons, table = _population()
    zone, size = household_sizes(persons, table)
    ids = torch.arange(zone_of_person.numel(), dtype=torch.int32)
    first = assign_households(zone_of_person, age, is_adult, ids, zone, size, seed=4)
    assert torch.equal(first, assign_households(zone_of_person, age, is_adult, ids, zone, size, seed=4))
    assert not torch.equal(first, assign_households(zone_of_person, age, is_adult, ids, zone, size, seed=5))


@pytest.mark.parametrize(
    ("persons", "table", "match"),
    [
        ([2], [[3, 0]], "2 persons for 3 households"),
        ([4], [[0, 0]], "4 persons but no households"),
        ([4], [[1.5, 1]], "whole counts"),
        ([-1], [[1, 0]], "must not be negative"),
        ([4, 4], [[1, 1]], r"households_by_size must be \[zones, sizes\] with 2 zones"),
    ],
)
def test_bad_size_tables_raise(persons, table, match):
    with pytest.raises(ValueError, match=match):
        household_sizes(torch.tensor(persons), torch.tensor(table))


def test_too_few_adults_is_refused():
    zone_of_person = torch.zeros(4, dtype=torch.int64)
    is_adult = torch.tensor([True, False, False, False])
    with pytest.raises(ValueError, match="1 adults for 2 households"):
        assign_households(zone_of_person, torch.tensor([40, 5, 6, 7]), is_adult, torch.arange(4),
                          torch.zeros(2, dtype=torch.int32),
                          torch.tensor([2, 2]), seed=0)
