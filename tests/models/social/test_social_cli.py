"""`populace run social` on tiny runs: tables, plots, page, manifest, the caller's edge list and its errors, the
language-model flags."""

import json

import pandas as pd

from populace.cli import main
from populace.models.social import ACTIONS


def test_run_social_writes_tables_plots_report_and_manifest(tmp_path, capsys):
    out = tmp_path / "social"
    assert main(["run", "social", "--users", "300", "--steps", "4", "--recommender", "similarity", "hot",
                 "--seed-posts", "30", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    steps = pd.read_parquet(out / "steps.parquet")
    assert len(steps) == 2 * 5  # recommenders x (steps + 1)
    assert steps.groupby("recommender").posts.first().tolist() == [30, 30]
    last = steps[steps.step == 4]
    made = steps[steps.step > 0].groupby("recommender")[["post", "repost"]].sum().sum(axis=1)
    assert (last.set_index("recommender").posts - 30).to_dict() == made.to_dict()  # posts conserved
    stances = pd.read_parquet(out / "stances.parquet")
    assert set(stances.groupby(["recommender", "step"]).users.sum()) == {300}
    cascades = pd.read_parquet(out / "cascades.parquet")
    assert len(cascades) == 2 * 30
    assert cascades.initial_score.tolist()[:3] == [1, 0, -1]
    summary = pd.read_parquet(out / "summary.parquet")
    assert summary.recommender.tolist() == ["similarity", "hot"]
    for name in ("cascades.png", "herd.png", "stances.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 3
    assert "embeddings: hashed-bag-of-words/32 (crc32)" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["results"]["encoder"] == "hashed-bag-of-words/32 (crc32)"
    assert list(steps.columns[2:2 + len(ACTIONS)]) == list(ACTIONS)


def test_your_own_edge_list_and_its_errors(tmp_path, capsys):
    edges = tmp_path / "edges.csv"
    pd.DataFrame({"follower": [0, 1, 2, 3], "followee": [1, 2, 3, 0]}).to_csv(edges, index=False)
    out = tmp_path / "own"
    assert main(["run", "social", "--users", "4", "--steps", "2", "--edges", str(edges), "--out", str(out),
                 "--no-progress"]) == 0
    assert "4 users, 4 follows (from" in capsys.readouterr().out
    pd.DataFrame({"follower": [0, 9], "followee": [1, 2]}).to_csv(edges, index=False)
    assert main(["run", "social", "--users", "4", "--edges", str(edges), "--out", str(out)]) == 2
    assert "unknown user id(s) in column 'follower' (users are 0..3): rows [1] hold [9]" in capsys.readouterr().err
    pd.DataFrame({"source": [0], "target": [1]}).to_csv(edges, index=False)
    assert main(["run", "social", "--users", "4", "--edges", str(edges), "--out", str(out)]) == 2
    assert "has no column(s) ['follower', 'followee']" in capsys.readouterr().err


def test_llm_behaviour_logs_its_usage_and_refuses_llm_flags_without_it(tmp_path, capsys):
    out = tmp_path / "llm"
    assert main(["run", "social", "--users", "200", "--steps", "2", "--behavior", "llm", "--llm-backend", "scripted",
                 "--llm-cache", str(tmp_path / "cache.sqlite"), "--out", str(out), "--no-progress"]) == 0
    usage = json.loads((out / "llm_usage.json").read_text())
    assert usage["totals"]["decision_steps"] == 2
    assert 0 < usage["totals"]["prompts"] <= 2 * 96
    assert main(["run", "social", "--dry-run", "--out", str(out)]) == 2
    assert "--dry-run only apply to --behavior llm" in capsys.readouterr().err
