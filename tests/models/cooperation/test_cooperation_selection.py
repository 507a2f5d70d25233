"""Selection between generations: exactly the top share survives, ties broken by the counter-based RNG (the same
for the same seed), newcomers inherit their parent's strategy and mutated theta, everyone restarts at R0."""

import pytest
import torch

from populace.core import rng
from populace.models.cooperation import (
    Cooperation,
    DonorGameRules,
    Strategy,
    StrategyTable,
    tit_for_tat,
    unconditional,
)
from populace.models.cooperation.model import MUTATION_STREAM, SELECTION_STREAM
from populace.models.cooperation.selection import parents, rank
from populace.models.cooperation.strategies import mutate

# the hand game of test_cooperation_dynamics: A0 gives half, A1 a fifth, B0 everything, B1 plays tit-for-tat
HAND = StrategyTable([unconditional(0.5), unconditional(0.2), unconditional(1.0), tit_for_tat()], dtype=torch.float64)


def test_rank_and_parents_by_hand():
    order = rank(torch.tensor([[3.0, 7.0, 7.0, 1.0]]), torch.tensor([[0.9, 0.5, 0.2, 0.4]]))
    assert order.tolist() == [[2, 1, 0, 3]]  # seat 2 wins the tie with seat 1 by its smaller u
    parent, survives = parents(order, 2)
    assert survives.tolist() == [[False, True, True, False]]
    assert parent.tolist() == [[2, 1, 2, 1]]  # rank 2 (seat 0) is rank 0's child, rank 3 (seat 3) rank 1's
    parent, survives = parents(rank(torch.tensor([[1.0, 2, 3, 4, 5, 6]]), torch.zeros(1, 6)), 2)
    assert survives.tolist() == [[False, False, False, False, True, True]]
    assert parent.tolist() == [[4, 5, 4, 5, 4, 5]]  # ranks 2, 3, 4, 5 -> survivors ranked 0, 1, 0, 1


def test_the_top_half_by_final_resources_survives_and_is_copied():
    # the hand game ends with R = [35.7, 76.4, 0, 13.1]: A1 and A0 survive; B1 (rank 2) becomes A1's child, B0 A0's
    rules = DonorGameRules(agents_per_society=4, rounds=4, mutation_std=0.0)
    model = Cooperation(1, HAND, rules, assignment=torch.arange(4), dtype=torch.float64)
    world = model.renew(model.run(4, seed=0, progress=False).final_world)
    agents = world.agents
    assert agents.strategy.tolist() == [0, 1, 0, 1]
    assert torch.equal(agents.theta, HAND.theta.detach()[[0, 1, 0, 1]])
    assert agents.resources.tolist() == [10.0] * 4
    assert agents.trace_length.tolist() == [0] * 4
    assert agents.trace.abs().sum().item() == 0
    assert model.generation(world) == 1


def _tied_run(seed: int, n_societies: int = 3):
    """Everyone gives nothing, so all end with R0: selection is all ties. Strategy i is recognisable by its
    (irrelevant) threshold."""
    table = StrategyTable([Strategy(f"zero {i}", base=0.0, threshold=i / 10) for i in range(4)])
    rules = DonorGameRules(agents_per_society=4, rounds=2, mutation_std=0.0)
    model = Cooperation(n_societies, table, rules, assignment=torch.arange(4).repeat(n_societies))
    return model.run(3, seed=seed, progress=False).final_world  # selection at the start of step 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ties_are_broken_by_the_counter_based_rng(seed):
    world = _tied_run(seed)
    u = rng.uniform(seed, 2, SELECTION_STREAM, torch.arange(12)).reshape(3, 4)
    order = torch.argsort(u, dim=1)  # all tied: rank by u alone
    expected = torch.empty_like(order)
    for s in range(3):
        expected[s, order[s]] = order[s, [0, 1, 0, 1]]  # survivors ranked 0, 1 keep theirs; ranks 2, 3 copy them
    assert world.agents.strategy.reshape(3, 4).tolist() == expected.tolist()
    assert [len(set(row)) for row in world.agents.strategy.reshape(3, 4).tolist()] == [2, 2, 2]  # exactly half
    assert torch.equal(world.agents.strategy, _tied_run(seed).agents.strategy)  # reproducible
    assert torch.equal(world.agents.strategy[:4], _tied_run(seed, n_societies=1).agents.strategy)


def test_ties_fall_differently_with_other_seeds():
    survivors = {tuple(_tied_run(seed).agents.strategy.tolist()) for seed in range(6)}
    assert len(survivors) > 1


def test_newcomers_get_mutated_theta_survivors_keep_theirs():
    rules = DonorGameRules(agents_per_society=4, rounds=4, mutation_std=0.1)
    model = Cooperation(1, HAND, rules, assignment=torch.arange(4), dtype=torch.float64)
    before = model.run(4, seed=2, progress=False).final_world
    agents = model.renew(before).agents
    z = torch.special.ndtri(rng.uniform(2, 4, MUTATION_STREAM, torch.arange(4), n=4, dtype=torch.float64))
    theta = HAND.theta.detach()
    assert torch.equal(agents.theta[:2], theta[:2])  # A0, A1 survive unchanged
    assert torch.equal(agents.theta[2], mutate(theta[0], z[2], 0.1))  # B0: A0's child
    assert torch.equal(agents.theta[3], mutate(theta[1], z[3], 0.1))  # B1: A1's child


def test_a_society_of_free_riders_and_givers_evolves_towards_free_riding():
    # within a society, givers end poorer than the free riders they feed: selection keeps the free riders
    table = StrategyTable([unconditional(0.0, "free rider"), unconditional(0.8, "giver")])
    rules = DonorGameRules(generations=3, mutation_std=0.0)
    model = Cooperation(20, table, rules, assignment=torch.tensor([0, 1] * 6).repeat(20))
    final = model.run(rules.steps, seed=0, progress=False).final_world
    assert float((final.agents.strategy == 0).float().mean()) > 0.75
