"""`populace bench`: the standard set listed, a quick run's JSON lines and table, unknown case names, a case that
fails in its process and a case whose data is missing."""

import json
import re
import sys

import pytest

from populace.bench import run
from populace.bench.cases import CASES, once_per_kind, select
from populace.cli import main


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_list_shows_the_standard_set(capsys):
    assert main(["bench", "--list"]) == 0
    printed = capsys.readouterr().out
    names = [line.split()[0] for line in printed.splitlines()]
    assert names == [case.name for case in CASES]
    for network in ("static", "mixing"):
        for mode in ("fast", "diff"):
            assert {f"sir-{network}-{mode}-{size}" for size in ("100k", "1m", "8.4m")} <= set(names)
    assert {"covid-fast-0.1", "covid-fast-1.0", "nyc-population-1.0", "population-io-8.4m"} <= set(names)
    assert "8.4M agents" in printed
    assert "(quick 20k agents)" in printed


def test_quick_run_prints_json_lines_with_every_key_and_a_table(tmp_path, capsys):
    out = tmp_path / "bench.jsonl"
    assert main(["bench", "--quick", "--cases", "sir-static-fast-100k", "sir-mixing-fast-100k", "--json",
                 str(out)]) == 0
    printed = capsys.readouterr()
    records = _json_lines(printed.out)
    assert [r["case"] for r in records] == ["sir-static-fast-100k", "sir-mixing-fast-100k"]
    assert _json_lines(out.read_text()) == records
    for record in records:
        assert set(run.RECORD_KEYS) <= set(record)
        assert record["status"] == "ok"
        assert record["mode"] == "fast"
        assert record["agents"] == 20_000
        assert record["days"] == 5
        for figure in ("seconds_per_day", "build_s", "total_s", "peak_gib"):
            assert record[figure] > 0, figure
        assert record["threads"] >= 1
        assert re.fullmatch(r"[0-9a-f]{40}", record["commit"])
        assert record["torch"] == __import__("torch").__version__
        assert record["machine"]
        assert record["date"].startswith("20")
    assert "| case " in printed.out
    assert "| sir-mixing-fast-100k | 20,000 | fast " in printed.out
    assert "[1/2] sir-static-fast-100k: 20k agents, 5 days" in printed.err  # progress, as each case starts


def test_unknown_case_names_are_a_one_line_error_listing_the_known_ones(capsys):
    assert main(["bench", "--cases", "sir-static-fast-100k", "sir-nope-*", "--list"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("populace: error: unknown case(s) sir-nope-*; known: sir-static-fast-100k, ")
    assert "population-io-8.4m" in error


def test_a_failing_case_is_reported_and_the_others_still_run(monkeypatch, capsys):
    real_command = run.case_command

    def command(case, **options):
        if case.name == "sir-static-fast-100k":
            return [sys.executable, "-c", "raise RuntimeError('the network build broke')"]
        return real_command(case, **options)

    monkeypatch.setattr(run, "case_command", command)
    assert main(["bench", "--quick", "--days", "2", "--cases", "sir-static-fast-100k", "sir-mixing-fast-100k"]) == 1
    printed = capsys.readouterr().out
    failed, ok = _json_lines(printed)
    assert failed["status"] == "failed"
    assert failed["error"] == "RuntimeError: the network build broke"
    assert failed["seconds_per_day"] is None
    assert failed["commit"] == ok["commit"]
    assert ok["status"] == "ok"
    assert ok["days"] == 2
    assert "failed: RuntimeError: the network build broke" in printed


def test_a_case_without_its_data_is_skipped_with_the_reason(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("POPULACE_DATA", str(tmp_path / "no-data"))
    assert main(["bench", "--quick", "--cases", "covid-fast-0.1"]) == 0
    (record,) = _json_lines(capsys.readouterr().out)
    assert record["status"] == "skipped"
    assert record["reason"].startswith("needs the raw NYC data: Data directory ")
    assert "no-data" in record["reason"]


@pytest.mark.parametrize(("n", "label"), [(20_000, "20k"), (100_000, "100k"), (1_000_000, "1M"), (8_400_000, "8.4M")])
def test_agents_label(n, label):
    from populace.bench.cases import agents_label

    assert agents_label(n) == label


def test_bench_is_a_lazy_top_level_command_with_its_modules_help():
    from populace.cli import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command")
    listed = {action.dest: action.help for action in commands._choices_actions}["bench"]
    commands.build("bench")
    assert {action.dest: action.help for action in commands._choices_actions}["bench"] == listed


def test_a_quick_run_measures_each_kind_once():
    kinds = once_per_kind(select(["sir-static-fast-*", "sir-mixing-fast-*", "covid-fast-*"]))
    assert [case.name for case in kinds] == ["sir-static-fast-100k", "sir-mixing-fast-100k", "covid-fast-0.1"]
