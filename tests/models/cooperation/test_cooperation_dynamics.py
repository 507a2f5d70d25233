"""Rounds against hand-computed games: gifts and the multiplier, traces three steps back, punishment and its floor,
conservation up to the multiplier, reproducibility, independence of the number of societies, bad arguments."""

import pytest
import torch

from populace.models.cooperation import (
    SOCIETIES,
    Cooperation,
    DonorGameRules,
    StrategyTable,
    tit_for_tat,
    unconditional,
)

# seat 0 = A0 gives half, seat 1 = A1 a fifth, seat 2 = B0 everything, seat 3 = B1 plays tit-for-tat
HAND = StrategyTable([unconditional(0.5), unconditional(0.2), unconditional(1.0), tit_for_tat()], dtype=torch.float64)
HAND_RULES = DonorGameRules(agents_per_society=4, rounds=4, generations=1)


def _hand_run(steps: int = 4):
    model = Cooperation(1, HAND, HAND_RULES, assignment=torch.arange(4), dtype=torch.float64)
    return model.run(steps, seed=0, progress=False)


def test_four_rounds_by_hand():
    # round 0: A0 -> B0 gives 5 (B0 gets 10), A1 -> B1 gives 2 (B1 gets 4)            R = [5, 8, 20, 14]
    # round 1: B1 -> A0 gives 0.5 (A0's last) x 14 = 7, B0 -> A1 gives 20               R = [19, 48, 0, 7]
    # round 2: A0 -> B0 gives 9.5, A1 -> B1 gives 9.6                                    R = [9.5, 38.4, 19, 26.2]
    # round 3: B1 -> A0 gives 0.5 x 26.2 = 13.1, B0 -> A1 gives 19                       R = [35.7, 76.4, 0, 13.1]
    traj = _hand_run()
    assert traj["mean_resources"][:, 0].tolist() == pytest.approx([10, 47 / 4, 74 / 4, 93.1 / 4, 125.2 / 4])
    assert traj["donated"][:, 0].tolist() == pytest.approx([0, 7, 27, 19.1, 32.1])
    assert traj.final_world.agents.resources.tolist() == pytest.approx([35.7, 76.4, 0, 13.1])
    assert traj["generation"].tolist() == [0, 0, 0, 0, 0]


def test_traces_record_three_steps_back():
    # after round 1: B1 gave 0.5 to A0, whose trace was (0.5): B1 = (0.5, 0.5), B0 = (1.0, 0.2)
    agents = _hand_run(2).final_world.agents
    assert agents.trace_length.tolist() == [1, 1, 2, 2]
    assert agents.trace[2, :2].tolist() == [1.0, 0.2]
    assert agents.trace[3, :2].tolist() == [0.5, 0.5]
    # round 2: A0 gives 0.5 to B0 = (1.0, 0.2): A0 = (0.5, 1.0, 0.2); A1 gives 0.2 to B1: A1 = (0.2, 0.5, 0.5)
    # round 3: B1 gives 0.5 to A0: B1 = (0.5, 0.5, 1.0) (A0's last entry falls off); B0 = (1.0, 0.2, 0.5)
    agents = _hand_run(4).final_world.agents
    assert agents.trace_length.tolist() == [3, 3, 3, 3]
    assert agents.trace.tolist() == [[0.5, 1.0, 0.2], [0.2, 0.5, 0.5], [1.0, 0.2, 0.5], [0.5, 0.5, 1.0]]


def test_trace_depth_one_keeps_only_the_last_fraction():
    rules = DonorGameRules(agents_per_society=4, rounds=4, trace_depth=1)
    agents = Cooperation(1, HAND, rules, assignment=torch.arange(4)).run(4, seed=0, progress=False).final_world.agents
    assert agents.trace.reshape(-1).tolist() == pytest.approx([0.5, 0.2, 1.0, 0.5])
    assert agents.trace_length.tolist() == [1, 1, 1, 1]


def test_punishment_costs_the_punisher_and_floors_the_recipient_at_zero():
    rules = DonorGameRules(agents_per_society=2, rounds=2, punishment=True)
    table = StrategyTable([unconditional(-0.25), unconditional(-1.0)])
    traj = Cooperation(1, table, rules, assignment=torch.tensor([0, 1]), dtype=torch.float64).run(
        2, seed=0, progress=False)
    # round 0: A0 spends 2.5, B0 loses 5: R = [7.5, 5]; round 1: B0 spends 5, A0 loses 10, floored: R = [0, 0]
    assert traj["mean_resources"][:, 0].tolist() == [10, 6.25, 0]
    assert traj["punished"][:, 0].tolist() == [0, 2.5, 5]
    assert traj["donated"][:, 0].tolist() == [0, 0, 0]
    assert traj.final_world.agents.trace[:, 0].tolist() == [-0.25, -1.0]
    # without punishment the same strategies give nothing (fractions clamped at 0)
    plain = Cooperation(1, table, DonorGameRules(agents_per_society=2, rounds=2), assignment=torch.tensor([0, 1]))
    assert plain.run(2, seed=0, progress=False).final_world.agents.resources.tolist() == [10, 10]


