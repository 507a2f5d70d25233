"""The protocol's records, the scripted backend, and matching model output to options."""

from __future__ import annotations

import pytest

from populace.llm import Answer, LanguageModel, Query, ScriptedModel
from populace.llm.options import match_token, parse_answer

YES_NO = ("yes", "no")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": "  "}, "prompt must be a non-empty string"),
        ({"options": ("yes",)}, "at least 2 answers"),
        ({"options": "yes,no"}, "must be a tuple of strings"),
        ({"options": ("yes", " ")}, "non-empty strings"),
        ({"options": ("Yes", "yes ")}, "must be distinct"),
        ({"template_version": 1}, "template_version must be a string"),
    ],
)
def test_bad_queries_give_specific_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Query(**{"prompt": "Stay home?", "options": YES_NO, **kwargs})


def test_query_options_become_a_tuple():
    assert Query("Stay home?", ["yes", "no"]).options == YES_NO


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"probabilities": (0.5, 0.6)}, "must sum to 1"),
        ({"probabilities": (1.5, -0.5)}, "finite and >= 0"),
        ({"option_mass": 1.2}, r"option_mass must lie in \[0, 1\]"),
        ({"prompt_tokens": -1}, "must be >= 0"),
    ],
)
def test_bad_answers_give_specific_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Answer(**{"probabilities": (0.5, 0.5), "option_mass": 1.0, "prompt_tokens": 1, "completion_tokens": 1,
                  **kwargs})


def test_scripted_table_answers_normalizes_and_counts():
    model = ScriptedModel({"Stay home?": (0.6, 0.2), "Wear a mask today?": (0.1, 0.9)})
    assert isinstance(model, LanguageModel)
    a, b = model.answer([Query("Stay home?", YES_NO), Query("Wear a mask today?", YES_NO)])
    assert a.probabilities == pytest.approx((0.75, 0.25))
    assert a.option_mass == pytest.approx(0.8)
    assert (a.prompt_tokens, a.completion_tokens) == (2, 1)
    assert b.probabilities == pytest.approx((0.1, 0.9))
    assert b.probability(Query("Wear a mask today?", YES_NO), "no") == pytest.approx(0.9)
    assert b.prompt_tokens == 4
    model.answer([Query("Stay home?", YES_NO)])
    assert (model.calls, model.queries) == (2, 3)
    assert [q.prompt for q in model.asked] == ["Stay home?", "Wear a mask today?", "Stay home?"]


def test_scripted_function_sees_the_query():
    model = ScriptedModel(lambda q: (1.0, 0.0) if "cases rising" in q.prompt else (0.0, 1.0), model="rule")
    up, down = model.answer([Query("cases rising: stay home?", YES_NO), Query("cases falling: stay home?", YES_NO)])
    assert (up.probabilities, down.probabilities) == ((1.0, 0.0), (0.0, 1.0))
    assert model.model == "rule"


def test_scripted_errors_name_the_problem():
    model = ScriptedModel({"Stay home?": (0.5, 0.5)})
    with pytest.raises(KeyError, match=r"no answer for prompt 'Go out\?'.*Known prompts \(1\): 'Stay home\?'"):
        model.answer([Query("Go out?", YES_NO)])
    with pytest.raises(ValueError, match="has 2 weights, but the query has 3 options"):
        model.answer([Query("Stay home?", ("yes", "no", "maybe"))])
    with pytest.raises(ValueError, match="sum to at most 1"):
        ScriptedModel(lambda q: (0.9, 0.9)).answer([Query("Stay home?", YES_NO)])
    with pytest.raises(TypeError, match="needs a mapping prompt -> option weights or a function"):
        ScriptedModel([0.5, 0.5])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", 0), ("no, I would not", 1), ("NO!", 1), ("**Yes**", 0), ('"yes"', 0), ("Answer: no", 1),
        ("I think yes", 0), ("maybe", None), ("Nope", None), ("yesterday was fine", None),
        ("I'd say yes, not no", None),  # names both options, opens with neither
    ],
)
def test_parse_sampled_answers(text, expected):
    assert parse_answer(text, YES_NO) == expected


def test_parse_prefers_the_longest_opening_option():
    options = ("yes", "no", "not sure")
    assert parse_answer("Not sure, honestly.", options) == 2
    assert parse_answer("No.", options) == 1


@pytest.mark.parametrize(
    ("token", "expected"),
    [(" Yes", 0), ("yes", 0), ("YES", 0), ("Yes.", 0), (" no", 1), ("N", None), (".", None), ("yesterday", None)],
)
def test_match_next_tokens(token, expected):
    assert match_token(token, YES_NO) == expected


def test_match_token_exact_match_wins_and_shared_prefixes_are_ambiguous():
    assert match_token("no", ("no", "not sure")) == 0
    assert match_token("ye", ("yes", "yeah")) is None
    assert match_token("St", ("stay", "step out")) is None
    assert match_token("Ste", ("stay", "step out")) == 1
    assert match_token("Stay", ("stay", "step out")) == 0
