"""Build a ready-to-use model stack: backend, then usage metering and budget, then the answer cache."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from populace.llm.cache import AnswerCache, CachedModel
from populace.llm.protocol import LanguageModel, TextModel
from populace.llm.usage import Budget, DryRunModel, MeteredModel, Usage

BACKENDS = ("embedded", "openai", "scripted")


def make_model(backend: str = "embedded", *, cache: bool | str | Path | AnswerCache = True,
               budget: Budget | None = None, usage: Usage | None = None, dry_run: bool = False,
               price_per_prompt_token: float = 0.0, price_per_completion_token: float = 0.0,
               **kwargs: object) -> TextModel:
    """A model for ``backend`` ("embedded", "openai" or "scripted"), metered and cached, that answers
    (``answer``) and writes text (``complete``).

    ``kwargs`` go to the backend: :class:`~populace.llm.embedded.EmbeddedModel` (gguf_path, cache_dir, batch_size,
    system_prompt, device, dtype), :class:`~populace.llm.openai.OpenAIModel` (url, model, api_key, endpoint,
    scoring, ...), :class:`~populace.llm.scripted.ScriptedModel` (answers and/or texts, model).
    ``cache``: True for the default answer cache, a path, an :class:`AnswerCache`, or False for none.
    ``budget``: stop with :class:`~populace.llm.usage.BudgetExceeded` past it. ``usage``: a record to add to
    (default a new one; read it as ``model.usage``). ``dry_run``: ask nothing; count calls and estimated tokens
    (priced with the given per-token prices) of the prompts the cache does not hold, answering uniformly.

    The stack is ``CachedModel(MeteredModel(backend, budget, usage), cache, usage=usage)``: cache hits cost no
    call, no token and no budget. Completions go through the same stack (their own cache table and keys).
    """
    if backend not in BACKENDS:
        raise ValueError(f"Unknown LLM backend {backend!r}: choose one of {', '.join(BACKENDS)}.")
    usage = usage if usage is not None else Usage()
    if dry_run:
        name, settings = _identity(backend, kwargs)
        inner: LanguageModel = DryRunModel(backend, name, settings, price_per_prompt_token=price_per_prompt_token,
                                           price_per_completion_token=price_per_completion_token)
    else:
        inner = _backend(backend, kwargs)
    model: TextModel = MeteredModel(inner, budget, usage)
    if cache is not False and cache is not None:
        store = cache if isinstance(cache, AnswerCache) else AnswerCache(None if cache is True else cache)
        model = CachedModel(model, store, usage=usage)
    return model


def _backend(backend: str, kwargs: Mapping[str, object]) -> LanguageModel:
    if backend == "embedded":
        from populace.llm.embedded import EmbeddedModel

        return EmbeddedModel(**kwargs)  # type: ignore[arg-type]
    if backend == "openai":
        from populace.llm.openai import OpenAIModel

        return OpenAIModel(**kwargs)  # type: ignore[arg-type]
    from populace.llm.scripted import ScriptedModel

    if "answers" not in kwargs and "texts" not in kwargs:
        raise ValueError("The scripted backend needs answers=: a mapping prompt -> option weights, or a function "
                         "(and/or texts=: a mapping prompt -> text, or a function, for complete()).")
    return ScriptedModel(**kwargs)  # type: ignore[arg-type]


def _identity(backend: str, kwargs: Mapping[str, object]) -> tuple[str, Mapping[str, object]]:
    """The model name and settings ``backend`` would have, without loading weights or contacting a server."""
    if backend == "embedded":
        from populace.llm.embedded import embedded_identity

        return embedded_identity(kwargs.get("gguf_path"), kwargs.get("system_prompt"),  # type: ignore[arg-type]
                                 kwargs.get("dtype", "float32"))  # type: ignore[arg-type]
    model = _backend(backend, kwargs)  # cheap for openai (no request) and scripted
    return model.model, model.settings()
