"""The month's rules against hand-computed runs: regeneration and its cap, collapse at the threshold, rationing in
the model, the newcomer's seat, bad parameters, and the differentiable mode's gradient against finite differences."""

import pytest
import torch
from torch import Tensor, nn

from populace.core.world import World
from populace.models.commons import GROUPS, Commons, CommonsRules, GroupView, SustainableShare


class Fixed:
    """Every seat of group g asks for amounts[g] (a list of per-seat amounts, or one per group)."""

    def __init__(self, amounts: list[list[float]], *, exact_shape: bool = False):
        self.amounts = torch.tensor(amounts)
        self.exact_shape = exact_shape

    def requests(self, view: GroupView, world: World) -> Tensor:
        amounts = self.amounts if self.exact_shape else self.amounts.expand(view.active.shape)
        return amounts.to(view.resource.dtype).clone()


def test_regeneration_doubles_the_pool_up_to_its_capacity():
    # h0 = 60, 4 x 5 = 20 a month: 60 -> 40 -> 80 -> 60 -> min(100, 120) = 100 -> 80 -> 100
    traj = Commons(1, Fixed([[4.0] * 5]), CommonsRules(initial_resource=60, months=5)).run(5, seed=0, progress=False)
    assert traj["after_harvest"][:, 0].tolist() == [60, 40, 60, 80, 80, 80]
    assert traj["resource"][:, 0].tolist() == [60, 80, 100, 100, 100, 100]
    assert traj.final_world.agents.gain.tolist() == [20.0] * 5


def test_non_integer_regeneration_rounds_down_to_whole_units():
    rules = CommonsRules(initial_resource=50, regeneration_factor=1.5, months=1)
    traj = Commons(1, Fixed([[3.0] * 5]), rules).run(1, seed=0, progress=False)  # 50 - 15 = 35 -> floor(52.5)
    assert traj["resource"][:, 0].tolist() == [50, 52]


def test_collapse_below_the_threshold_and_survival_at_it():
    # group 0 leaves exactly 5 (survives, regrows to 10); group 1 leaves 4 (collapses; pool frozen, no harvest)
    amounts = [[19.0] * 5, [19.0, 19.0, 19.0, 19.0, 20.0]]
    traj = Commons(2, Fixed(amounts), CommonsRules(months=3)).run(3, seed=0, progress=False)
    assert traj["after_harvest"].tolist() == [[100, 100], [5, 4], [0, 4], [0, 4]]
    assert traj["alive"].tolist() == [[1, 1], [1, 0], [0, 0], [0, 0]]
    assert traj["harvest"].tolist() == [[0, 0], [95, 96], [10, 0], [0, 0]]
    gain = traj.final_world.agents.gain.reshape(2, 5)
    assert gain[0].sum().item() == 105
    assert bool((gain[0] >= 19).all())
    assert gain[1].tolist() == [19, 19, 19, 19, 20]


def test_over_demanded_pool_is_rationed_and_empties():
    traj = Commons(3, Fixed([[30.0] * 5]), CommonsRules(months=1)).run(1, seed=4, progress=False)
    catch = traj.final_world.agents.catch.reshape(3, 5)
    assert catch.sum(dim=1).tolist() == [100, 100, 100]
    assert bool((catch <= 30).all())
    assert traj["alive"][-1].tolist() == [0, 0, 0]
    assert traj["positive_catches"][-1].tolist() == [5, 5, 5]
    assert torch.equal(traj["over_catches"][-1], (catch > 10).sum(dim=1).float())


def test_proportional_rationing_in_the_model():
    traj = Commons(1, Fixed([[40.0, 40.0, 20.0, 0.0, 0.0]]), CommonsRules(months=1),
                   rationing="proportional").run(1, seed=0, progress=False)
    assert traj.final_world.agents.catch.tolist() == [40, 40, 20, 0, 0]  # W = 100 fits
    traj = Commons(1, Fixed([[60.0, 30.0, 30.0, 0.0, 0.0]]), CommonsRules(months=1),
                   rationing="proportional").run(1, seed=0, progress=False)
    assert traj.final_world.agents.catch.tolist() == [50, 25, 25, 0, 0]  # floor(100 * w / 120)


def test_sustainable_share_runs_at_capacity_for_twelve_months():
    traj = Commons(2, SustainableShare()).run(12, seed=0, progress=False)
    assert traj["after_harvest"][1:].unique().tolist() == [50]
    assert traj.final_world.agents.gain.unique().tolist() == [120]


def test_sustainable_share_formula():
    rules = CommonsRules()
    f = rules.sustainable_share(torch.tensor([100.0, 77.0, 9.0, 100.0, 100.0]), torch.tensor([5, 5, 5, 6, 0]))
    assert f.tolist() == [10, 7, 0, 8, 0]  # floor(floor(h / 2) / n), 0 with nobody active


