"""Free-text completions: records, the scripted backend through make_model's stack (cache, budget, dry run), the
OpenAI-compatible backend against the local server (conftest.py), the CLI, and greedy embedded text."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from populace.cli import main
from populace.llm import (
    AnswerCache,
    Budget,
    BudgetExceeded,
    CachedModel,
    Completion,
    LanguageModel,
    LLMError,
    Query,
    ScriptedModel,
    TextModel,
    TextQuery,
    cache_key,
    completion_key,
    make_model,
    require_text_model,
)
from populace.llm.openai import OpenAIModel
from populace.llm.usage import DRY_RUN_TEXT

TEXTS = {
    "Describe your donation strategy.": "I give half of what I have to those who gave before.",
    "Write a post about the harvest.": "The lake is low; take less this month.",
    "Say hello.": "Hello there, friend.",
}


def text_queries(*prompts: str, **kwargs) -> list[TextQuery]:
    return [TextQuery(p, **kwargs) for p in prompts or TEXTS]


def scripted_stack(tmp_path, **kwargs):
    return make_model("scripted", texts=TEXTS, cache=tmp_path / "a.sqlite", **kwargs)


# -- records -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": " "}, "prompt must be a non-empty string"),
        ({"max_tokens": 0}, "max_tokens must be a whole number from 1 to 4096"),
        ({"max_tokens": 4097}, "max_tokens must be a whole number from 1 to 4096"),
        ({"max_tokens": 8.0}, "max_tokens must be a whole number"),
        ({"max_tokens": True}, "max_tokens must be a whole number"),
        ({"stop": "\n"}, "stop must be a tuple of strings"),
        ({"stop": ("",)}, "at most 4 non-empty strings"),
        ({"stop": ("a", "b", "c", "d", "e")}, "at most 4 non-empty strings"),
        ({"template_version": 2}, "template_version must be a string"),
    ],
)
def test_bad_text_queries_give_specific_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextQuery(**{"prompt": "Say hello.", **kwargs})


def test_text_query_defaults_and_stop_becomes_a_tuple():
    q = TextQuery("Say hello.", stop=["\n", "."])
    assert (q.max_tokens, q.stop, q.template_version) == (64, ("\n", "."), "")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": None}, "text must be a string"),
        ({"prompt_tokens": -1}, "prompt_tokens must be a whole number >= 0"),
        ({"completion_tokens": 1.5}, "completion_tokens must be a whole number >= 0"),
        ({"finished": 1}, "finished and cached must be booleans"),
    ],
)
def test_bad_completions_give_specific_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Completion(**{"text": "Hi.", "prompt_tokens": 2, "completion_tokens": 1, **kwargs})


# -- scripted ----------------------------------------------------------------------------------------------------


def test_scripted_texts_are_cut_at_stop_strings_and_max_tokens():
    model = ScriptedModel(texts=TEXTS)
    assert isinstance(model, TextModel)
    full, stopped, cut = model.complete([
        TextQuery("Say hello."),
        TextQuery("Say hello.", stop=(",", "friend")),
        TextQuery("Describe your donation strategy.", max_tokens=3),
    ])
    assert full == Completion("Hello there, friend.", prompt_tokens=2, completion_tokens=3, finished=True)
    assert (stopped.text, stopped.completion_tokens, stopped.finished) == ("Hello there", 2, True)
    assert (cut.text, cut.completion_tokens, cut.finished) == ("I give half", 3, False)
    assert (model.calls, model.queries) == (1, 3)


def test_scripted_completion_errors_name_the_fix():
    with pytest.raises(KeyError, match=r"no text for prompt 'Go out\.'.*Known prompts \(3\)"):
        ScriptedModel(texts=TEXTS).complete([TextQuery("Go out.")])
    with pytest.raises(TypeError, match="has no texts: build it with texts="):
        ScriptedModel(lambda q: (0.5, 0.5)).complete([TextQuery("Say hello.")])
    with pytest.raises(TypeError, match="has no answers: build it with answers="):
        ScriptedModel(texts=TEXTS).answer([Query("Stay home?", ("yes", "no"))])
    with pytest.raises(TypeError, match="texts= needs a mapping prompt -> text"):
        ScriptedModel(texts=["Hello"])


class AnswersOnly:
    """A backend written before completions existed: answer() only."""

    backend, model = "test", "answers-only"

    def settings(self):
        return {}

    def answer(self, queries):
        return ScriptedModel(lambda q: (1.0, 0.0)).answer(queries)


def test_a_backend_without_complete_still_answers_and_refuses_text_clearly(tmp_path):
    old = AnswersOnly()
    assert isinstance(old, LanguageModel)
    assert not isinstance(old, TextModel)
    model = CachedModel(old, AnswerCache(tmp_path / "a.sqlite"))
    assert model.answer([Query("Stay home?", ("yes", "no"))])[0].probabilities == (1.0, 0.0)
    refusal = r"AnswersOnly \(backend 'test', model 'answers-only'\) cannot generate text.*give it complete\("
    with pytest.raises(TypeError, match=refusal):
        require_text_model(model)
    with pytest.raises(TypeError, match="cannot generate text"):
        model.complete([TextQuery("Say hello.")])
    require_text_model(scripted_stack(tmp_path))  # every built-in backend, through the whole stack


# -- through make_model: cache, budget, dry run ------------------------------------------------------------------


def test_second_call_is_served_from_the_cache(tmp_path):
    model = scripted_stack(tmp_path)
    first = model.complete(text_queries())
    assert not any(c.cached for c in first)
    assert first[2].text == "Hello there, friend."
    again = scripted_stack(tmp_path)  # a new run on the same file
    second = again.complete(text_queries())
    assert again.inner.inner.calls == 0
    assert all(c.cached for c in second)
    assert [replace(c, cached=False) for c in second] == first
    u = again.usage
    assert (u.calls, u.prompts, u.cache_hits, u.tokens) == (0, 3, 3, 0)
    assert model.usage.calls == 3
    assert model.usage.prompt_tokens == 4 + 6 + 2  # scripted: a token a word
    assert model.usage.completion_tokens == 12 + 8 + 3


def test_repeated_prompt_in_a_batch_is_asked_once(tmp_path):
    model = scripted_stack(tmp_path)
    q = TextQuery("Say hello.")
    got = model.complete([q, q, q])
    assert model.inner.inner.queries == 1
    assert [c.cached for c in got] == [False, True, True]
    assert {c.text for c in got} == {"Hello there, friend."}
    assert (model.usage.calls, model.usage.cache_hits) == (1, 2)


def test_answers_and_completions_of_one_prompt_never_collide(tmp_path):
    prompt = "Say hello."
    model = make_model("scripted", answers=lambda q: (0.3, 0.7), texts=TEXTS, cache=tmp_path / "a.sqlite")
    (answer,) = model.answer([Query(prompt, ("yes", "no"))])
    (text,) = model.complete([TextQuery(prompt)])
    assert not text.cached  # the answer did not serve the completion
    assert not answer.cached
    assert text.text == "Hello there, friend."
    assert (model.answer([Query(prompt, ("yes", "no"))])[0].probabilities, model.complete([TextQuery(prompt)])[0].text
            ) == (answer.probabilities, text.text)
    stats = model.cache.stats()
    assert (stats["entries"], stats["completions"]) == (1, 1)
    q = TextQuery(prompt, max_tokens=8, stop=("\n",))
    keys = {completion_key("scripted", "scripted", q, {}),
            cache_key("scripted", "scripted", Query(prompt, ("a", "b")), {}),
            completion_key("scripted", "scripted", replace(q, max_tokens=9), {}),
            completion_key("scripted", "scripted", replace(q, stop=()), {}),
            completion_key("scripted", "scripted", replace(q, template_version="post@2"), {})}
    assert len(keys) == 5
    assert model.cache.clear() == 2


def test_call_budget_stops_with_the_completions_obtained_and_a_rerun_resumes(tmp_path):
    model = scripted_stack(tmp_path, budget=Budget(max_calls=2))
    with pytest.raises(BudgetExceeded, match="1 prompts unanswered") as stop:
        model.complete(text_queries())
    got = stop.value.completions
    assert [c is not None for c in got] == [True, True, False]
    assert got[0].text == TEXTS["Describe your donation strategy."]
    assert model.cache.stats()["completions"] == 2
    resumed = scripted_stack(tmp_path, budget=Budget(max_calls=1))
    assert [c.cached for c in resumed.complete(text_queries())] == [True, True, False]


def test_token_budget_counts_completions_and_answers_together(tmp_path):
    model = make_model("scripted", answers=lambda q: (0.5, 0.5), texts=TEXTS, cache=tmp_path / "a.sqlite",
                       budget=Budget(max_tokens=10))
    model.answer([Query("Stay home this week?", ("yes", "no"))])  # 4 + 1 tokens
    model.complete(text_queries("Say hello."))  # 2 + 3: now 10, the budget
    with pytest.raises(BudgetExceeded, match="max_tokens=10"):
        model.complete(text_queries("Write a post about the harvest."))


def test_dry_run_completes_without_asking_or_storing(tmp_path):
    cache = AnswerCache(tmp_path / "a.sqlite")
    make_model("scripted", texts=TEXTS, cache=cache).complete(text_queries("Say hello.", max_tokens=20))  # cached

    def never(query):
        raise AssertionError("a dry run asked the model")

    dry = make_model("scripted", texts=never, cache=cache, dry_run=True, price_per_completion_token=1.0)
    got = dry.complete(text_queries("Say hello.", "Write a post about the harvest.", max_tokens=20))
    assert (got[0].text, got[0].cached) == ("Hello there, friend.", True)
    assert (got[1].text, got[1].cached, got[1].finished) == (DRY_RUN_TEXT, False, False)
    estimate = math.ceil(len("Write a post about the harvest.") / 4)  # ~4 characters a token; max_tokens written
    assert (got[1].prompt_tokens, got[1].completion_tokens) == (estimate, 20)
    assert cache.stats()["completions"] == 1  # nothing stored
    assert (dry.usage.calls, dry.usage.cache_hits, dry.usage.completion_tokens) == (1, 1, 20)
    assert dry.inner.inner.cost == pytest.approx(20.0)


# -- OpenAI-compatible server ------------------------------------------------------------------------------------


def make(server, **kwargs) -> OpenAIModel:
    defaults = {"url": server.url, "model": "test-model", "backoff_s": 0.001, "max_retries": 3, "timeout_s": 5.0}
    return OpenAIModel(**{**defaults, **kwargs})


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_openai_completion_is_greedy_with_limits_and_usage(server, endpoint):
    server.script = ["500"]  # retried as answers are
    (c,) = make(server, endpoint=endpoint).complete([TextQuery("Say hello.", max_tokens=12, stop=("\n",))])
    assert c == Completion("Yes.", prompt_tokens=11, completion_tokens=3, finished=True)  # the server's first sample
    assert len(server.requests) == 2
    body = server.requests[-1]
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.0, 12, ["\n"])
    assert "logprobs" not in body
    if endpoint == "chat":
        assert body["messages"][-1] == {"role": "user", "content": "Say hello."}
    else:
        assert body["prompt"] == "Say hello."
    server.finish_reason = "length"
    (cut,) = make(server, endpoint=endpoint).complete([TextQuery("Say hello.")])
    assert not cut.finished
    assert "stop" not in server.requests[-1]


def test_openai_failure_mid_batch_keeps_the_completions_obtained(server, tmp_path):
    server.fail_prompts = {"p2"}
    cache = AnswerCache(tmp_path / "a.sqlite")
    queries = [TextQuery(f"p{i}") for i in range(4)]
    with pytest.raises(LLMError, match="did not answer") as failure:
        CachedModel(make(server, max_retries=1, max_concurrency=1), cache).complete(queries)
    assert [c is not None for c in failure.value.completions] == [True, True, False, False]
    assert cache.stats()["completions"] == 2
    server.fail_prompts = set()
    server.requests.clear()
    again = CachedModel(make(server), cache).complete(queries)
    assert sorted(r["messages"][-1]["content"] for r in server.requests) == ["p2", "p3"]
    assert [c.cached for c in again] == [True, True, False, False]


# -- command line ------------------------------------------------------------------------------------------------


def test_cli_complete_scripted_then_cached(capsys, tmp_path):
    args = ["llm", "complete", "Describe your strategy.", "--backend", "scripted", "--text", "Give, then mirror.",
            "--max-tokens", "2", "--cache-path", str(tmp_path / "a.sqlite"), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert {k: first[k] for k in ("text", "prompt_tokens", "completion_tokens", "finished", "cached")} == {
        "text": "Give, then", "prompt_tokens": 3, "completion_tokens": 2, "finished": False, "cached": False}
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True
    assert main(["llm", "complete", "Say hello.", "--backend", "scripted", "--no-cache", "--stop", ","]) == 0
    out = capsys.readouterr()
    assert out.out == "A scripted text.\n"
    assert "scripted scripted: 2 prompt + 3 completion tokens, finished, not cached" in out.err
    assert main(["llm", "complete", "Say hello.", "--backend", "scripted", "--max-tokens", "0"]) == 2
    assert "max_tokens must be a whole number from 1 to 4096" in capsys.readouterr().err


# -- embedded ----------------------------------------------------------------------------------------------------


def test_embedded_greedy_completion_is_deterministic_and_batch_independent(embedded_model):
    queries = [TextQuery("What is the capital of France? Answer in one word.", max_tokens=12),
               TextQuery("Count from 1 to 10, separated by commas.", max_tokens=20, stop=("5",))]
    paris, count = embedded_model.complete(queries)
    assert "Paris" in paris.text
    assert paris.finished  # ended by itself: the end-of-turn token counts as generated
    assert 0 < paris.completion_tokens < 12
    assert paris.prompt_tokens > 10  # the chat template's system turn
    assert count.finished  # at the stop string, cut before it
    assert count.text.startswith("1, 2, 3")
    assert "5" not in count.text
    assert embedded_model.complete(queries[:1]) == [paris]  # again, and alone in its batch: the same text
    (short,) = embedded_model.complete([replace(queries[1], max_tokens=3, stop=())])
    assert (short.completion_tokens, short.finished) == (3, False)