@pytest.mark.parametrize("multiplier", [1.5, 2.0, 3.0])
def test_resources_are_conserved_up_to_the_multiplier_every_generation(multiplier):
    rules = DonorGameRules(multiplier=multiplier, generations=3)
    model = Cooperation(5, rules=rules, dtype=torch.float64)
    traj = model.run(rules.steps, seed=7, progress=False)
    totals = traj["mean_resources"] * rules.agents_per_society  # [T + 1, S]
    for g in range(rules.generations):
        donated = traj["donated"][g * rules.rounds + 1:(g + 1) * rules.rounds + 1].sum(dim=0)
        final = totals[(g + 1) * rules.rounds]
        start = rules.agents_per_society * rules.initial_resources
        assert torch.allclose(final, start + (multiplier - 1) * donated, rtol=1e-12)
    assert float(traj["donated"].sum()) > 0


def test_same_seed_same_run_and_other_seeds_differ():
    rules = DonorGameRules(generations=3)
    first = Cooperation(4, rules=rules).run(rules.steps, seed=3, progress=False)
    again = Cooperation(4, rules=rules).run(rules.steps, seed=3, progress=False)
    other = Cooperation(4, rules=rules).run(rules.steps, seed=4, progress=False)
    for name in ("mean_resources", "donated"):
        assert torch.equal(first[name], again[name])
    assert torch.equal(first.final_world.agents.theta, again.final_world.agents.theta)
    assert not torch.equal(first["mean_resources"], other["mean_resources"])


def test_a_society_does_not_depend_on_how_many_are_run():
    rules = DonorGameRules(generations=4, mutation_std=0.1)
    small = Cooperation(2, rules=rules).run(rules.steps, seed=5, progress=False)
    large = Cooperation(7, rules=rules).run(rules.steps, seed=5, progress=False)
    assert torch.equal(small["mean_resources"], large["mean_resources"][:, :2])
    for column in ("theta", "strategy", "resources", "trace"):
        assert torch.equal(small.final_world.agents[column], large.final_world.agents[column][:24])


def test_differentiable_mode_matches_fast_mode_at_a_small_temperature():
    rules = DonorGameRules(agents_per_society=4, rounds=4)
    table = StrategyTable([unconditional(0.3), unconditional(0.6), tit_for_tat(0.1), unconditional(0.45)],
                          dtype=torch.float64)
    kwargs = {"assignment": torch.arange(4).repeat(2), "dtype": torch.float64, "temperature": 1e-4}
    fast = Cooperation(2, table, rules, **kwargs).run(4, seed=0, progress=False)
    soft = Cooperation(2, table, rules, **kwargs).run(4, seed=0, differentiable=True, progress=False)
    assert torch.allclose(soft["mean_resources"].detach(), fast["mean_resources"], rtol=1e-6)


def test_world_layout():
    world = Cooperation(2, rules=DonorGameRules(agents_per_society=4)).initial_world(seed=0)
    agents = world.agents
    assert agents.society.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert agents.seat.tolist() == [0, 1, 2, 3] * 2
    assert agents.theta.shape == (8, 4)
    assert agents.trace.shape == (8, 3)
    assert agents.resources.tolist() == [10.0] * 8
    assert world.table(SOCIETIES).n == 2


def test_bad_model_arguments_are_refused():
    with pytest.raises(ValueError, match="n_societies must be an int >= 1"):
        Cooperation(0)
    with pytest.raises(TypeError, match="strategies must be a StrategyTable"):
        Cooperation(1, [tit_for_tat()])
    with pytest.raises(TypeError, match="rules must be a DonorGameRules"):
        Cooperation(1, rules={"multiplier": 3})
    with pytest.raises(ValueError, match=r"assignment must hold one integer strategy id per agent \(2 societies x 12"):
        Cooperation(2, assignment=torch.zeros(12, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"assignment ids must index the 4 strategies"):
        Cooperation(1, assignment=torch.full((12,), 4))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        Cooperation(1, temperature=0.0)
    with pytest.raises(TypeError, match=r"dtype must be torch\.float32 or torch\.float64"):
        Cooperation(1, dtype=torch.float16)
