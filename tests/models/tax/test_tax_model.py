"""The tax economy's trajectory is dated by tax year: a year's revenue is on that year's row (hand-computed)."""

import datetime as dt

import pandas as pd
import pytest
import torch

from populace.core import Substep
from populace.models.tax import TaxPolicy
from populace.models.tax.scenarios import ScheduleFrom
from populace.models.tax.schedule import TaxSchedule


class Inelastic(Substep):
    """Workers earn their skill whatever the schedule: z_i = n_i, so T(z_i) is known by hand."""

    writes = ("income_usd", "hours_per_year")

    def forward(self, world):
        return {"income_usd": world.agents.skill_usd, "hours_per_year": world.agents.hours_per_year}


def test_a_years_revenue_is_on_that_years_row():
    # 10% on all income in 2018, 30% from 2019 on: revenue per worker is 0.1 mean(n) in 2018, 0.3 mean(n) after
    economy = TaxPolicy(2, schedule=TaxSchedule.flat(0.1), labour_supply=Inelastic(), first_year=2018)
    model = ScheduleFrom(economy, TaxSchedule.flat(0.3), step=1)
    traj = model.run(3, seed=4, progress=False)
    mean_skill = float(traj.final_world.agents.skill_usd.mean())
    frame = traj.to_pandas()
    assert frame["date"].tolist() == [pd.Timestamp(dt.date(year, 1, 1)) for year in (2017, 2018, 2019, 2020)]
    assert frame["period"].tolist() == [-1, 0, 1, 2]
    revenue = dict(zip(frame["date"].dt.year, frame["revenue_usd"], strict=True))
    assert revenue[2017] == 0.0  # the row of the world the run starts from: the untaxed economy
    assert revenue[2018] == pytest.approx(0.1 * mean_skill, rel=1e-12)
    assert revenue[2019] == pytest.approx(0.3 * mean_skill, rel=1e-12)
    assert revenue[2020] == pytest.approx(0.3 * mean_skill, rel=1e-12)
    torch.testing.assert_close(traj.final_world.agents.rebate_usd, torch.full((2,), 0.3 * mean_skill,
                                                                              dtype=torch.float64), rtol=1e-12, atol=0)
