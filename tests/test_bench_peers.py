"""`populace bench --peers`: the comparison set listed, missing peers skipped with the pip command that installs
them, the medians and ratios to Populace computed from given figures, and (only where Covasim and Starsim are
installed) a tiny side-by-side run."""

import json

import pytest

from populace.bench import peers
from populace.bench.cases import CASES, PEER_CASES
from populace.cli import main

PEER_NAMES = ["peer-populace-static", "peer-covasim-static", "peer-starsim-static", "peer-populace-dynamic",
              "peer-starsim-dynamic"]


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_list_shows_the_comparison_set(capsys):
    assert main(["bench", "--peers", "--list"]) == 0
    printed = capsys.readouterr().out
    assert [line.split()[0] for line in printed.splitlines()] == PEER_NAMES
    assert "1M agents" in printed
    assert "(quick 5k agents)" in printed
    assert "30 days" in printed
    assert not {case.name for case in PEER_CASES} & {case.name for case in CASES}  # not in the standard set


def test_schedule_interleaves_the_tools_round_after_round():
    assert peers.schedule(["P", "C", "S"], 3) == ["P", "C", "S"] * 3


@pytest.mark.slow
def test_missing_peers_are_skipped_with_the_pip_command(tmp_path, monkeypatch, capsys):
    for tool in ("covasim", "starsim"):  # shadow the peers, installed or not, in the cases' processes
        (tmp_path / f"{tool}.py").write_text(f'raise ImportError("No module named {tool}")\n')
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert main(["bench", "--peers", "--quick", "--agents", "2000", "--days", "2", "--repeats", "2"]) == 0
    printed = capsys.readouterr().out
    records = _json_lines(printed)
    assert [r["case"] for r in records] == PEER_NAMES * 2
    assert [r["repeat"] for r in records] == [0] * 5 + [1] * 5
    for record in records:
        if "populace" in record["case"]:
            assert record["status"] == "ok"
            assert record["agents"] == 2000
            assert record["days"] == 2
            assert record["tool"] == "populace"
            assert 0 < record["attack_rate"] < 1
        else:
            tool = record["case"].split("-")[1]
            assert record["status"] == "skipped"
            assert record["reason"] == (f"{tool} is not installed; install it with: pip install "
                                        f"{tool}=={peers.PINS[tool]} (or pip install 'populace[peers]')")
    ratios = printed.split("Medians of 2 interleaved runs")[1]
    assert "| covasim  | -       | static  |      - |    0 |      - |          - |" in ratios
    assert "skipped: covasim is not installed; install it with: pip install covasim==3.1.9" in ratios
    assert "skipped: starsim is not installed; install it with: pip install starsim==3.7.2" in ratios
    assert "|      1.00x |" in ratios  # Populace against itself


def _record(case, repeat, seconds, peak, attack, status="ok", **extra):
    tool, network = case.split("-")[1:3]
    return {"case": case, "agents": 1000, "status": status, "seconds_per_day": seconds, "peak_gib": peak,
            "build_s": 0.5, "attack_rate": attack, "threads": 2, "cpu_per_wall": 1.5, "tool": tool,
            "tool_version": "9.9", "network": network, "repeat": repeat, **extra}


