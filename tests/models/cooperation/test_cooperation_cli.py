"""`populace run cooperation` on a tiny run: tables, summary bands, plots, page, manifest and input errors."""

import json

import pandas as pd

from populace.cli import main


def test_run_cooperation_writes_tables_plots_report_and_manifest(tmp_path, capsys):
    out = tmp_path / "coop"
    assert main(["run", "cooperation", "--societies", "4", "--generations", "3", "--seeds", "2",
                 "--behavior", "parametric", "learned", "--train-iterations", "3", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    generations = pd.read_parquet(out / "generations.parquet")
    assert len(generations) == 2 * 2 * 3 * 4  # behaviours x seeds x generations x societies
    first = generations[generations.generation == 0]
    # each generation starts at 10 per agent; donations add (multiplier - 1) x the donated total over 12 agents
    error = ((first.final_resources - 10) * 12 - first.donated).abs()
    assert (error <= 1e-5 * first.donated + 1e-3).all()  # float32 sums
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary.behaviour) == {"parametric", "learned"}
    assert set(summary.generation) == {0, 1, 2}
    lineages = pd.read_parquet(out / "lineages.parquet")
    shares = lineages.groupby(["behaviour", "seed", "generation"]).share.sum()
    assert (shares - 1).abs().max() < 1e-9
    donations = pd.read_parquet(out / "donations.parquet")
    assert donations.fraction.between(0, 1).all()
    for name in ("resources.png", "donation.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 2
    assert "mean final resources per agent" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed"


def test_bad_rules_are_one_line(tmp_path, capsys):
    assert main(["run", "cooperation", "--agents-per-society", "5", "--out", str(tmp_path)]) == 2
    assert "agents_per_society" in capsys.readouterr().err


def test_run_cooperation_with_language_model_strategies(tmp_path, capsys):
    out = tmp_path / "llm"
    assert main(["run", "cooperation", "--societies", "3", "--generations", "2", "--seeds", "1", "--behavior",
                 "llm", "--llm-backend", "scripted", "--llm-cache", str(tmp_path / "cache.sqlite"),
                 "--out", str(out), "--no-progress"]) == 0
    assert "LLM behaviour:" in capsys.readouterr().out
    assert set(pd.read_parquet(out / "summary.parquet").behaviour) == {"llm"}
    assert pd.read_parquet(out / "donations.parquet").empty  # language-model strategies have no theta
    strategies = pd.read_parquet(out / "strategies.parquet")
    assert strategies.text.tolist()[0] == "My strategy will be to give half of what I have."
    steps = pd.read_parquet(out / "llm_steps.parquet")
    assert {"donate", "write"} <= set(steps.decision)
    assert main(["run", "cooperation", "--per-agent", "--out", str(tmp_path / "x")]) == 2
    assert "--per-agent only applies to --behavior llm" in capsys.readouterr().err
