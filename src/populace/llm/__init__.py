"""Language models behind one small protocol: embedded (offline), OpenAI-compatible servers, scripted.

``answer`` gives option probabilities (:class:`Query` -> :class:`Answer`); ``complete`` gives free text
(:class:`TextQuery` -> :class:`Completion`, greedy). Build a model with :func:`make_model` (backend + usage
metering and budget + answer cache, for both). The heavy backends
(PyTorch + transformers for the embedded model, httpx for servers) are imported only when used.
"""

from populace.llm.cache import AnswerCache, CachedModel, cache_key, completion_key
from populace.llm.factory import BACKENDS, make_model
from populace.llm.protocol import (
    Answer,
    Completion,
    LanguageModel,
    LLMError,
    Query,
    TextModel,
    TextQuery,
    require_text_model,
)
from populace.llm.scripted import ScriptedModel
from populace.llm.usage import Budget, BudgetExceeded, DryRunModel, MeteredModel, Usage

__all__ = [
    "BACKENDS",
    "Answer",
    "AnswerCache",
    "Budget",
    "BudgetExceeded",
    "CachedModel",
    "Completion",
    "DryRunModel",
    "LLMError",
    "LanguageModel",
    "MeteredModel",
    "Query",
    "ScriptedModel",
    "TextModel",
    "TextQuery",
    "Usage",
    "cache_key",
    "completion_key",
    "make_model",
    "require_text_model",
]
