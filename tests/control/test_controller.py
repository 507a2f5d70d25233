"""Policies keep their controls within bounds, read what they say they read, and round-trip through files."""

import pytest
import torch

from populace.control import Controlled, Controller, ControlVariable, Schedule, load_controller, save_controller
from populace.core.errors import InputError
from populace.models.predator_prey import PredatorPrey

VARIABLES = [ControlVariable("removal", 0.0, 0.5), ControlVariable("dose", -1.0, 3.0)]


def test_a_controller_stays_within_bounds_whatever_its_weights():
    controller = Controller(VARIABLES, ["a", "b"], hidden=8, seed=3)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in controller.parameters():
            p.copy_(20 * torch.randn(p.shape, generator=generator))  # saturating weights
    with torch.no_grad():
        u = torch.stack([controller(torch.rand((), generator=generator), 10 * torch.randn(2, generator=generator))
                         for _ in range(500)])
    assert u.shape == (500, 2)
    assert bool((u[:, 0] >= 0).all() and (u[:, 0] <= 0.5).all() and (u[:, 1] >= -1).all() and (u[:, 1] <= 3).all())
    assert float(u[:, 0].max() - u[:, 0].min()) > 0.4  # it does use the range: the bounds bind, not a constant


def test_an_untrained_controller_applies_its_initial_fraction():
    controller = Controller(VARIABLES, ["a"], initial=0.25)
    u = controller(torch.tensor(0.7), torch.tensor([5.0]))
    assert u.tolist() == pytest.approx([0.125, 0.0])  # 0 + 0.5 x 0.25 and -1 + 4 x 0.25


def test_a_schedule_holds_each_segment_and_refuses_values_out_of_bounds():
    schedule = Schedule(VARIABLES, [[0.1, 0.0], [0.5, 2.0], [0.0, -1.0]])
    values = [schedule(torch.tensor(t), torch.zeros(0)).tolist() for t in (0.0, 0.32, 0.34, 0.66, 0.67, 1.0)]
    assert values == [[pytest.approx(0.1), 0.0], [pytest.approx(0.1), 0.0], [0.5, 2.0], [0.5, 2.0],
                      [0.0, -1.0], [0.0, -1.0]]
    with pytest.raises(ValueError, match=r"schedule values of 'removal' must lie in \[0, 0.5\], got \[0, 0.7\]"):
        Schedule(VARIABLES, [[0.7, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"values must be \[K >= 1, C = 2\]"):
        Schedule(VARIABLES, [[0.1]])


@pytest.mark.parametrize(("make", "message"), [
    (lambda: ControlVariable("u", 1.0, 1.0), r"finite bounds low < high, got \[1.0, 1.0\]"),
    (lambda: Controller([ControlVariable("u", 0, 1)] * 2, []), "distinct names"),
    (lambda: Controller(VARIABLES, ["a"], initial=1.0), r"initial must be a fraction of the control range"),
    (lambda: Controller(VARIABLES, ["a", "b"], scale=[1.0]), "one number > 0 per observed aggregate"),
])
def test_bad_policies_are_refused_with_the_fix(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_controlled_run_records_the_controls_it_applied_within_bounds():
    variable = ControlVariable("predator_removal", 0.0, 0.8)
    controller = Controller([variable], ["prey", "predators"], scale=[0.3, 0.3], seed=1)
    with torch.no_grad():
        controller.layers[-1].weight.normal_(0, 5, generator=torch.Generator().manual_seed(2))  # state-dependent
    controlled = Controlled(PredatorPrey.lattice(10), controller, horizon=12)
    trajectory = controlled.run(12, seed=4, progress=False)
    removal = trajectory["predator_removal"]
    assert removal.shape == (13,)
    assert bool(((removal >= 0) & (removal <= 0.8)).all())
    assert float(removal.std()) > 0.01  # feedback: the control follows the state
    world = controlled.model.initial_world(seed=4)  # the first control is the policy's at step 0 of that world
    assert float(removal[0]) == pytest.approx(float(controlled.controls(world)[0].detach()))


def test_a_policy_that_observes_what_the_model_does_not_record_is_refused():
    controller = Controller([ControlVariable("predator_removal", 0, 1)], ["wolves"])
    with pytest.raises(KeyError, match=r"the policy observes \['wolves'\], which PredatorPrey does not record"):
        Controlled(PredatorPrey.lattice(5), controller, horizon=3).run(3, seed=0, progress=False)


def test_a_saved_controller_loads_with_the_same_outputs(tmp_path):
    controller = Controller(VARIABLES, ["a", "b"], scale=[2.0, 0.5], hidden=5, depth=3, seed=7)
    with torch.no_grad():
        controller.layers[-1].weight.normal_(generator=torch.Generator().manual_seed(1))
    weights, config = save_controller(controller, tmp_path / "controller")
    assert (weights.name, config.name) == ("controller.pt", "controller.json")
    loaded = load_controller(tmp_path / "controller.pt")
    x = torch.tensor([0.3, -1.2])
    assert torch.equal(loaded(torch.tensor(0.4), x), controller(torch.tensor(0.4), x))
    assert loaded.extra_repr() == controller.extra_repr()
    weights.unlink()
    with pytest.raises(FileNotFoundError, match=r"controller\.pt not found"):
        load_controller(tmp_path / "controller")
    save_controller(Controller(VARIABLES, ["a"], hidden=4), tmp_path / "other")
    (tmp_path / "other.json").write_text(config.read_text())
    with pytest.raises(InputError, match="do not describe one controller"):
        load_controller(tmp_path / "other")
