"""The shipped compact tables: equal to what the loaders read from the raw files, used only when no raw data
directory exists, and enough to run `populace run covid-nyc` on a fresh install."""

import contextlib
import io
import json

import pandas as pd
import pytest

from populace.cli import main
from populace.data import (
    councilcount_household_sizes,
    covid_parameters,
    dohmh_daily,
    nysdol_unemployment,
    paths,
    shipped,
)


@pytest.fixture
def no_raw_data(monkeypatch):
    """A machine without the raw data: no $POPULACE_DATA and no default data directory."""
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    monkeypatch.setattr(paths, "_candidates", lambda: [])


@pytest.mark.needs_data
@pytest.mark.parametrize("table", shipped.SHIPPED_TABLES, ids=lambda t: t.file.stem)
def test_each_shipped_table_equals_the_loader_on_the_raw_files(table):
    pd.testing.assert_frame_equal(table.read(), table.build())


def test_every_shipped_file_is_registered_and_attributed():
    files = {t.file for t in shipped.SHIPPED_TABLES}
    assert files == set(shipped.SHIPPED_DIR.glob("*.parquet"))
    attribution = (shipped.SHIPPED_DIR / "ATTRIBUTION.md").read_text()
    for table in shipped.SHIPPED_TABLES:
        assert table.loader.__name__ in attribution


def test_without_raw_data_loaders_return_the_shipped_tables(no_raw_data):
    assert shipped.using_shipped()
    daily = dohmh_daily(by_borough=True)
    assert len(daily) > 2000
    assert set(daily.columns) >= {"date", "borough", "cases", "deaths"}
    assert daily["date"].min() == pd.Timestamp("2020-02-29")
    unemployment = nysdol_unemployment()
    assert unemployment["borough"].nunique() == 5
    assert councilcount_household_sizes("nta")["population"].sum() > 8_000_000


def test_without_raw_data_an_unshipped_call_names_the_fix(no_raw_data):
    with pytest.raises(FileNotFoundError, match="only for the arguments") as err:
        dohmh_daily(by_borough="yes")
    assert paths.ENV_VAR in str(err.value)
    with pytest.raises(FileNotFoundError, match="No data directory found"):
        covid_parameters()  # not shipped: CovidParams() carries its values


@pytest.mark.needs_data
def test_an_explicit_data_dir_reads_the_raw_files_not_the_shipped_ones(tmp_path):
    assert not shipped.using_shipped(paths.data_dir())
    with pytest.raises(FileNotFoundError, match="Data file"):
        dohmh_daily(tmp_path)  # an empty folder given explicitly is an error, never a silent fallback


def test_covid_nyc_runs_on_a_fresh_install_from_the_shipped_tables(no_raw_data, tmp_path):
    out = tmp_path / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", "covid-nyc", "--scale", "0.001", "--days", "14", "--out", str(out), "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    inputs = [entry["path"] for entry in manifest["inputs"]]
    assert inputs == [str(f) for f in sorted(shipped.SHIPPED_DIR.glob("*.parquet"))]
    cases = pd.read_parquet(out / "cases_vs_dohmh.parquet")
    assert len(cases) == 14 * 5
    assert cases["observed"].sum() > 0  # DOHMH's cases, from the shipped table
    assert str(out / "cases.png") in printed.getvalue()