def test_newcomer_seat_is_inactive_before_its_month():
    rules = CommonsRules(months=4, newcomer_month=3)
    seen = []

    class Record(SustainableShare):
        def requests(self, view, world):
            seen.append((view.month, view.active[0].tolist(), view.sustainable_share[0].item()))
            return torch.full(view.active.shape, 5.0)

    traj = Commons(1, Record(), rules).run(4, seed=0, progress=False)
    assert [s[1][-1] for s in seen] == [False, False, True, True]
    assert [s[2] for s in seen] == [10, 10, 8, 8]  # floor(50 / 5), then floor(50 / 6)
    assert traj.final_world.agents.gain.tolist() == [20, 20, 20, 20, 20, 10]
    assert traj.final_world.agents.seat.tolist() == [0, 1, 2, 3, 4, 5]


def test_agent_columns_are_group_major_with_the_callers_persona():
    persona = torch.arange(10, dtype=torch.int64)
    world = Commons(2, SustainableShare(), persona=persona).initial_world(seed=0)
    assert world.agents.group.tolist() == [0] * 5 + [1] * 5
    assert world.agents.seat.tolist() == [0, 1, 2, 3, 4] * 2
    assert world.agents.persona.tolist() == list(range(10))
    assert world.agents.persona.dtype == torch.int64
    assert world.table(GROUPS).n == 2
    assert world.step_length.value == "month"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"agents_per_group": 0}, "agents_per_group must be an int >= 1"),
    ({"capacity": 10.5}, "capacity must be an int >= 1"),
    ({"initial_resource": 150}, r"initial_resource must be a whole number of units in \(0, capacity = 100\]"),
    ({"initial_resource": 0}, "initial_resource"),
    ({"regeneration_factor": 1.0}, "regeneration_factor must be a finite number > 1"),
    ({"collapse_below": -1}, r"collapse_below must be a number in \[0, capacity"),
    ({"months": 0}, "months must be an int >= 1"),
    ({"newcomer_month": 13}, r"newcomer_month must be None \(no newcomer\) or a month in 1..12"),
])
def test_bad_rules_are_refused_with_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CommonsRules(**kwargs)


def test_bad_model_arguments_and_bad_requests_are_refused():
    with pytest.raises(ValueError, match="n_groups must be an int >= 1"):
        Commons(0, SustainableShare())
    with pytest.raises(TypeError, match="policy must implement HarvestPolicy"):
        Commons(1, object())
    with pytest.raises(ValueError, match="rationing must be one of"):
        Commons(1, SustainableShare(), rationing="fair")
    with pytest.raises(ValueError, match=r"persona must hold one integer code per agent \(2 groups x 5 seats"):
        Commons(2, SustainableShare(), persona=torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="not finite, >= 0 and whole units"):
        Commons(1, Fixed([[2.5] * 5])).run(1, seed=0, progress=False)
    with pytest.raises(ValueError, match=r"must return a float tensor \[G, S\] = \[1, 5\]"):
        Commons(1, Fixed([[2.0] * 4], exact_shape=True)).run(1, seed=0, progress=False)


class Scaled(nn.Module):
    """w_gi = k_g a_i f_g: per-seat multiples a of the sustainable share, k = (1.5, 0.5) by group (a differentiable
    toy policy whose first group is rationed in month 1, the second never)."""

    def __init__(self, a: list[float]):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def requests(self, view: GroupView, world: World) -> Tensor:
        k = torch.tensor([[1.5], [0.5]], dtype=torch.float64)
        return k * self.a * view.sustainable_share.unsqueeze(1)


def _total_gain(policy: nn.Module) -> Tensor:
    model = Commons(2, policy, CommonsRules(months=4), dtype=torch.float64, min_temperature=0.05,
                    collapse_temperature=2.0)
    gain = model.run(4, seed=0, differentiable=True, progress=False).final_world.agents.gain
    return (gain * torch.arange(1, 11, dtype=torch.float64)).sum()  # weighted: rationing moves gains between seats


def test_differentiable_gain_gradient_matches_finite_differences():
    a = [1.3, 0.7, 1.9, 1.1, 2.4]  # month 1: group 0 asks 111 of 100 (rationed, collapses softly), group 1 37
    policy = Scaled(a)
    _total_gain(policy).backward()
    step = 1e-5
    for i in range(5):
        up, down = list(a), list(a)
        up[i] += step
        down[i] -= step
        fd = (_total_gain(Scaled(up)) - _total_gain(Scaled(down))).item() / (2 * step)
        assert policy.a.grad[i].item() == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_differentiable_mode_matches_fast_mode_when_nothing_is_rationed():
    fast = Commons(2, Fixed([[4.0] * 5]), CommonsRules(initial_resource=60, months=5)).run(5, seed=0, progress=False)
    soft = Commons(2, Fixed([[4.0] * 5]), CommonsRules(initial_resource=60, months=5), collapse_temperature=0.01,
                   ).run(5, seed=0, differentiable=True, progress=False)
    assert torch.allclose(soft["after_harvest"], fast["after_harvest"])
    assert torch.allclose(soft.final_world.agents.gain, fast.final_world.agents.gain)
