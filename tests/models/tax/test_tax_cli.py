"""`populace run tax-policy`: the welfare table, Parquet, PNG and manifest."""

import json

import pandas as pd
import pytest

from populace.cli import main


def test_run_tax_policy_writes_table_parquet_plot_and_manifest(tmp_path, capsys):
    out = tmp_path / "tax"
    assert main(["run", "tax-policy", "--workers", "5000", "--seed", "3", "--steps", "5", "--saez-iterations", "10",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    welfare = pd.read_parquet(out / "welfare.parquet").set_index("planner")
    assert list(welfare.index) == ["US federal 2018", "Saez, one round", "Saez", "gradient planner"]
    for planner, row in welfare.iterrows():
        assert planner in printed
        assert f"{row['equality_x_productivity_usd']:,.0f}" in printed  # the table prints the Parquet figures
    eq_x_prod = welfare["equality_x_productivity_usd"]
    # the planner starts from Saez projected onto non-decreasing rates, so beating Saez is not by construction
    assert eq_x_prod["gradient planner"] > eq_x_prod["Saez"] > eq_x_prod["US federal 2018"]
    assert "Saez fixed point: 10 rounds" in printed
    schedules = pd.read_parquet(out / "schedules.parquet")
    us = schedules[schedules.planner == "US federal 2018"]
    assert us["rate"].tolist() == pytest.approx([0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37])
    assert (out / "tax-schedules.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["arguments"]["workers"] == 5000
    assert manifest["seeds"] == {"run": 3}
    assert {e["path"] for e in manifest["outputs"]} >= {str(out / "welfare.parquet"), str(out / "tax-schedules.png")}


def test_too_few_workers_is_refused(tmp_path, capsys):
    assert main(["run", "tax-policy", "--workers", "50", "--out", str(tmp_path)]) == 2
    assert "--workers must be at least 1000" in capsys.readouterr().err
