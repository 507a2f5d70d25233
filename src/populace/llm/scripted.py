"""A deterministic language model for tests: answers and texts come from a table or a function.

Token counts follow a simple rule so tests can check accounting: a prompt costs one token per
whitespace-separated word (``len(prompt.split())``), and each answer costs one completion token. A completion is
the scripted text cut before the first stop string, then to its first ``max_tokens`` words (``finished`` False
when words were cut off); it costs one token per word of that text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from populace.core.errors import InputError
from populace.llm.protocol import Answer, Completion, Query, TextQuery, cut_at_stop, normalize


class ScriptedModel:
    """Answer each query from ``answers``: a mapping prompt -> option weights, or a function query -> weights;
    complete each text query from ``texts``: a mapping prompt -> text, or a function text query -> text.

    Weights are one non-negative number per option (in the query's order). They are normalized to
    probabilities; when they sum to less than 1, the sum is reported as ``option_mass`` (the rest is "mass that
    fell elsewhere"), so a script can imitate an unsure model. Weights summing to more than 1 are an error.

    Either may be left out (None): the model then refuses that kind of query with a ``TypeError``.

    Attributes:
        calls: number of ``answer()`` and ``complete()`` calls made.
        queries: number of queries answered or completed over all calls.
        asked: every query answered or completed, in order.
    """

    backend = "scripted"

    def __init__(
        self,
        answers: Mapping[str, Sequence[float]] | Callable[[Query], Sequence[float]] | None = None,
        *,
        texts: Mapping[str, str] | Callable[[TextQuery], str] | None = None,
        model: str = "scripted",
    ):
        if answers is not None and not (callable(answers) or isinstance(answers, Mapping)):
            raise TypeError(
                f"ScriptedModel needs a mapping prompt -> option weights or a function query -> weights, "
                f"got {type(answers).__name__}."
            )
        if texts is not None and not (callable(texts) or isinstance(texts, Mapping)):
            raise TypeError(
                f"ScriptedModel texts= needs a mapping prompt -> text or a function text query -> text, "
                f"got {type(texts).__name__}."
            )
        self.answers = answers
        self.texts = texts
        self.model = model
        self.calls = 0
        self.queries = 0
        self.asked: list[Query | TextQuery] = []

    def settings(self) -> Mapping[str, object]:
        return {}

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        if self.answers is None:
            raise TypeError("This ScriptedModel has no answers: build it with answers= (option weights per prompt).")
        self.calls += 1
        out = [self._answer_one(query) for query in queries]
        self.queries += len(queries)
        self.asked.extend(queries)
        return out

    def complete(self, queries: Sequence[TextQuery]) -> list[Completion]:
        if self.texts is None:
            raise TypeError("This ScriptedModel has no texts: build it with texts= (a text per prompt, or a "
                            "function text query -> text) to use complete().")
        self.calls += 1
        out = [self._complete_one(query) for query in queries]
        self.queries += len(queries)
        self.asked.extend(queries)
        return out

    def _complete_one(self, query: TextQuery) -> Completion:
        text = _lookup(self.texts, query, "text")
        if not isinstance(text, str):
            raise InputError(f"ScriptedModel text for {query.prompt[:60]!r} must be a string, got {text!r}.")
        text = cut_at_stop(text, query.stop)[0]
        words = text.split()
        cut = len(words) > query.max_tokens
        if cut:
            text = " ".join(words[: query.max_tokens])
        return Completion(text, prompt_tokens=len(query.prompt.split()),
                          completion_tokens=min(len(words), query.max_tokens), finished=not cut)

    def _answer_one(self, query: Query) -> Answer:
        weights = [float(w) for w in _lookup(self.answers, query, "answer")]
        if len(weights) != len(query.options):
            raise InputError(
                f"ScriptedModel answer for {query.prompt[:60]!r} has {len(weights)} weights, but the query has "
                f"{len(query.options)} options {query.options!r}: give one weight per option."
            )
        if any(not (w >= 0) for w in weights) or sum(weights) > 1 + 1e-9:
            raise InputError(
                f"ScriptedModel weights must be >= 0 and sum to at most 1, got {weights} for {query.prompt[:60]!r}."
            )
        probabilities, mass = normalize(weights)
        return Answer(probabilities, min(mass, 1.0), prompt_tokens=len(query.prompt.split()), completion_tokens=1)

    def __repr__(self) -> str:
        return f"ScriptedModel(model={self.model!r}, calls={self.calls}, queries={self.queries})"


def _lookup(script, query: Query | TextQuery, what: str):
    """``script(query)`` for a function, else ``script[query.prompt]``, with a clear error for a missing prompt."""
    if callable(script):
        return script(query)
    try:
        return script[query.prompt]
    except KeyError:
        known = ", ".join(repr(p[:60]) for p in list(script)[:5])
        raise KeyError(
            f"ScriptedModel has no {what} for prompt {query.prompt[:80]!r}. Known prompts "
            f"({len(script)}): {known}. Add it to the table or pass a function instead."
        ) from None
