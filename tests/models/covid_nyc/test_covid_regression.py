"""Regression pin: a small `populace run covid-nyc` gives the daily and monthly tables it gave before the engine's
redesign (issue "One engine, many models"), so refactors keep the model's outputs draw for draw.

The pinned tables in `pinned/` were written by `populace run covid-nyc --scale 0.001 --days 75 --seed 5
--population-seed 3 --importations 20` at commit 023b414 (daily.parquet and monthly.parquet, as CSV with 9
significant digits), and rewritten with the same command when the synthetic NYC gained commuting (work boroughs
from the ACS 2009-2013 flows: a different work layer, so other draws). A change that alters them on purpose must
say so in its commit and rewrite the pins.
"""

import contextlib
import io
from pathlib import Path

import pandas as pd
import pytest

from populace.cli import main

PINNED = Path(__file__).parent / "pinned"
ARGV = ["run", "covid-nyc", "--scale", "0.001", "--days", "75", "--seed", "5", "--population-seed", "3",
        "--importations", "20", "--uncalibrated", "--no-progress"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pinned") / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*ARGV, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("table", ["daily", "monthly"])
def test_a_small_run_reproduces_its_pinned_table(outputs, table):
    got = pd.read_parquet(outputs / f"{table}.parquet")
    pinned = pd.read_csv(PINNED / f"{table}.csv")
    date = "date" if table == "daily" else "month"
    assert list(got.columns) == list(pinned.columns)
    assert (pd.to_datetime(got[date]) == pd.to_datetime(pinned[date])).all()
    assert (got["region"].astype(str) == pinned["region"]).all()
    values = [c for c in pinned.columns if c not in (date, "region")]
    # the pins keep 9 significant digits of float32-derived values: 1e-6 relative is far below one agent
    pd.testing.assert_frame_equal(got[values].astype(float), pinned[values], check_exact=False, rtol=1e-6, atol=1e-6)
    assert pinned[values].to_numpy().sum() > 0  # the pinned run has an epidemic and a labour market to compare
