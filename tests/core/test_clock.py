"""Step lengths: dates of days, weeks, months and years; worlds, runs and trajectories dated by them."""

import datetime as dt

import pytest
import torch

from populace.core import AgentTable, Model, Substep, World
from populace.core.clock import StepLength
from populace.core.snapshot import load_world, save_world


@pytest.mark.parametrize(("length", "steps", "expected"), [
    (StepLength.DAY, 30, dt.date(2020, 3, 1)),
    (StepLength.WEEK, 2, dt.date(2020, 2, 14)),
    (StepLength.MONTH, 1, dt.date(2020, 2, 29)),   # Jan 31 + 1 month: clipped to the month's last day
    (StepLength.MONTH, 13, dt.date(2021, 2, 28)),
    (StepLength.YEAR, 3, dt.date(2023, 1, 31)),
])
def test_step_dates(length, steps, expected):
    assert length.date(dt.date(2020, 1, 31), steps) == expected


def test_a_leap_day_a_year_on_is_february_28():
    assert StepLength.YEAR.date(dt.date(2020, 2, 29), 1) == dt.date(2021, 2, 28)
    assert StepLength.YEAR.date(dt.date(2020, 2, 29), 4) == dt.date(2024, 2, 29)


class Count(Substep):
    writes = ("x",)

    def forward(self, world):
        return {"x": world.agents.x + 1}


class Yearly(Model):
    def __init__(self):
        super().__init__()
        self.count = Count()

    def initial_world(self, *, seed, differentiable=False):
        table = AgentTable({"id": torch.arange(3, dtype=torch.int32), "x": torch.zeros(3)})
        return World.of(table, seed=seed, step_length=StepLength.YEAR, start_date=dt.date(2018, 1, 1))

    def forward(self, world):
        return world.update(self.count(world))

    def observe(self, world):
        return {"x": world.agents.x.sum()}


def test_a_yearly_model_runs_in_years_and_its_rows_are_years(tmp_path):
    traj = Yearly().run(3, progress=False)
    # each row is dated by the year it closes: the start (end of 2017), then after 2018, 2019, 2020
    assert traj.steps == [0, 1, 2, 3]
    assert traj.periods == [-1, 0, 1, 2]
    assert traj.dates == [dt.date(2017, 1, 1), dt.date(2018, 1, 1), dt.date(2019, 1, 1), dt.date(2020, 1, 1)]
    frame = traj.to_pandas()
    assert frame["date"].dt.year.tolist() == [2017, 2018, 2019, 2020]
    assert frame["period"].tolist() == [-1, 0, 1, 2]
    assert frame["x"].tolist() == [0.0, 3.0, 6.0, 9.0]
    assert traj.final_world.date == dt.date(2021, 1, 1)
    assert traj.plot().axes[0].get_xlabel() == "date"
    assert load_world(save_world(traj.final_world, tmp_path / "w")).step_length is StepLength.YEAR


def test_days_are_refused_for_a_model_that_steps_in_years():
    with pytest.raises(ValueError, match=r"Yearly steps in years, not days: pass steps=3"):
        Yearly().run(days=3, progress=False)
    with pytest.raises(TypeError, match="run needs the number of steps"):
        Yearly().run(progress=False)


def test_world_step_length_must_be_a_step_length():
    with pytest.raises(TypeError, match="step_length must be a StepLength"):
        World.of(AgentTable({"id": torch.arange(2, dtype=torch.int32)}), step_length="year")
