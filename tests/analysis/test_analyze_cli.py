"""`populace analyze` and `populace report`: a run folder with tables, plots and a report; --resume; parallel
members equal inline ones."""

import json

import pandas as pd
import pytest
from analysis_fixtures import TINY

from populace.analysis.bands import QUANTILES, bands
from populace.analysis.ensemble import Member
from populace.cli import main
from populace.models.covid_nyc.analysis.analyze import prepare
from populace.models.covid_nyc.analysis.ensemble import run_member
from populace.models.covid_nyc.analysis.tables import metrics


def test_analyze_writes_tables_plots_report_and_manifest(tiny_run):
    _, out = tiny_run
    for name in ("daily_runs", "daily_bands", "monthly_bands", "age_bands", "totals", "metrics"):
        assert (out / "tables" / f"{name}.parquet").is_file(), name
    assert sorted(p.name for p in (out / "plots").glob("*.png")) == [
        "averted.png", "cases.png", "deaths.png", "infections.png", "unemployment.png"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["seeds"] == {"first": 1, "members": 2}
    daily = pd.read_parquet(out / "tables" / "daily_runs.parquet")
    assert set(daily["policy"]) == {"baseline", "lockdown a week earlier", "stimulus"}
    assert set(daily["region"]) == {f"region {r}" for r in range(5)} | {"all"}
    city = daily[daily["region"] == "all"].set_index(["policy", "member", "date"])["infections"]
    by_region = daily[daily["region"] != "all"].groupby(["policy", "member", "date"])["infections"].sum()
    pd.testing.assert_series_equal(city.sort_index(), by_region.sort_index(), check_names=False)
    assert len(daily[daily["region"] == "all"]) == 3 * 2 * 28  # policies x members x days
    ages = pd.read_parquet(out / "tables" / "age_runs.parquet").groupby(["policy", "member"])[["infections", "deaths"]]
    by_run = daily[daily["region"] == "all"].groupby(["policy", "member"])[["infections", "deaths"]].sum()
    ever = ages.sum()  # everyone ever infected, the 15 agents infected on day 0 included
    pd.testing.assert_series_equal(ever["infections"], by_run["infections"] + 15)
    pd.testing.assert_series_equal(ever["deaths"], by_run["deaths"])  # deaths are reported on their day
    assert by_run["infections"].min() > 50


def test_members_run_in_parallel_equal_members_run_inline(tiny_run, tmp_path):
    scenario, out = tiny_run
    inline = tmp_path / "inline"
    prepare(scenario, inline)
    run_member(str(inline), Member(1, 2, 1))  # seed 2, draw 1
    for path in sorted((out / "members" / "m0001").glob("*.parquet")):
        pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(inline / "members" / "m0001" / path.name))


def test_rerunning_needs_resume_which_recomputes_nothing(tiny_run, capsys):
    scenario, out = tiny_run
    with pytest.raises(SystemExit, match="already holds a run; pass --resume"):
        main(["analyze", str(scenario), "--out", str(out), "--no-progress"])
    stamps = {p: p.stat().st_mtime_ns for p in (out / "members").rglob("*.daily.parquet")}
    assert main(["analyze", str(scenario), "--out", str(out), "--resume", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "median [90% interval] over runs" in printed
    assert "lockdown a week earlier" in printed
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    other = out.parent / "other.yaml"
    other.write_text(scenario.read_text().replace('"seeds": 2', '"seeds": 3'))
    assert main(["analyze", str(other), "--out", str(out), "--resume", "--no-progress"]) == 2
    assert "holds a run of a different scenario" in capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text())["status"] == "completed"  # the finished run's, kept


def test_bands_are_quantiles_over_members_and_metrics_are_paired():
    frame = pd.DataFrame({"policy": ["a"] * 5, "day": [1] * 5, "x": [5.0, 1.0, 4.0, 2.0, 3.0]})
    table = bands(frame, ["policy", "day"], ["x"])
    assert table.loc[0, ["q05", "q25", "median", "q75", "q95"]].tolist() == [1.2, 2.0, 3.0, 4.0, 4.8]
    assert list(QUANTILES.values()) == [0.05, 0.25, 0.5, 0.75, 0.95]
    totals = pd.DataFrame({"policy": ["baseline"] * 3 + ["p"] * 3, "member": [0, 1, 2] * 2,
                           "infections": [100.0, 200.0, 300.0, 90.0, 150.0, 310.0],
                           "reported_cases": [1.0] * 6, "deaths": [1.0] * 6, "unemployment_months": [1.0] * 6})
    table = metrics(totals).set_index(["policy", "metric"])
    assert table.loc[("p", "infections_averted"), "median"] == 10.0  # paired: 10, 50, -10
    assert table.loc[("p", "infections_averted"), "q95"] == 46.0
    assert table.loc[("baseline", "infections"), "median"] == 200.0
    assert ("baseline", "infections_averted") not in table.index


@pytest.mark.parametrize(("parameters", "message"), [
    ("{not json", "is not valid JSON"),
    ('{"draws": [{"observation.logit_ascertainment": -2.0}]}', "parameter_draws is 2 but the parameters file has 1"),
])
def test_a_bad_parameters_file_is_one_line_of_error(tmp_path, capsys, parameters, message):
    (tmp_path / "fitted.json").write_text(parameters)
    (tmp_path / "bad.yaml").write_text(json.dumps(TINY))  # JSON is YAML; its parameters file is fitted.json
    assert main(["analyze", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
