"""The OpenAI-compatible backend against a local server (tests/llm/conftest.py): scoring, retries, failures."""

from __future__ import annotations

import socket

import pytest

from populace.llm import AnswerCache, CachedModel, LLMError, Query
from populace.llm import openai as openai_backend
from populace.llm.openai import OpenAIModel

YES_NO = ("yes", "no")


def make(server, **kwargs) -> OpenAIModel:
    defaults = {"url": server.url, "model": "test-model", "backoff_s": 0.001, "max_retries": 3, "timeout_s": 5.0}
    return OpenAIModel(**{**defaults, **kwargs})


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_logprobs_give_option_probabilities_and_mass(server, endpoint):
    model = make(server, endpoint=endpoint)
    (a,) = model.answer([Query("Stay home?", YES_NO)])
    # server: " Yes" 0.5 + "yes" 0.1 = 0.6 on yes, "No" 0.2, "Maybe" 0.2 elsewhere
    assert a.probabilities == pytest.approx((0.75, 0.25))
    assert a.option_mass == pytest.approx(0.8)
    assert (a.prompt_tokens, a.completion_tokens) == (11, 1)
    body = server.requests[0]
    assert body["max_tokens"] == 1
    if endpoint == "chat":
        assert body["logprobs"] is True
        assert body["top_logprobs"] == 20
        assert body["messages"][-1] == {"role": "user", "content": "Stay home?"}
    else:
        assert body["logprobs"] == 20
        assert body["prompt"] == "Stay home?"


def test_no_logprobs_falls_back_to_sampling_and_parses(server):
    server.logprobs = False
    model = make(server, samples=8)
    a, b = model.answer([Query("Stay home?", YES_NO), Query("Wear a mask?", YES_NO)])
    for ans in (a, b):
        # 8 samples from the cycle: 4 yes ("Yes.", "YES", "**Yes**", "yes!"), 2 no, 2 unparsed
        assert ans.probabilities == pytest.approx((4 / 6, 2 / 6))
        assert ans.option_mass == pytest.approx(6 / 8)
        assert ans.unparsed == 2
        assert len(ans.texts) == 8
    assert [r.get("logprobs") for r in server.requests].count(True) >= 1
    assert all(r["n"] == 8 for r in server.requests if not r.get("logprobs"))


def test_sampling_server_that_ignores_n_is_asked_again(server):
    server.honour_n = False
    model = make(server, scoring="sampling", samples=4, max_concurrency=1)
    (a,) = model.answer([Query("Stay home?", YES_NO)])
    assert len(server.requests) == 4
    assert len(a.texts) == 4
    assert a.probabilities == pytest.approx((2 / 3, 1 / 3))
    assert a.unparsed == 1


def test_scoring_logprobs_refuses_a_server_without_them(server):
    server.logprobs = False
    with pytest.raises(LLMError, match=r"no log-probabilities.*scoring='sampling'"):
        make(server, scoring="logprobs").answer([Query("Stay home?", YES_NO)])


def test_500_then_success(server):
    server.script = ["500", "500"]
    (a,) = make(server).answer([Query("Stay home?", YES_NO)])
    assert len(server.requests) == 3
    assert a.probabilities == pytest.approx((0.75, 0.25))


def test_429_backs_off_exponentially_and_honours_retry_after(server, monkeypatch):
    waits = []
    monkeypatch.setattr(openai_backend.time, "sleep", waits.append)
    server.script = ["429", "429", "429"]
    (a,) = make(server, backoff_s=0.01, max_backoff_s=1.0).answer([Query("Stay home?", YES_NO)])
    assert waits == pytest.approx([0.01, 0.02, 0.04])
    assert len(server.requests) == 4
    assert a.option_mass == pytest.approx(0.8)
    waits.clear()
    server.script = ["429-retry-after", "429", "429", "429"]  # first wait: max(backoff, Retry-After 0.05 s)
    make(server, backoff_s=0.01, max_backoff_s=0.06, max_retries=4).answer([Query("Again?", YES_NO)])
    assert waits == pytest.approx([0.05, 0.02, 0.04, 0.06])  # the last one capped at max_backoff_s


