"""Heuristic harvesters: each one's requests on hand-made views, the random one's distribution, whole runs."""

import math

import pytest
import torch

from populace.models.commons import (
    Commons,
    CommonsRules,
    Greedy,
    GroupView,
    HarvestPolicy,
    RandomHarvest,
    SustainableShare,
    TitForTat,
    WithNewcomer,
)


def _view(month: int = 1, last_catch: list[list[float]] | None = None) -> GroupView:
    last = torch.tensor(last_catch or [[10.0, 10.0, 10.0], [2.0, 14.0, 7.0]])
    g, s = last.shape
    return GroupView(month=month, resource=torch.tensor([100.0, 60.0]), sustainable_share=torch.tensor([16.0, 10.0]),
                     last_request=last, last_catch=last, active=torch.ones(g, s, dtype=torch.bool))


def test_every_heuristic_is_a_harvest_policy():
    for policy in (SustainableShare(), Greedy(), RandomHarvest(), TitForTat(), WithNewcomer(SustainableShare())):
        assert isinstance(policy, HarvestPolicy)


def test_sustainable_share_and_greedy():
    world = Commons(2, SustainableShare(), CommonsRules(agents_per_group=3)).initial_world(seed=0)
    assert SustainableShare().requests(_view(), world).tolist() == [[16] * 3, [10] * 3]
    assert Greedy().requests(_view(), world).tolist() == [[100] * 3, [60] * 3]  # the whole pool
    assert Greedy(35).requests(_view(), world).tolist() == [[35] * 3, [35] * 3]
    with pytest.raises(ValueError, match="amount must be a whole number of units >= 0 or None"):
        Greedy(2.5)


def test_tit_for_tat_cooperates_then_matches_the_greediest_other():
    world = Commons(2, TitForTat(), CommonsRules(agents_per_group=3)).initial_world(seed=0)
    assert TitForTat().requests(_view(month=0), world).tolist() == [[16] * 3, [10] * 3]
    # group 1 took (2, 14, 7) with f = 10 now: seats 0 and 2 match 14; seat 1's others took at most 7 -> f
    assert TitForTat().requests(_view(), world).tolist() == [[16] * 3, [14, 10, 14]]


def test_tit_for_tat_groups_stay_sustainable_and_retaliate_against_a_greedy_newcomer():
    traj = Commons(3, TitForTat()).run(12, seed=0, progress=False)
    assert traj.final_world.agents.gain.unique().tolist() == [120]
    rules = CommonsRules(newcomer_month=3)
    traj = Commons(3, WithNewcomer(TitForTat(), Greedy(20)), rules).run(12, seed=0, progress=False)
    # months 1, 2: 5 x 10; month 3: residents ask max(f = floor(50 / 6) = 8, 10 taken by others) = 10, the newcomer
    # 20: 70 of 100 -> 30 -> 60; month 4: residents match the newcomer's 20: 120 asked of 60 -> 0, collapse
    assert traj["after_harvest"][:, 0].tolist()[:5] == [100, 50, 50, 30, 0]
    assert traj["alive"][-1].tolist() == [0, 0, 0]


def test_random_harvest_is_uniform_on_whole_units():
    g, high = 20_000, 4
    model = Commons(g, RandomHarvest(high))
    world = model.initial_world(seed=7)
    w = RandomHarvest(high).requests(model.view(world), world)
    assert w.shape == (g, 5)
    assert torch.equal(w, w.round())
    n = w.numel()
    for k in range(high + 1):
        share = (w == k).double().mean().item()
        assert abs(share - 0.2) < 4 * math.sqrt(0.2 * 0.8 / n)  # 4 standard errors
    world_next = world.advance()
    assert not torch.equal(RandomHarvest(high).requests(model.view(world_next), world_next), w)
    with pytest.raises(ValueError, match="high must be a whole number of units >= 0"):
        RandomHarvest(-1)


def test_greedy_newcomer_only_on_the_last_seat():
    world = Commons(2, SustainableShare(), CommonsRules(agents_per_group=2, newcomer_month=1)).initial_world(seed=0)
    assert WithNewcomer(SustainableShare()).requests(_view(), world).tolist() == [[16, 16, 100], [10, 10, 60]]
