"""The language-model protocol: a batch of queries in, one answer per query out.

A :class:`Query` is a rendered prompt with the options it may be answered by; an :class:`Answer` holds one
probability per option (they sum to 1), the share of the model's probability that fell on the options at all,
and token counts. Every backend (embedded, OpenAI-compatible server, scripted, cached, budgeted, dry run)
implements :class:`LanguageModel`, so wrappers compose: ``CachedModel(BudgetedModel(OpenAIModel(...)), cache)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class LLMError(RuntimeError):
    """A language-model backend failed (server down, malformed reply, model file missing, budget spent).

    ``answers``, when given, holds what was obtained before the failure: one entry per query of the failed
    ``answer()`` call, an :class:`Answer` or None. The answer cache stores these before re-raising, so a rerun
    resumes where the failed run stopped.
    """

    def __init__(self, message: str, *, answers: Sequence[Answer | None] | None = None):
        super().__init__(message)
        self.answers: list[Answer | None] = list(answers) if answers is not None else []


@dataclass(frozen=True)
class Query:
    """A rendered prompt and the answers it allows.

    Attributes:
        prompt: the rendered prompt text.
        options: allowed answers, e.g. ``("yes", "no")``: at least 2, distinct (ignoring case and surrounding
            whitespace), non-empty.
        template_version: names the template that rendered the prompt (e.g. ``"isolate@1"``); part of the
            cache key, so changing a template's wording and bumping its version never reuses old answers.
    """

    prompt: str
    options: tuple[str, ...]
    template_version: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValueError(f"Query.prompt must be a non-empty string, got {self.prompt!r}.")
        if isinstance(self.options, str) or not isinstance(self.options, Sequence):
            raise ValueError(f"Query.options must be a tuple of strings such as ('yes', 'no'), got {self.options!r}.")
        options = tuple(self.options)
        object.__setattr__(self, "options", options)
        if len(options) < 2:
            raise ValueError(f"Query.options needs at least 2 answers, got {options!r}. Give e.g. ('yes', 'no').")
        for option in options:
            if not isinstance(option, str) or not option.strip():
                raise ValueError(f"Query.options must be non-empty strings, got {option!r} in {options!r}.")
        normalized = [o.strip().lower() for o in options]
        if len(set(normalized)) != len(normalized):
            raise ValueError(f"Query.options must be distinct (ignoring case and spaces), got {options!r}.")
        if not isinstance(self.template_version, str):
            raise ValueError(f"Query.template_version must be a string, got {self.template_version!r}.")


@dataclass(frozen=True)
class Answer:
    """A model's answer to one :class:`Query`.

    Attributes:
        probabilities: one per option, in the query's order, summing to 1.
        option_mass: share of the next-token probability that fell on the options (for sampled answers: the
            share of samples that parsed to an option); low values mean the model mostly wanted to say
            something else, so the probabilities are less trustworthy.
        prompt_tokens, completion_tokens: tokens read and generated.
        texts: generated texts, where the backend generated any.
        unparsed: sampled answers that matched no option.
        cached: True when served from the answer cache (no model call).
    """

    probabilities: tuple[float, ...]
    option_mass: float
    prompt_tokens: int
    completion_tokens: int
    texts: tuple[str, ...] = ()
    unparsed: int = 0
    cached: bool = False

    def __post_init__(self) -> None:
        probabilities = tuple(float(p) for p in self.probabilities)
        object.__setattr__(self, "probabilities", probabilities)
        object.__setattr__(self, "texts", tuple(self.texts))
        if not probabilities or any(not (p >= 0.0) or not math.isfinite(p) for p in probabilities):
            raise ValueError(f"Answer.probabilities must be finite and >= 0, got {probabilities!r}.")
        if abs(sum(probabilities) - 1.0) > 1e-6:
            raise ValueError(f"Answer.probabilities must sum to 1, got {probabilities!r} (sum {sum(probabilities)}).")
        if not (0.0 <= self.option_mass <= 1.0 + 1e-9):
            raise ValueError(f"Answer.option_mass must lie in [0, 1], got {self.option_mass!r}.")
        if self.prompt_tokens < 0 or self.completion_tokens < 0 or self.unparsed < 0:
            raise ValueError(
                f"Answer token counts and unparsed must be >= 0, got prompt_tokens={self.prompt_tokens}, "
                f"completion_tokens={self.completion_tokens}, unparsed={self.unparsed}."
            )

    def probability(self, query: Query, option: str) -> float:
        """The probability of ``option`` (one of ``query.options``)."""
        try:
            return self.probabilities[query.options.index(option)]
        except ValueError:
            raise KeyError(f"{option!r} is not an option of this query (options: {query.options!r}).") from None


@runtime_checkable
class LanguageModel(Protocol):
    """Anything that answers a batch of queries.

    Attributes:
        backend: ``"embedded"``, ``"openai"``, ``"scripted"``, ...
        model: the model name.
    """

    backend: str
    model: str

    def settings(self) -> Mapping[str, object]:
        """Sampling settings that change answers (part of the cache key); never secrets."""
        ...

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        """One :class:`Answer` per query, in the same order."""
        ...


def normalize(weights: Sequence[float]) -> tuple[tuple[float, ...], float]:
    """Normalize non-negative option weights: (probabilities summing to 1, total mass before normalizing).

    When every weight is zero, the probabilities are uniform and the mass is 0.
    """
    total = float(sum(weights))
    if total <= 0.0 or not math.isfinite(total):
        return tuple(1.0 / len(weights) for _ in weights), 0.0
    return tuple(float(w) / total for w in weights), total


class WrappedModel:
    """Base of the models that wrap another (`CachedModel`, `MeteredModel`): the same backend, model name and
    settings as `inner`, so wrapping never changes a cache key."""

    inner: LanguageModel

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def model(self) -> str:
        return self.inner.model

    def settings(self) -> Mapping[str, object]:
        return self.inner.settings()
