"""`populace run covid-nyc`: every output file, its columns, dates and boroughs; alignment with DOHMH and NYS DOL;
argument errors."""

import contextlib
import datetime as dt
import io
import json

import pandas as pd
import pytest

from populace.cli import main
from populace.data import BOROUGHS
from populace.data.dohmh import dohmh_daily
from populace.data.nysdol import nysdol_unemployment
from populace.manifest import sha256_of
from populace.models.covid_nyc.model import NYC_INFECTIONS_ON_START_DATE, initial_infected_at_scale

SCALE, DAYS, START = 0.002, 30, dt.date(2020, 3, 1)
DATES = pd.date_range(START, periods=DAYS, freq="D")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny run (16,677 agents, 30 days; about 20 s, most of it building the city), shared by the tests."""
    out = tmp_path_factory.mktemp("covid") / "run"
    argv = ["run", "covid-nyc", "--scale", str(SCALE), "--days", str(DAYS), "--start", START.isoformat(),
            "--seed", "3", "--population-seed", "2", "--out", str(out), "--no-progress"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return out, printed.getvalue()


@pytest.mark.needs_data
def test_writes_every_file_with_its_columns_dates_and_boroughs(run):
    run, printed = run
    assert "calibrated: fit of 2020-03-01:2021-06-30" in printed  # the shipped fit, by default
    assert str(run / "cases.png") in printed
    assert str(run / "unemployment.png") in printed
    daily = pd.read_parquet(run / "daily.parquet")
    assert list(daily.columns) == ["date", "region", "infections", "reported_cases", "deaths"]
    assert sorted(daily["date"].unique()) == list(DATES)
    assert sorted(daily["region"].unique()) == sorted(BOROUGHS)
    assert len(daily) == DAYS * 5
    assert (daily[["infections", "reported_cases", "deaths"]] >= 0).all().all()
    assert daily["infections"].sum() > 0
    monthly = pd.read_parquet(run / "monthly.parquet")
    assert list(monthly.columns) == ["month", "region", "unemployment_rate"]
    assert monthly["month"].unique().tolist() == [pd.Timestamp("2020-03-01")]  # days 2020-03-01 .. 03-30
    assert sorted(monthly["region"]) == sorted(BOROUGHS)
    assert monthly["unemployment_rate"].between(1, 20).all()
    for name in ("cases_vs_dohmh", "deaths_vs_dohmh", "unemployment_vs_nysdol"):
        table = pd.read_parquet(run / f"{name}.parquet")
        assert list(table.columns) == ["date", "region", "simulated", "observed"], name
        assert sorted(table["region"].unique()) == sorted(BOROUGHS), name
    for name in ("cases.png", "unemployment.png"):
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (run / name).stat().st_size > 20_000

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["seeds"] == {"run": 3, "population": 2}
    assert manifest["arguments"]["scale"] == SCALE
    assert manifest["arguments"]["start"] == "2020-03-01"
    assert manifest["arguments"]["importations"] is None  # the fit's importations
    inputs = [entry["path"] for entry in manifest["inputs"]]
    for file in ("data-by-day.csv", "tests.csv", "Staten_Island-Table.csv", "demo_2021acs5yr_nta.xlsx"):
        assert any(path.endswith(file) for path in inputs), file
    outputs = {entry["path"]: entry["sha256"] for entry in manifest["outputs"]}
    assert outputs[str(run / "daily.parquet")] == sha256_of(run / "daily.parquet")
    assert len(outputs) == 7
    assert manifest["results"]["calibrated"] is True


@pytest.mark.needs_data
def test_comparison_tables_align_dates_and_boroughs_with_the_real_data(run):
    run, _ = run
    daily = pd.read_parquet(run / "daily.parquet")
    for measure, column in (("cases", "reported_cases"), ("deaths", "deaths")):
        table = pd.read_parquet(run / f"{measure}_vs_dohmh.parquet")
        assert len(table) == DAYS * 5
        assert sorted(table["date"].unique()) == list(DATES)  # DOHMH covers all of March 2020
        real = dohmh_daily(by_borough=True).rename(columns={"borough": "region"})
        real["region"] = real["region"].astype(str)
        merged = table.merge(real, on=["date", "region"], validate="one_to_one")
        assert (merged["observed"] == merged[measure]).all(), measure
        sim = table.merge(daily, on=["date", "region"], validate="one_to_one")
        assert sim["simulated"].to_numpy() == pytest.approx(sim[column].to_numpy()), measure  # both at city scale
    unemployment = pd.read_parquet(run / "unemployment_vs_nysdol.parquet")
    real = nysdol_unemployment()
    march = real[real["month"] == "2020-03-01"]
    march = march.set_index(march["borough"].astype(str))["unemployment_rate"]
    assert unemployment["date"].unique().tolist() == [pd.Timestamp("2020-03-01")]
    assert unemployment.set_index("region")["observed"].to_dict() == pytest.approx(march.astype(float).to_dict())


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--scale", "0", "fraction in (0, 1]"),
    ("--scale", "1.5", "fraction in (0, 1]"),
    ("--start", "2020-02-30", "YYYY-MM-DD"),
    ("--start", "March", "YYYY-MM-DD"),
    ("--days", "0", "integer >= 1"),
    ("--seed", "-1", "integer >= 0"),
    ("--threads", "0", "integer >= 1"),
    ("--importations", "-1", "finite number >= 0"),
    ("--importations", "many", "a number >= 0"),
])
def test_bad_arguments_exit_with_status_2_and_say_why(option, value, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "covid-nyc", option, value, "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert option in error
    assert message in error
    assert not (tmp_path / "run").exists()


def test_a_missing_data_directory_is_an_error_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-such-data"
    assert main(["run", "covid-nyc", "--data-dir", str(missing), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert str(missing) in error
    assert "does not exist" in error
    assert not (tmp_path / "run").exists()


def test_initial_infections_are_given_at_city_scale():
    assert initial_infected_at_scale(NYC_INFECTIONS_ON_START_DATE, 0.01) == 107
    assert initial_infected_at_scale(10_700, 1.0) == 10_700
    assert initial_infected_at_scale(10_700, 1e-6) == 1  # never an epidemic without a seed
    with pytest.raises(ValueError, match="scale in"):
        initial_infected_at_scale(10_700, 0.0)
    with pytest.raises(ValueError, match="city_infections >= 1"):
        initial_infected_at_scale(0.5, 0.1)
