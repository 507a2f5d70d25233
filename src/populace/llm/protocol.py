"""The language-model protocol: a batch of queries in, one answer (or one text) per query out.

``answer``: a :class:`Query` is a rendered prompt with the options it may be answered by; an :class:`Answer`
holds one probability per option (they sum to 1), the share of the model's probability that fell on the options
at all, and token counts. Every backend (embedded, OpenAI-compatible server, scripted, cached, metered, dry run)
implements :class:`LanguageModel`, so wrappers compose: ``CachedModel(MeteredModel(OpenAIModel(...)), cache)``.

``complete``: a :class:`TextQuery` is a prompt with a token limit and stop strings; a :class:`Completion` is the
text generated for it greedily (temperature 0, so a prompt always gets the same text), cut before the first stop
string, with token counts and whether it ended by itself (``finished``) or ran into ``max_tokens``. A model that
generates text implements :class:`TextModel` (``answer`` and ``complete``); every backend of Populace does, and
the wrappers pass ``complete`` on. :func:`require_text_model` checks a model (and what it wraps) up front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class LLMError(RuntimeError):
    """A language-model backend failed (server down, malformed reply, model file missing, budget spent).

    ``answers``, when given, holds what was obtained before the failure: one entry per query of the failed
    ``answer()`` call, an :class:`Answer` or None; ``completions`` the same for a failed ``complete()`` call.
    The answer cache stores these before re-raising, so a rerun resumes where the failed run stopped.
    """

    def __init__(self, message: str, *, answers: Sequence[Answer | None] | None = None,
                 completions: Sequence[Completion | None] | None = None):
        super().__init__(message)
        self.answers: list[Answer | None] = list(answers) if answers is not None else []
        self.completions: list[Completion | None] = list(completions) if completions is not None else []


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


MAX_COMPLETION_TOKENS = 4096
MAX_STOP_STRINGS = 4  # the OpenAI API's limit


@dataclass(frozen=True)
class TextQuery:
    """A rendered prompt to continue with free text.

    Attributes:
        prompt: the rendered prompt text (non-empty).
        max_tokens: at most this many tokens are generated, 1 to 4096.
        stop: up to 4 non-empty strings; the text ends before the first of them (which is not part of it).
        template_version: names the template that rendered the prompt; part of the cache key (see :class:`Query`).
    """

    prompt: str
    max_tokens: int = 64
    stop: tuple[str, ...] = ()
    template_version: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValueError(f"TextQuery.prompt must be a non-empty string, got {self.prompt!r}.")
        if (isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int)
                or not 1 <= self.max_tokens <= MAX_COMPLETION_TOKENS):
            raise ValueError(f"TextQuery.max_tokens must be a whole number from 1 to {MAX_COMPLETION_TOKENS}, "
                             f"got {self.max_tokens!r}.")
        if isinstance(self.stop, str) or not isinstance(self.stop, Sequence):
            raise ValueError(f"TextQuery.stop must be a tuple of strings such as ('\\n',), got {self.stop!r}.")
        stop = tuple(self.stop)
        object.__setattr__(self, "stop", stop)
        if len(stop) > MAX_STOP_STRINGS or any(not isinstance(s, str) or not s for s in stop):
            raise ValueError(f"TextQuery.stop must hold at most {MAX_STOP_STRINGS} non-empty strings, got {stop!r}.")
        if not isinstance(self.template_version, str):
            raise ValueError(f"TextQuery.template_version must be a string, got {self.template_version!r}.")


@dataclass(frozen=True)
class Completion:
    """A model's text for one :class:`TextQuery`.

    Attributes:
        text: the generated text, without the prompt and cut before the first stop string.
        prompt_tokens, completion_tokens: tokens read and generated (the end-of-text token and the tokens of a
            stop string count as generated).
        finished: True when the text ended by itself (end of text or a stop string), False when it ran into
            ``max_tokens``.
        cached: True when served from the answer cache (no model call).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finished: bool = True
    cached: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"Completion.text must be a string, got {type(self.text).__name__}.")
        for name in ("prompt_tokens", "completion_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Completion.{name} must be a whole number >= 0, got {value!r}.")
        if not isinstance(self.finished, bool) or not isinstance(self.cached, bool):
            raise ValueError(f"Completion.finished and cached must be booleans, got {self.finished!r}, "
                             f"{self.cached!r}.")


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to (not including) the earliest occurrence of any stop string, and whether one occurred."""
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


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


@runtime_checkable
class TextModel(LanguageModel, Protocol):
    """A :class:`LanguageModel` that also writes free text."""

    def complete(self, queries: Sequence[TextQuery]) -> list[Completion]:
        """One :class:`Completion` per query, in the same order: greedy (deterministic) text for each prompt."""
        ...


def require_text_model(model: LanguageModel) -> None:
    """Raise ``TypeError`` unless ``model`` and every model it wraps (``.inner``) can ``complete()``."""
    while model is not None:
        if not callable(getattr(model, "complete", None)):
            raise TypeError(
                f"{type(model).__name__} (backend {getattr(model, 'backend', '?')!r}, model "
                f"{getattr(model, 'model', '?')!r}) cannot generate text: it has answer() but no complete(). Use a "
                f"backend that writes text (embedded, openai, scripted with texts=), or give it "
                f"complete(queries: Sequence[TextQuery]) -> list[Completion]."
            )
        model = getattr(model, "inner", None)


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
    settings as `inner`, so wrapping never changes a cache key. ``complete`` works when `inner` has it
    (:func:`require_text_model`)."""

    inner: LanguageModel

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def model(self) -> str:
        return self.inner.model

    def settings(self) -> Mapping[str, object]:
        return self.inner.settings()

    def _inner_complete(self, queries: Sequence[TextQuery]) -> list[Completion]:
        require_text_model(self.inner)
        return self.inner.complete(queries)  # type: ignore[attr-defined]
