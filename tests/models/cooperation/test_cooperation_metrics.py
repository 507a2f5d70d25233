"""The published metric, mean final resources per agent and generation, read off a trajectory."""

import pytest
import torch

from populace.models.cooperation import Cooperation, DonorGameRules, StrategyTable, tit_for_tat, unconditional
from populace.models.cooperation.metrics import final_resources, mean_final_resources

HAND = StrategyTable([unconditional(0.5), unconditional(0.2), unconditional(1.0), tit_for_tat()], dtype=torch.float64)


def test_final_resources_per_generation_and_society():
    # generation 0 is the hand game of test_cooperation_dynamics (final R = [35.7, 76.4, 0, 13.1], mean 31.3); without
    # mutation generation 1 starts with strategies [0, 1, 0, 1] (A0's child in B0, A1's in B1)
    rules = DonorGameRules(agents_per_society=4, rounds=4, generations=2, mutation_std=0.0)
    model = Cooperation(2, HAND, rules, assignment=torch.arange(4).repeat(2), dtype=torch.float64)
    traj = model.run(rules.steps, seed=0, progress=False)
    by_society = final_resources(traj, rules)
    assert by_society.shape == (2, 2)
    assert by_society[0].tolist() == pytest.approx([31.3, 31.3])
    # generation 1: round 0 A0 -> B0 (0.5), A1 -> B1 (0.2): R = [5, 8, 20, 14]; round 1 B1 -> A0 gives 0.2 x 14,
    # B0 -> A1 gives 0.5 x 20: R = [10.6, 28, 10, 11.2]; round 2: R = [5.3, 22.4, 20.6, 22.4];
    # round 3: B1 -> A0 gives 4.48, B0 -> A1 10.3: R = [14.26, 43, 10.3, 17.92], mean 21.37
    assert by_society[1].tolist() == pytest.approx([21.37, 21.37])
    assert mean_final_resources(traj, rules).tolist() == pytest.approx([31.3, 21.37])
    assert torch.equal(by_society, traj["mean_resources"][[4, 8]])


def test_unfinished_or_sparse_runs_are_refused():
    rules = DonorGameRules(agents_per_society=4, rounds=4)
    model = Cooperation(1, HAND, rules, assignment=torch.arange(4))
    with pytest.raises(ValueError, match="needs a run of whole generations"):
        final_resources(model.run(3, seed=0, progress=False), rules)
    with pytest.raises(ValueError, match="record_every dividing 4"):
        final_resources(model.run(8, seed=0, record_every=3, progress=False), rules)
