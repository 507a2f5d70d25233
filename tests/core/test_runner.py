"""run(), Model, Substep and Trajectory against a model with a closed form."""

import datetime as dt

import pandas as pd
import pytest
import torch
from torch import nn
from toy_models import Death, Decay

from populace.core import AgentTable, Model, Substep, SubstepOutputError, Trajectory, World, run

N, P, DAYS = 20_000, 0.05, 10


def test_fast_run_matches_binomial_closed_form():
    traj = Decay(N, P).run(DAYS, seed=3, progress=False)
    assert traj.steps == list(range(DAYS + 1))
    expected = N * (1 - P) ** torch.arange(DAYS + 1, dtype=torch.float64)
    sd = (N * (1 - P) ** torch.arange(DAYS + 1) * (1 - (1 - P) ** torch.arange(DAYS + 1))).sqrt()
    assert bool(((traj["alive"] - expected).abs() <= 4 * sd + 1e-9).all())  # within 4 standard deviations


def test_fast_and_differentiable_modes_give_the_same_trajectory():
    fast = Decay(N, P).run(DAYS, seed=5, progress=False)
    diff = Decay(N, P).run(DAYS, seed=5, differentiable=True, progress=False)
    assert torch.equal(fast["alive"], diff["alive"].detach())
    assert not fast["alive"].requires_grad
    assert diff["alive"].requires_grad


def test_gradient_of_expected_survivors_matches_analytic():
    # alive_T = prod_t (1 - x_t) is multilinear in independent draws, so the straight-through gradient is
    # unbiased: E[d alive_T / dp] = -T (1 - p)^(T - 1) per agent.
    model = Decay(N, P)
    traj = model.run(DAYS, seed=11, differentiable=True, progress=False)
    (grad_logit,) = torch.autograd.grad(traj["alive"][-1], model.death.logit_death)
    grad_p = grad_logit / (P * (1 - P))  # chain rule through the sigmoid
    analytic = -N * DAYS * (1 - P) ** (DAYS - 1)
    # per-agent ST gradient is -sum_t of survival indicators; its sd over agents is below T, so 4 SE:
    assert abs(float(grad_p) - analytic) < 4 * DAYS * N**0.5


def test_time_checkpointing_gives_the_same_trajectory_and_gradient():
    # recomputing blocks of days in the backward pass redraws the same counter-based numbers: exact equality
    plain_model, checkpointed_model = Decay(2_000, P), Decay(2_000, P)
    plain = plain_model.run(DAYS, seed=4, differentiable=True, progress=False)
    checkpointed = checkpointed_model.run(DAYS, seed=4, differentiable=True, checkpoint_steps=3, progress=False)
    assert checkpointed.steps == plain.steps
    assert torch.equal(checkpointed["alive"].detach(), plain["alive"].detach())
    (grad_plain,) = torch.autograd.grad(plain["alive"].sum(), plain_model.death.logit_death)
    (grad_checkpointed,) = torch.autograd.grad(checkpointed["alive"].sum(), checkpointed_model.death.logit_death)
    assert torch.equal(grad_checkpointed, grad_plain)
    with pytest.raises(ValueError, match="checkpoint_steps must be an int >= 1"):
        run(Decay(10, P), 2, checkpoint_steps=0)


def test_record_every_keeps_first_and_last_day():
    traj = Decay(100, P).run(7, seed=1, record_every=3, progress=False)
    assert traj.steps == [0, 3, 6, 7]


def test_trajectory_to_pandas_parquet_and_plot(tmp_path):
    traj = Trajectory(labels={"cases": ["Bronx", "Queens"]}, start_date=dt.date(2020, 3, 1))
    traj.record(0, {"cases": torch.tensor([1.0, 2.0]), "total": torch.tensor(3.0)})
    traj.record(1, {"cases": torch.tensor([4.0, 5.0]), "total": torch.tensor(9.0)})
    frame = traj.to_pandas()
    assert list(frame.columns) == ["step", "period", "date", "cases[Bronx]", "cases[Queens]", "total"]
    assert frame["cases[Queens]"].tolist() == [2.0, 5.0]
    # the record at step s closes period s - 1 and is dated by its first day: the start, then day 0
    assert frame["period"].tolist() == [-1, 0]
    assert frame["date"].tolist() == [pd.Timestamp("2020-02-29"), pd.Timestamp("2020-03-01")]
    back = pd.read_parquet(traj.to_parquet(tmp_path / "t.parquet"))
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    fig = traj.plot(["cases"])
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["cases[Bronx]", "cases[Queens]"]


def test_trajectory_is_bounded_and_checks_its_records():
    traj = Trajectory(max_records=2, labels={"cases": ["a", "b"]})
    traj.record(0, {"cases": torch.zeros(2)})
    with pytest.raises(ValueError, match="step 1 records"):
        traj.record(1, {"deaths": torch.zeros(2)})
    with pytest.raises(ValueError, match="labels for 2 groups"):
        traj.record(1, {"cases": torch.zeros(3)})
    traj.record(1, {"cases": torch.zeros(2)})
    with pytest.raises(RuntimeError, match="trajectory is full"):
        traj.record(2, {"cases": torch.zeros(2)})
    with pytest.raises(KeyError, match="no observable 'deaths'"):
        traj["deaths"]


def test_runs_that_would_overflow_the_trajectory_are_refused_before_they_start():
    with pytest.raises(ValueError, match="need up to 12 records but max_records is 5"):
        run(Decay(10, P), 10, max_records=5)


def test_nan_parameters_are_refused_by_name():
    model = Decay(10, P)
    with torch.no_grad():
        model.death.logit_death.fill_(float("nan"))
    with pytest.raises(ValueError, match=r"NaN or infinite values in death\.logit_death"):
        run(model, 3)


@pytest.mark.parametrize(("days", "match"), [(-1, "must be an int >= 0, got -1"), (2.5, "must be an int")])
def test_bad_days_are_refused(days, match):
    with pytest.raises(ValueError, match=f"steps {match}"):
        run(Decay(10, P), days)
    with pytest.raises(ValueError, match=f"days {match}"):
        run(Decay(10, P), days=days)


def test_world_mode_must_match_the_run():
    world = Decay(10, P).initial_world(seed=0, differentiable=False)
    with pytest.raises(ValueError, match="build the world in the mode you run it"):
        run(Decay(10, P), 1, world=world, differentiable=True)


class _Typo(Substep):
    writes = ("alive",)

    def forward(self, world: World):
        return {"alvie": world.agents.alive}


class _NotADict(Substep):
    def forward(self, world: World):
        return world.agents.alive


def test_substeps_must_return_declared_columns():
    world = World.of(AgentTable({"alive": torch.ones(3, dtype=torch.bool)}))
    with pytest.raises(SubstepOutputError, match=r"_Typo returned column\(s\) \['alvie'\]"):
        _Typo()(world)
    with pytest.raises(SubstepOutputError, match="must return a dict of changed columns"):
        _NotADict()(world)


def test_model_is_a_plain_module():
    model = Decay(10, P)
    assert isinstance(model, nn.Module)
    assert [name for name, _ in model.named_parameters()] == ["death.logit_death"]
    assert isinstance(model.death, Death)
    with pytest.raises(NotImplementedError, match="must implement observe"):
        Model().observe(world=None)  # type: ignore[arg-type]
