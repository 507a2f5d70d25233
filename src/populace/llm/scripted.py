"""A deterministic language model for tests: answers come from a table or a function.

Token counts follow a simple rule so tests can check accounting: a prompt costs one token per
whitespace-separated word (``len(prompt.split())``), and each answer costs one completion token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from populace.core.errors import InputError
from populace.llm.protocol import Answer, Query, normalize


class ScriptedModel:
    """Answer each query from ``answers``: a mapping prompt -> option weights, or a function query -> weights.

    Weights are one non-negative number per option (in the query's order). They are normalized to
    probabilities; when they sum to less than 1, the sum is reported as ``option_mass`` (the rest is "mass that
    fell elsewhere"), so a script can imitate an unsure model. Weights summing to more than 1 are an error.

    Attributes:
        calls: number of ``answer()`` calls made.
        queries: number of queries answered over all calls.
        asked: every query answered, in order.
    """

    backend = "scripted"

    def __init__(
        self,
        answers: Mapping[str, Sequence[float]] | Callable[[Query], Sequence[float]],
        *,
        model: str = "scripted",
    ):
        if not (callable(answers) or isinstance(answers, Mapping)):
            raise TypeError(
                f"ScriptedModel needs a mapping prompt -> option weights or a function query -> weights, "
                f"got {type(answers).__name__}."
            )
        self.answers = answers
        self.model = model
        self.calls = 0
        self.queries = 0
        self.asked: list[Query] = []

    def settings(self) -> Mapping[str, object]:
        return {}

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        self.calls += 1
        out = [self._answer_one(query) for query in queries]
        self.queries += len(queries)
        self.asked.extend(queries)
        return out

    def _answer_one(self, query: Query) -> Answer:
        if callable(self.answers):
            weights = self.answers(query)
        else:
            try:
                weights = self.answers[query.prompt]
            except KeyError:
                known = ", ".join(repr(p[:60]) for p in list(self.answers)[:5])
                raise KeyError(
                    f"ScriptedModel has no answer for prompt {query.prompt[:80]!r}. Known prompts "
                    f"({len(self.answers)}): {known}. Add it to the table or pass a function instead."
                ) from None
        weights = [float(w) for w in weights]
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
