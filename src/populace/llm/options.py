"""Matching model output to a query's options: next-token strings (log-probabilities) and sampled texts."""

from __future__ import annotations

import re
from collections.abc import Sequence

_EDGE = re.compile(r"^[\s\"'`*_.,:;!?()\[\]<>-]+|[\s\"'`*_.,:;!?()\[\]<>-]+$")
_LEAD_IN = re.compile(r"^(?:answer|my answer|final answer|response)\s*(?:is)?\s*[:\-]?\s*", re.IGNORECASE)


def clean(text: str) -> str:
    """Lower-case ``text`` and strip surrounding whitespace, quotes, markdown and punctuation."""
    return _EDGE.sub("", text.strip().lower())


def match_token(token: str, options: Sequence[str]) -> int | None:
    """The index of the option that a next token starts, or None.

    A token starts an option when, cleaned (case, spaces, punctuation), it equals the option or is a prefix of
    it at least 2 characters long (``" Yes"`` and ``"yes"`` start "yes"; ``"N"`` starts nothing). An exact
    match wins ("no" is "no", not the start of "not sure"); a token that starts several options and equals none
    (``"ye"`` for "yes" and "yeah") is ambiguous and starts none.
    """
    t = clean(token)
    if not t:
        return None
    cleaned = [clean(o) for o in options]
    exact = [i for i, o in enumerate(cleaned) if t == o]
    hits = exact or [i for i, o in enumerate(cleaned) if len(t) >= 2 and o.startswith(t)]
    return hits[0] if len(hits) == 1 else None


def parse_answer(text: str, options: Sequence[str]) -> int | None:
    """The index of the option a generated answer gives, or None when it gives none or several.

    The answer's opening words decide ("Yes.", "no, I would not", "**Yes**", "Answer: no"); the longest option
    that opens the answer wins ("not sure" over "no"). Failing that, an option named as a whole word exactly
    once among all options ("I think yes") counts; an answer naming several options counts as none.
    """
    body = _LEAD_IN.sub("", _EDGE.sub("", text.strip()))
    words = body.lower()
    cleaned = [clean(o) for o in options]
    opening = [i for i, o in enumerate(cleaned) if re.match(rf"{re.escape(o)}(?!\w)", words)]
    if opening:
        return max(opening, key=lambda i: len(cleaned[i]))
    named = [i for i, o in enumerate(cleaned) if re.search(rf"(?<!\w){re.escape(o)}(?!\w)", words)]
    return named[0] if len(named) == 1 else None
