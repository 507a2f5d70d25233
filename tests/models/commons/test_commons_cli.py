"""`populace run commons` on a tiny run: tables, summary bands, plots, page, manifest and input errors."""

import json

import pandas as pd

from populace.cli import main


def test_run_commons_writes_tables_plots_report_and_manifest(tmp_path, capsys):
    out = tmp_path / "commons"
    assert main(["run", "commons", "--scenario", "pasture", "--groups", "6", "--policy", "sustainable", "greedy",
                 "--greedy-amount", "30", "--seeds", "2", "--months", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    months = pd.read_parquet(out / "months.parquet")
    assert len(months) == 2 * 2 * 6 * 5  # behaviours x seeds x groups x (months + 1)
    sustainable = months[months.behaviour == "sustainable"]
    assert set(sustainable.after_harvest[sustainable.month > 0]) == {50.0}
    greedy = months[(months.behaviour == "greedy") & (months.month == 1)]
    assert set(greedy.after_harvest) == {0.0}  # 5 x 30 asked of 100: rationed to empty, collapsed
    runs = pd.read_parquet(out / "runs.parquet").set_index("behaviour")
    assert runs.loc["sustainable", "gain_per_agent"].tolist() == [40.0, 40.0]
    assert runs.loc["sustainable", "survival_rate"].tolist() == [1.0, 1.0]
    assert runs.loc["greedy", "survival_rate"].tolist() == [0.0, 0.0]
    assert runs.loc["greedy", "efficiency"].tolist() == [0.5, 0.5]  # 100 of 4 x 50
    summary = pd.read_parquet(out / "summary.parquet")
    row = summary[(summary.behaviour == "greedy") & (summary.measure == "gain_per_agent")].iloc[0]
    assert (row.q05, row["median"], row.q95) == (20.0, 20.0, 20.0)
    for name in ("resource.png", "survival.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.html").read_text()
    assert "GovSim commons: pasture" in report
    assert report.count("data:image/png;base64,") == 2
    assert "hectares of grass" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert {e["path"] for e in manifest["outputs"]} >= {str(out / "summary.parquet"), str(out / "report.html")}


def test_newcomer_adds_a_seat_that_joins_in_month_three(tmp_path):
    out = tmp_path / "newcomer"
    assert main(["run", "commons", "--groups", "2", "--seeds", "1", "--newcomer", "--greedy-amount", "10",
                 "--out", str(out)]) == 0
    months = pd.read_parquet(out / "months.parquet")
    assert set(months.behaviour) == {"sustainable + greedy newcomer"}
    # months 1, 2: 5 x 10; from month 3: 5 x floor(50 / 6) = 40 + the newcomer's 10
    assert months[months.group == 0].harvest.tolist()[:4] == [0, 50, 50, 50]


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["run", "commons", "--agents-per-group", "3", "--months", "2", "--newcomer",
                 "--out", str(tmp_path)]) == 2
    assert "newcomer_month must be None" in capsys.readouterr().err
