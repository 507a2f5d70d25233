"""Usage accounting, budgets and dry runs, through make_model's stack (meter under the cache)."""

from __future__ import annotations

import math

import pytest

from populace.llm import AnswerCache, Budget, BudgetExceeded, LLMError, Query, Usage, make_model

YES_NO = ("yes", "no")


def weights(query: Query) -> tuple[float, float]:
    return (0.25, 0.75)


def queries(n: int, start: int = 0) -> list[Query]:
    return [Query(f"Archetype {i} sees 3 cases: stay home?", YES_NO, "isolate@1") for i in range(start, start + n)]


def test_usage_counts_calls_tokens_and_cache_hits(tmp_path):
    model = make_model("scripted", answers=weights, cache=tmp_path / "a.sqlite")
    model.answer(queries(5))
    model.answer(queries(5, start=3))  # 2 hits (3, 4), 3 misses
    u = model.usage
    assert (u.calls, u.prompts, u.cache_hits, u.batches) == (8, 10, 2, 2)
    assert u.prompt_tokens == 8 * 7  # scripted: one token per word, 7 words per prompt
    assert u.completion_tokens == 8
    assert u.tokens == 64
    assert u.cost(0.001, 0.01) == pytest.approx(56 * 0.001 + 8 * 0.01)
    step = u.copy()
    model.answer(queries(2))
    assert (u - step).as_dict() == {**Usage().as_dict(), "prompts": 2, "cache_hits": 2}


def test_call_budget_stops_cleanly_and_a_rerun_resumes_from_the_cache(tmp_path):
    cache = AnswerCache(tmp_path / "a.sqlite")
    model = make_model("scripted", answers=weights, cache=cache, budget=Budget(max_calls=3))
    with pytest.raises(BudgetExceeded, match=r"budget reached.*2 prompts unanswered.*cached") as stop:
        model.answer(queries(5))
    assert isinstance(stop.value, LLMError)
    assert len(cache) == 3
    assert model.usage.calls == 3
    resumed = make_model("scripted", answers=weights, cache=cache, budget=Budget(max_calls=2))
    answers = resumed.answer(queries(5))
    assert [a.cached for a in answers] == [True, True, True, False, False]
    assert resumed.usage.calls == 2


def test_token_budget_stops_before_the_next_call(tmp_path):
    cache = AnswerCache(tmp_path / "a.sqlite")
    model = make_model("scripted", answers=weights, cache=cache, budget=Budget(max_tokens=20))
    model.answer(queries(2))  # 2 x (7 + 1) = 16 tokens
    model.answer(queries(1, start=2))  # 16 < 20: allowed, now 24
    with pytest.raises(BudgetExceeded, match="max_tokens=20"):
        model.answer(queries(1, start=3))
    assert len(cache) == 3


def test_dry_run_counts_and_prices_without_calling_or_caching(tmp_path):
    cache = AnswerCache(tmp_path / "a.sqlite")
    make_model("scripted", answers=weights, cache=cache).answer(queries(2))  # 2 already cached
    dry = make_model("scripted", answers=weights, cache=cache, dry_run=True,
                     price_per_prompt_token=2.0, price_per_completion_token=5.0)
    answers = dry.answer(queries(5))
    assert len(cache) == 2  # dry-run answers are never stored
    assert [a.cached for a in answers] == [True, True, False, False, False]
    fresh = answers[2:]
    assert all(a.probabilities == (0.5, 0.5) and a.option_mass == 0.0 for a in fresh)  # uniform: nothing asked
    tokens = math.ceil(len(queries(1)[0].prompt) / 4)  # the estimate: ~4 characters per token
    assert [a.prompt_tokens for a in fresh] == [tokens] * 3
    assert (dry.usage.calls, dry.usage.cache_hits, dry.usage.prompt_tokens) == (3, 2, 3 * tokens)
    dry_inner = dry.inner.inner
    assert dry_inner.cost == pytest.approx(3 * tokens * 2.0 + 3 * 5.0)


def test_bad_budget_and_backend_give_specific_errors():
    with pytest.raises(ValueError, match="max_calls must be a whole number"):
        Budget(max_calls=-1)
    with pytest.raises(ValueError, match="max_tokens must be a whole number"):
        Budget(max_tokens=1.5)
    with pytest.raises(ValueError, match=r"Unknown LLM backend 'gpt'.*embedded, openai, scripted"):
        make_model("gpt")
    with pytest.raises(ValueError, match="scripted backend needs answers="):
        make_model("scripted", cache=False)