def test_ratio_table_from_given_figures():
    records = [
        _record("peer-populace-static", 0, 0.010, 1.0, 0.030),
        _record("peer-covasim-static", 0, 0.050, 1.5, 0.036),
        _record("peer-starsim-static", 0, None, None, None, status="skipped", reason="starsim is not installed",
                tool_version=None),
        _record("peer-populace-static", 1, 0.030, 1.2, 0.031),
        _record("peer-covasim-static", 1, None, None, None, status="failed", error="MemoryError"),
        _record("peer-starsim-static", 1, None, None, None, status="skipped", reason="starsim is not installed",
                tool_version=None),
        _record("peer-populace-static", 2, 0.020, 1.1, 0.032),
        _record("peer-covasim-static", 2, 0.070, 1.7, 0.040),
        _record("peer-populace-dynamic", 0, 0.100, 0.5, 0.04),
        _record("peer-starsim-dynamic", 0, 0.050, 2.0, 0.05),
    ]
    rows = peers.summarize(records)
    assert [row["case"] for row in rows] == ["peer-populace-static", "peer-covasim-static", "peer-starsim-static",
                                             "peer-populace-dynamic", "peer-starsim-dynamic"]
    populace, covasim, starsim, populace_dynamic, starsim_dynamic = rows
    assert populace["runs"] == 3
    assert populace["seconds_per_day"] == pytest.approx(0.020)  # median of 0.010, 0.030, 0.020
    assert populace["peak_gib"] == pytest.approx(1.1)
    assert populace["attack_rate"] == pytest.approx(0.031)
    assert populace["time_ratio"] == pytest.approx(1.0)
    assert covasim["runs"] == 2  # the failed repeat is left out of the medians, and noted
    assert covasim["seconds_per_day"] == pytest.approx(0.060)
    assert covasim["peak_gib"] == pytest.approx(1.6)
    assert covasim["time_ratio"] == pytest.approx(3.0)  # 0.060 / 0.020
    assert covasim["memory_ratio"] == pytest.approx(1.6 / 1.1)
    assert covasim["note"] == "failed: MemoryError"
    assert covasim["status"] == "ok"
    assert starsim["runs"] == 0
    assert starsim["status"] == "skipped"
    assert starsim["time_ratio"] is None
    assert starsim["note"] == "skipped: starsim is not installed"
    assert starsim_dynamic["time_ratio"] == pytest.approx(0.5)  # against Populace's dynamic run, not its static
    assert starsim_dynamic["memory_ratio"] == pytest.approx(4.0)
    assert populace_dynamic["memory_ratio"] == pytest.approx(1.0)

    table = peers.ratio_table(rows).splitlines()
    assert [cell.strip() for cell in table[0].split("|")[1:-1]] == [
        "tool", "version", "network", "agents", "runs", "s/day", "x Populace", "peak GiB", "x Populace",
        "build s", "attack rate", "threads", "CPU/wall", "note"]
    assert table[1].startswith("|----------|---------|---------|-------:|")  # text left, figures right
    assert len(table) == 2 + len(rows)
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in table[2:]]
    assert cells[1] == ["covasim", "9.9", "static", "1,000", "2", "0.0600", "3.00x", "1.60", "1.45x", "0.50",
                        "3.80%", "2", "1.50", "failed: MemoryError"]
    assert cells[2][:7] == ["starsim", "-", "static", "1,000", "0", "-", "-"]
    assert cells[4][5:9] == ["0.0500", "0.50x", "2.00", "4.00x"]


@pytest.mark.slow
def test_a_tiny_side_by_side_run_completes_with_attack_rates(capsys):
    pytest.importorskip("covasim")
    pytest.importorskip("starsim")
    assert main(["bench", "--peers", "--quick", "--repeats", "1"]) == 0
    printed = capsys.readouterr().out
    records = _json_lines(printed)
    assert [r["case"] for r in records] == PEER_NAMES
    for record in records:
        assert record["status"] == "ok", record
        assert record["agents"] == 5000
        assert record["days"] == 5
        assert record["seconds_per_day"] > 0
        assert record["peak_gib"] > 0
        assert 0 < record["attack_rate"] < 0.5
        assert record["contacts_per_agent"] == pytest.approx(20, rel=0.05)
        assert record["threads"] >= 1
    assert {r["tool_version"] for r in records if r["tool"] != "populace"} == {"3.1.9", "3.7.2"}
    ratios = printed.split("Medians of 1 interleaved runs")[1]
    for record in records:
        assert f"{100 * record['attack_rate']:.2f}%" in ratios