def test_timeout_is_retried(server):
    server.script = ["sleep"]
    server.sleep_s = 0.5
    (a,) = make(server, timeout_s=0.1).answer([Query("Stay home?", YES_NO)])
    assert len(server.requests) == 2
    assert a.probabilities == pytest.approx((0.75, 0.25))


def test_malformed_json_is_a_clear_error(server):
    server.script = ["malformed"]
    with pytest.raises(LLMError, match=r"malformed JSON.*OpenAI-compatible"):
        make(server).answer([Query("Stay home?", YES_NO)])


def test_server_down_fails_clearly_after_retries():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = OpenAIModel(url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=2, backoff_s=0.001)
    with pytest.raises(LLMError, match=r"did not answer after 3 tries \(last: connection failed.*Is it running"):
        model.answer([Query("Stay home?", YES_NO)])


def test_failure_mid_batch_keeps_the_answers_obtained_in_the_cache(server, tmp_path):
    server.fail_prompts = {"p3"}
    cache = AnswerCache(tmp_path / "answers.sqlite")
    queries = [Query(f"p{i}", YES_NO) for i in range(6)]
    with pytest.raises(LLMError, match="did not answer") as failure:
        CachedModel(make(server, max_retries=1, max_concurrency=1), cache).answer(queries)
    assert [a is not None for a in failure.value.answers] == [True, True, True, False, False, False]
    assert len(cache) == 3
    server.fail_prompts = set()
    server.requests.clear()
    answers = CachedModel(make(server), cache).answer(queries)
    assert sorted(r["messages"][-1]["content"] for r in server.requests) == ["p3", "p4", "p5"]
    assert [a.cached for a in answers] == [True, True, True, False, False, False]


def test_concurrent_failure_returns_the_other_answers(server):
    server.fail_prompts = {"p0"}
    queries = [Query(f"p{i}", YES_NO) for i in range(8)]
    with pytest.raises(LLMError) as failure:
        make(server, max_retries=2, max_concurrency=4).answer(queries)
    got = failure.value.answers
    assert got[0] is None
    assert any(a is not None for a in got[1:])
    assert all(a.probabilities == pytest.approx((0.75, 0.25)) for a in got if a is not None)


def test_api_key_is_sent_but_never_shown(server, monkeypatch, tmp_path):
    secret = "sk-very-secret-123"
    monkeypatch.setenv("POPULACE_LLM_API_KEY", secret)
    monkeypatch.setenv("POPULACE_LLM_URL", server.url)
    monkeypatch.setenv("POPULACE_LLM_MODEL", "env-model")
    model = OpenAIModel(backoff_s=0.001)
    assert model.model == "env-model"
    assert model.url == server.url
    cache = AnswerCache(tmp_path / "answers.sqlite")
    CachedModel(model, cache).answer([Query("Stay home?", YES_NO)])
    assert server.headers[0] == f"Bearer {secret}"
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("answers.sqlite*"))  # database and its WAL
    assert b"Stay home?" in stored
    assert secret.encode() not in stored
    assert secret not in repr(model) + str(model.settings())
    server.script = ["401"]  # a server that echoes the header back in its error
    with pytest.raises(LLMError, match=r"HTTP 401.*check the API key") as failure:
        model.answer([Query("Other?", YES_NO)])
    assert secret not in str(failure.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "127.0.0.1:8000/v1"}, "needs http:// or https://"),
        ({"url": "ftp://host/v1"}, "needs http:// or https://"),
        ({"url": "http://"}, "Invalid LLM server URL"),
        ({"url": None}, "No LLM server URL.*POPULACE_LLM_URL"),
        ({"model": None}, "No LLM model name.*POPULACE_LLM_MODEL"),
        ({"endpoint": "embeddings"}, "endpoint must be one of"),
        ({"scoring": "vibes"}, "scoring must be one of"),
        ({"samples": 0}, "samples must be a whole number >= 1"),
    ],
)
def test_bad_settings_give_specific_errors(monkeypatch, kwargs, message):
    monkeypatch.delenv("POPULACE_LLM_URL", raising=False)
    monkeypatch.delenv("POPULACE_LLM_MODEL", raising=False)
    with pytest.raises(ValueError, match=message):
        OpenAIModel(**{"url": "http://127.0.0.1:1/v1", "model": "m", **kwargs})
