"""Language models behind one small protocol: embedded (offline), OpenAI-compatible servers, scripted.

Build a model with :func:`make_model` (backend + usage metering and budget + answer cache). The heavy backends
(PyTorch + transformers for the embedded model, httpx for servers) are imported only when used.
"""

from populace.llm.cache import AnswerCache, CachedModel, cache_key
from populace.llm.factory import BACKENDS, make_model
from populace.llm.protocol import Answer, LanguageModel, LLMError, Query
from populace.llm.scripted import ScriptedModel
from populace.llm.usage import Budget, BudgetExceeded, DryRunModel, MeteredModel, Usage

__all__ = [
    "BACKENDS",
    "Answer",
    "AnswerCache",
    "Budget",
    "BudgetExceeded",
    "CachedModel",
    "DryRunModel",
    "LLMError",
    "LanguageModel",
    "MeteredModel",
    "Query",
    "ScriptedModel",
    "Usage",
    "cache_key",
    "make_model",
]
