"""`DonorGameRules`: the published defaults, derived sizes, and a clear error per bad field naming the default."""

import pytest

from populace.models.cooperation import DonorGameRules


def test_published_defaults_and_derived_sizes():
    rules = DonorGameRules()
    assert (rules.agents_per_society, rules.generations, rules.rounds, rules.initial_resources, rules.multiplier,
            rules.trace_depth, rules.punishment, rules.punishment_factor, rules.survivor_fraction) == (
        12, 10, 12, 10.0, 2.0, 3, False, 2.0, 0.5)
    assert (rules.half, rules.n_survivors, rules.steps, rules.lowest_fraction) == (6, 6, 120, 0.0)
    assert DonorGameRules(punishment=True).lowest_fraction == -1.0
    assert DonorGameRules(agents_per_society=10, survivor_fraction=0.3).n_survivors == 3


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"agents_per_society": 7}, r"agents_per_society must be an even int >= 2 \(two halves meet; published: 12\)"),
    ({"agents_per_society": 0}, "agents_per_society must be an even int"),
    ({"generations": 0}, r"generations must be an int >= 1 \(published: 10\)"),
    ({"rounds": 5}, r"rounds must be an even int >= 2 .*published: 12"),
    ({"trace_depth": 0}, r"trace_depth must be an int >= 1 \(published: 3\)"),
    ({"initial_resources": 0.0}, r"initial_resources must be a finite number > 0 \(published: 10\)"),
    ({"multiplier": float("inf")}, r"multiplier must be a finite number > 0 \(published: 2\)"),
    ({"punishment_factor": -2}, r"punishment_factor must be a finite number > 0 \(published: 2\)"),
    ({"punishment": "yes"}, "punishment must be True or False"),
    ({"survivor_fraction": 0.4}, r"survivor_fraction must lie in \(0, 1\) .*published: 0.5.*got 0.4 for 12 agents"),
    ({"survivor_fraction": 1.0}, "survivor_fraction must lie in"),
    ({"mutation_std": -0.1}, r"mutation_std must be a finite number >= 0 \(0: no mutation"),
])
def test_bad_rules_are_refused_with_the_field_and_the_default(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DonorGameRules(**kwargs)
