"""A persistent answer cache (SQLite) and :class:`CachedModel`, a wrapper that asks the model only for misses.

Key: SHA-256 of (backend, model, template version, prompt, options, sampling settings), so a change of any of
them asks again. The database runs in WAL mode with a busy timeout, so parallel runs (threads or processes)
can read and write it at once. API keys are never part of a key or a row: settings hold sampling settings only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from populace.llm.paths import user_cache_dir
from populace.llm.protocol import Answer, LanguageModel, LLMError, Query, WrappedModel

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    template_version TEXT NOT NULL,
    prompt TEXT NOT NULL,
    options TEXT NOT NULL,
    settings TEXT NOT NULL,
    answer TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def default_cache_path() -> Path:
    """``<user cache>/llm-answers.sqlite``: ``$POPULACE_CACHE_DIR`` or ``~/.cache/populace``."""
    return user_cache_dir() / "llm-answers.sqlite"


def _settings_json(settings: Mapping[str, object]) -> str:
    return json.dumps(dict(settings), sort_keys=True, default=str)


def cache_key(backend: str, model: str, query: Query, settings: Mapping[str, object]) -> str:
    """The cache key of ``query`` asked of ``model`` on ``backend`` with ``settings``: 64 hex digits."""
    fields = [backend, model, query.template_version, query.prompt, list(query.options), _settings_json(settings)]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


class AnswerCache:
    """Answers stored in an SQLite file; ``path=None`` uses :func:`default_cache_path`."""

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = 60.0):
        self.path = Path(path) if path is not None else default_cache_path()
        if self.path.is_dir():
            raise ValueError(f"Answer cache path {self.path} is a folder; give a file: {self.path / 'answers.sqlite'}.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise LLMError(f"Cannot open the answer cache {self.path}: {e}. Delete it or pass another path.") from e

    def get(self, keys: Sequence[str]) -> dict[str, Answer]:
        """The stored answers among ``keys`` (missing keys are absent), each marked ``cached=True``."""
        found: dict[str, Answer] = {}
        keys = list(keys)
        with self._lock:
            for lo in range(0, len(keys), 500):  # stay under SQLite's limit on bound parameters
                part = keys[lo : lo + 500]
                marks = ",".join("?" * len(part))
                for key, text in self._db.execute(f"SELECT key, answer FROM answers WHERE key IN ({marks})", part):
                    found[key] = _answer_from_json(text)
        return found

    def put(self, key: str, backend: str, model: str, query: Query, settings: Mapping[str, object], answer: Answer):
        """Store one answer (replacing any under the same key); committed at once."""
        row = (key, backend, model, query.template_version, query.prompt, json.dumps(list(query.options)),
               _settings_json(settings), json.dumps(asdict(replace(answer, cached=False))), time.time())
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def stats(self) -> dict[str, object]:
        """Entries in total and per (backend, model), and the file size in bytes."""
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            groups = self._db.execute(
                "SELECT backend, model, COUNT(*) FROM answers GROUP BY backend, model ORDER BY 3 DESC"
            ).fetchall()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"path": str(self.path), "entries": total, "bytes": size,
                "by_model": [{"backend": b, "model": m, "entries": n} for b, m, n in groups]}

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        with self._lock:
            n = self._db.execute("DELETE FROM answers").rowcount
            self._db.execute("VACUUM")
        return n

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def __repr__(self) -> str:
        return f"AnswerCache({str(self.path)!r})"


def _answer_from_json(text: str) -> Answer:
    fields = json.loads(text)
    fields["probabilities"] = tuple(fields["probabilities"])
    fields["texts"] = tuple(fields.get("texts", ()))
    fields["cached"] = True
    return Answer(**fields)


class CachedModel(WrappedModel):
    """``model`` behind an :class:`AnswerCache`: hits come from the cache (``cached=True``), misses from the model.

    Misses are sent to ``model`` in one ``answer()`` call per ``chunk_size`` prompts, and each chunk's answers are
    stored as soon as they arrive; when the model fails (:class:`LLMError`), the answers it did obtain
    (``error.answers``) are stored before the error propagates, so a rerun asks only for what is still missing.
    A model with ``dry_run = True`` (:class:`populace.llm.usage.DryRunModel`) is never stored.

    Attributes:
        hits, misses: counts over this wrapper's life. ``usage``: a :class:`populace.llm.usage.Usage` to record
        prompts and cache hits into, if given.
    """

    def __init__(self, model: LanguageModel, cache: AnswerCache | None = None, *, chunk_size: int = 256, usage=None):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
        self.inner = model
        self.cache = cache if cache is not None else AnswerCache()
        self.chunk_size = chunk_size
        self.usage = usage
        self.hits = 0
        self.misses = 0

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        queries = list(queries)
        settings = self.inner.settings()
        keys = [cache_key(self.inner.backend, self.inner.model, q, settings) for q in queries]
        found = self.cache.get(set(keys))
        answers: list[Answer | None] = [found.get(k) for k in keys]
        first_of: dict[str, int] = {}  # a prompt repeated within the batch is asked once
        missing = [first_of.setdefault(k, i) for i, k in enumerate(keys) if answers[i] is None and k not in first_of]
        self.hits += len(queries) - len(missing)
        self.misses += len(missing)
        if self.usage is not None:
            self.usage.prompts += len(queries)
            self.usage.cache_hits += len(queries) - len(missing)
        store = not getattr(self.inner, "dry_run", False)
        for lo in range(0, len(missing), self.chunk_size):
            chunk = missing[lo : lo + self.chunk_size]
            try:
                got = self.inner.answer([queries[i] for i in chunk])
            except LLMError as e:
                if store:
                    for i, a in zip(chunk, e.answers, strict=False):
                        if a is not None:
                            self.cache.put(keys[i], self.inner.backend, self.inner.model, queries[i], settings, a)
                raise
            if len(got) != len(chunk):
                raise LLMError(f"{self.inner!r} returned {len(got)} answers for {len(chunk)} queries.")
            for i, a in zip(chunk, got, strict=True):
                answers[i] = a
                if store:
                    self.cache.put(keys[i], self.inner.backend, self.inner.model, queries[i], settings, a)
        for i, k in enumerate(keys):  # repeats within the batch: the first occurrence's answer, marked cached
            if answers[i] is None:
                answers[i] = replace(answers[first_of[k]], cached=True)
        return answers  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"CachedModel({self.inner!r}, {self.cache!r})"
