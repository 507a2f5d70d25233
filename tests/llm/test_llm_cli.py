"""`populace llm ask` and `populace llm cache stats|clear`."""

from __future__ import annotations

import json
import socket

import pytest

from populace.cli import main


def ask(capsys, *args: str) -> dict:
    assert main(["llm", "ask", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ask_scripted_then_cached(capsys, tmp_path):
    cache = str(tmp_path / "a.sqlite")
    first = ask(capsys, "Stay home this week?", "--backend", "scripted", "--weights", "0.6,0.2", "--cache-path", cache)
    assert first["probabilities"] == pytest.approx({"yes": 0.75, "no": 0.25})
    assert first["option_mass"] == pytest.approx(0.8)
    assert (first["prompt_tokens"], first["completion_tokens"], first["cached"]) == (4, 1, False)  # a token a word
    again = ask(capsys, "Stay home this week?", "--backend", "scripted", "--weights", "0.6,0.2", "--cache-path", cache)
    assert again["cached"] is True
    assert again["probabilities"] == first["probabilities"]
    other = ask(capsys, "Stay home this week?", "--backend", "scripted", "--weights", "0.6,0.2", "--cache-path", cache,
                "--template-version", "isolate@2")
    assert other["cached"] is False


def test_ask_prints_a_readable_table(capsys, tmp_path):
    assert main(["llm", "ask", "Which?", "--options", "red, green,blue", "--backend", "scripted",
                 "--weights", "0.5,0.25,0.25", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "red    0.500" in out
    assert "green  0.250" in out
    assert "mass on the options: 1.000" in out
    assert "scripted scripted: 1 prompt + 1 completion tokens, not cached" in out


def test_ask_openai_server(capsys, server, tmp_path):
    result = ask(capsys, "Stay home?", "--backend", "openai", "--url", server.url, "--model", "m", "--no-cache")
    assert result["probabilities"] == pytest.approx({"yes": 0.75, "no": 0.25})
    assert result["option_mass"] == pytest.approx(0.8)
    assert server.requests[0]["model"] == "m"


def test_ask_server_down_is_a_clean_error(capsys, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr("populace.llm.openai.time.sleep", lambda s: None)
    code = main(["llm", "ask", "Stay home?", "--backend", "openai", "--url", f"http://127.0.0.1:{port}/v1",
                 "--model", "m", "--no-cache"])
    assert code == 1
    assert "did not answer after 6 tries" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--options", "yes"], "give 2 or more non-empty comma-separated options"),
        (["--backend", "gpt"], "invalid choice: 'gpt'"),
        (["--backend", "scripted", "--weights", "a,b"], "give comma-separated numbers"),
    ],
)
def test_ask_bad_arguments(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["llm", "ask", "Stay home?", *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_ask_bad_url_and_weights_are_specific_errors(capsys):
    assert main(["llm", "ask", "Stay home?", "--backend", "openai", "--url", "localhost:8000", "--model", "m"]) == 2
    assert "needs http:// or https://" in capsys.readouterr().err
    assert main(["llm", "ask", "Stay home?", "--backend", "scripted", "--weights", "0.2,0.3,0.5", "--no-cache"]) == 2
    assert "has 3 weights, but the query has 2 options" in capsys.readouterr().err


def test_cache_stats_and_clear(capsys, tmp_path):
    cache = str(tmp_path / "a.sqlite")
    for prompt in ("one?", "two?"):
        ask(capsys, prompt, "--backend", "scripted", "--cache-path", cache)
    assert main(["llm", "cache", "stats", "--path", cache]) == 0
    out = capsys.readouterr().out
    assert f"{cache}: 2 answers" in out
    assert "scripted   scripted: 2" in out
    assert main(["llm", "cache", "clear", "--path", cache]) == 0
    assert capsys.readouterr().out.strip() == f"cleared 2 entries from {cache}"
    assert main(["llm", "cache", "stats", "--path", cache]) == 0
    assert f"{cache}: 0 answers" in capsys.readouterr().out
