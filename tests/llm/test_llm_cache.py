"""The SQLite answer cache and CachedModel: hits, keys, partial failures, parallel writers."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace

import pytest

from populace.llm import AnswerCache, CachedModel, LLMError, Query, ScriptedModel, cache_key
from populace.llm.cache import default_cache_path


def weights(query: Query) -> tuple[float, float]:
    """A deterministic answer that differs per prompt: p(yes) = (len(prompt) % 10) / 10."""
    p = (len(query.prompt) % 10) / 10
    return (p, 1 - p)


def test_second_run_is_all_hits_with_zero_model_calls(tmp_path):
    queries = [Query(f"Archetype {i}: stay home?", ("yes", "no"), "isolate@1") for i in range(20)]
    inner = ScriptedModel(weights)
    model = CachedModel(inner, AnswerCache(tmp_path / "a.sqlite"))
    first = model.answer(queries)
    assert (inner.calls, inner.queries) == (1, 20)
    assert not any(a.cached for a in first)
    again = CachedModel(ScriptedModel(weights), AnswerCache(tmp_path / "a.sqlite"))  # a new run, same file
    second = again.answer(queries)
    assert again.inner.calls == 0
    assert (again.hits, again.misses) == (20, 0)
    assert all(a.cached for a in second)
    assert [replace(a, cached=False) for a in second] == first


def test_repeated_prompt_in_one_batch_is_asked_once(tmp_path):
    inner = ScriptedModel(weights)
    q = Query("Stay home?", ("yes", "no"))
    answers = CachedModel(inner, AnswerCache(tmp_path / "a.sqlite")).answer([q, q, q])
    assert inner.queries == 1
    assert [a.cached for a in answers] == [False, True, True]
    assert answers[1].probabilities == answers[0].probabilities


def test_key_changes_with_every_field():
    q = Query("Stay home?", ("yes", "no"), "isolate@1")
    base = cache_key("openai", "m", q, {"temperature": 0.0})
    variants = [
        cache_key("embedded", "m", q, {"temperature": 0.0}),
        cache_key("openai", "m2", q, {"temperature": 0.0}),
        cache_key("openai", "m", replace(q, template_version="isolate@2"), {"temperature": 0.0}),
        cache_key("openai", "m", replace(q, prompt="Stay home? "), {"temperature": 0.0}),
        cache_key("openai", "m", replace(q, options=("no", "yes")), {"temperature": 0.0}),
        cache_key("openai", "m", q, {"temperature": 1.0}),
        cache_key("openai", "m", q, {}),
    ]
    assert len({base, *variants}) == 1 + len(variants)
    assert cache_key("openai", "m", q, {"a": 1, "b": 2}) == cache_key("openai", "m", q, {"b": 2, "a": 1})


class FailsHalfway:
    """Answers the first 2 queries of a call, then (while ``failing``) raises with those 2 answers attached."""

    backend, model = "test", "halfway"

    def __init__(self):
        self.failing = True
        self.scripted = ScriptedModel(weights)

    def settings(self):
        return {}

    def answer(self, queries):
        if not self.failing:
            return self.scripted.answer(queries)
        got = self.scripted.answer(queries[:2])
        raise LLMError("server went away", answers=[*got, *[None] * (len(queries) - 2)])


def test_partial_answers_of_a_failed_call_are_stored(tmp_path):
    cache = AnswerCache(tmp_path / "a.sqlite")
    queries = [Query(f"q{i}", ("yes", "no")) for i in range(5)]
    inner = FailsHalfway()
    with pytest.raises(LLMError, match="server went away"):
        CachedModel(inner, cache).answer(queries)
    assert len(cache) == 2
    inner.failing = False
    answers = CachedModel(inner, cache).answer(queries)  # the rerun resumes: asks only the 3 missing
    assert [a.cached for a in answers] == [True, True, False, False, False]
    assert inner.scripted.queries == 2 + 3


def test_stats_and_clear(tmp_path):
    cache = AnswerCache(tmp_path / "a.sqlite")
    CachedModel(ScriptedModel(weights), cache).answer([Query(f"q{i}", ("yes", "no")) for i in range(4)])
    CachedModel(ScriptedModel(weights, model="other"), cache).answer([Query("q0", ("yes", "no"))])
    stats = cache.stats()
    assert stats["entries"] == 5
    assert stats["bytes"] > 0
    assert stats["by_model"] == [{"backend": "scripted", "model": "scripted", "entries": 4},
                                 {"backend": "scripted", "model": "other", "entries": 1}]
    assert cache.clear() == 5
    assert len(cache) == 0


def test_default_path_follows_populace_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("POPULACE_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_path() == tmp_path / "c" / "llm-answers.sqlite"
    assert AnswerCache().path == tmp_path / "c" / "llm-answers.sqlite"


def test_bad_paths_give_specific_errors(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        AnswerCache(tmp_path)
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LLMError, match="Cannot open the answer cache"):
        AnswerCache(tmp_path / "junk.sqlite")


def _write_answers(path: str, start: int, barrier) -> None:
    barrier.wait()
    model = CachedModel(ScriptedModel(weights), AnswerCache(path), chunk_size=1)  # one commit per answer
    model.answer([Query(f"prompt {i}", ("yes", "no")) for i in range(start, start + 150)])


def test_two_processes_write_at_once(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    AnswerCache(path).close()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=_write_answers, args=(path, start, barrier)) for start in (0, 100)]  # overlap 50
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    cache = AnswerCache(path)
    assert len(cache) == 250
    inner = ScriptedModel(weights)
    answers = CachedModel(inner, cache).answer([Query(f"prompt {i}", ("yes", "no")) for i in range(250)])
    assert inner.calls == 0
    assert all(a.cached for a in answers)
    assert answers[123].probabilities == pytest.approx(weights(Query("prompt 123", ("yes", "no"))))


def test_answers_read_once_are_hits_from_memory_and_still_counted(tmp_path):
    from populace.llm import make_model

    path = tmp_path / "a.sqlite"
    model = make_model("scripted", cache=path, answers=weights)
    q = Query("Stay home?", ("yes", "no"), "isolate@1")
    first = model.answer([q])[0]
    AnswerCache(path).clear()  # the file forgets it (another process); this cache still holds what it stored
    again = model.answer([q])[0]
    assert again.cached
    assert again.probabilities == first.probabilities
    assert (model.usage.calls, model.usage.prompts, model.usage.cache_hits) == (1, 2, 1)
    model.cache.clear()  # this cache's own clear forgets the memory too: asked again
    model.answer([q])
    assert model.usage.calls == 2


def test_a_dry_run_stores_nothing_so_a_repeated_prompt_is_a_call_each_time(tmp_path):
    from populace.llm import make_model

    model = make_model("scripted", cache=tmp_path / "a.sqlite", answers=weights, dry_run=True)
    q = Query("Stay home?", ("yes", "no"), "isolate@1")
    model.answer([q])
    model.answer([q])
    assert (model.usage.calls, model.usage.cache_hits) == (2, 0)
