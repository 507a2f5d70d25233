"""A persistent answer cache (SQLite) and :class:`CachedModel`, a wrapper that asks the model only for misses.

Answers: table ``answers``, key SHA-256 of (backend, model, template version, prompt, options, sampling
settings), so a change of any of them asks again. Completions (free text): table ``completions``, key SHA-256 of
("completion", backend, model, template version, prompt, max_tokens, stop strings, settings), so an answer and a
completion of the same prompt never meet. The database runs in WAL mode with a busy timeout, so parallel runs
(threads or processes) can read and write it at once. API keys are never part of a key or a row: settings hold
sampling settings only.

Within a process, an :class:`AnswerCache` keeps what it has read or stored in memory (up to ``MEMO_ENTRIES``
answers and as many completions), so a prompt asked again (an archetype's, month after month) is a cache hit
without a query to the file; and a :class:`CachedModel` keeps the cache key of each query it has seen.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TypeVar

from populace.llm.paths import user_cache_dir
from populace.llm.protocol import Answer, Completion, LanguageModel, LLMError, Query, TextQuery, WrappedModel

Q = TypeVar("Q", Query, TextQuery)
R = TypeVar("R", Answer, Completion)

MEMO_ENTRIES = 16_384
"""Answers (and as many completions, and cache keys) kept in memory per cache or model; later ones are read from
the file each time."""

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
);
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    template_version TEXT NOT NULL,
    prompt TEXT NOT NULL,
    max_tokens INTEGER NOT NULL,
    stop TEXT NOT NULL,
    settings TEXT NOT NULL,
    completion TEXT NOT NULL,
    created REAL NOT NULL
);
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


def completion_key(backend: str, model: str, query: TextQuery, settings: Mapping[str, object]) -> str:
    """The cache key of the text for ``query``: 64 hex digits, never equal to an answer's :func:`cache_key`."""
    fields = ["completion", backend, model, query.template_version, query.prompt, query.max_tokens,
              list(query.stop), _settings_json(settings)]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


class AnswerCache:
    """Answers and completions stored in an SQLite file; ``path=None`` uses :func:`default_cache_path`.

    ``len()`` counts answers; :meth:`stats` counts both.
    """

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = 60.0):
        self.path = Path(path) if path is not None else default_cache_path()
        if self.path.is_dir():
            raise ValueError(f"Answer cache path {self.path} is a folder; give a file: {self.path / 'answers.sqlite'}.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._memo: dict[str, dict[str, Answer | Completion]] = {"answers": {}, "completions": {}}
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise LLMError(f"Cannot open the answer cache {self.path}: {e}. Delete it or pass another path.") from e

    def get(self, keys: Iterable[str]) -> dict[str, Answer]:
        """The stored answers among ``keys`` (missing keys are absent), each marked ``cached=True``."""
        return self._read("answers", "answer", keys, _answer_from_json)  # type: ignore[return-value]

    def get_completions(self, keys: Iterable[str]) -> dict[str, Completion]:
        """The stored completions among ``keys`` (missing keys are absent), each marked ``cached=True``."""
        return self._read("completions", "completion", keys,  # type: ignore[return-value]
                          lambda text: Completion(**{**json.loads(text), "cached": True}))

    def _read(self, table: str, column: str, keys: Iterable[str],
              parse: Callable[[str], Answer | Completion]) -> dict[str, Answer | Completion]:
        """The entries among ``keys`` from memory, the rest from the file (then remembered)."""
        keys, memo = list(keys), self._memo[table]
        with self._lock:
            found = {key: memo[key] for key in keys if key in memo}
        unread = [key for key in keys if key not in found]
        if unread:
            read = {key: parse(text) for key, text in self._select(table, column, unread)}
            self._remember(table, read)
            found.update(read)
        return found

    def _remember(self, table: str, entries: Mapping[str, Answer | Completion]) -> None:
        memo = self._memo[table]
        with self._lock:
            for key, entry in entries.items():
                if key in memo or len(memo) < MEMO_ENTRIES:
                    memo[key] = entry

    def _select(self, table: str, column: str, keys: list[str]) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        with self._lock:
            for lo in range(0, len(keys), 500):  # stay under SQLite's limit on bound parameters
                part = keys[lo : lo + 500]
                marks = ",".join("?" * len(part))
                rows += self._db.execute(f"SELECT key, {column} FROM {table} WHERE key IN ({marks})", part)
        return rows

    def put(self, key: str, backend: str, model: str, query: Query, settings: Mapping[str, object], answer: Answer):
        """Store one answer (replacing any under the same key); committed at once."""
        row = (key, backend, model, query.template_version, query.prompt, json.dumps(list(query.options)),
               _settings_json(settings), json.dumps(asdict(replace(answer, cached=False))), time.time())
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        self._remember("answers", {key: replace(answer, cached=True)})

    def put_completion(self, key: str, backend: str, model: str, query: TextQuery, settings: Mapping[str, object],
                       completion: Completion):
        """Store one completion (replacing any under the same key); committed at once."""
        row = (key, backend, model, query.template_version, query.prompt, query.max_tokens,
               json.dumps(list(query.stop)), _settings_json(settings),
               json.dumps(asdict(replace(completion, cached=False))), time.time())
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        self._remember("completions", {key: replace(completion, cached=True)})

    def stats(self) -> dict[str, object]:
        """Answers in total (``entries``) and per (backend, model), completions in total, the file size in bytes."""
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            completions = self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0]
            groups = self._db.execute(
                "SELECT backend, model, COUNT(*) FROM answers GROUP BY backend, model ORDER BY 3 DESC"
            ).fetchall()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"path": str(self.path), "entries": total, "completions": completions, "bytes": size,
                "by_model": [{"backend": b, "model": m, "entries": n} for b, m, n in groups]}

    def clear(self) -> int:
        """Delete every answer and completion; returns how many there were."""
        with self._lock:
            n = self._db.execute("DELETE FROM answers").rowcount + self._db.execute("DELETE FROM completions").rowcount
            self._db.execute("VACUUM")
            for memo in self._memo.values():
                memo.clear()
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
    A model with ``dry_run = True`` (:class:`populace.llm.usage.DryRunModel`) is never stored. ``complete()``
    works the same way on the ``completions`` table (partial results in ``error.completions``).

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
        self._keys: dict[Query | TextQuery, str] = {}  # the cache key of each query seen, for `_identity`
        self._identity: tuple[str, str, str] | None = None  # (backend, model, settings) of those keys

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        return self._cached(queries, cache_key, self.cache.get, self.cache.put, self.inner.answer, "answers")

    def complete(self, queries: Sequence[TextQuery]) -> list[Completion]:
        return self._cached(queries, completion_key, self.cache.get_completions, self.cache.put_completion,
                            self._inner_complete, "completions")

    def _cached(self, queries: Sequence[Q], key_of: Callable[..., str], lookup: Callable[[Iterable[str]], dict],
                put: Callable[..., None], ask: Callable[[list[Q]], list[R]], got_attr: str) -> list[R]:
        """Serve ``queries`` from the cache, ``ask`` the misses (each distinct key once) and ``put`` what comes."""
        queries = list(queries)
        backend, model, settings = self.inner.backend, self.inner.model, self.inner.settings()
        keys = self._keys_of(queries, key_of, (backend, model, _settings_json(settings)), settings)
        found = lookup(set(keys))
        results: list[R | None] = [found.get(k) for k in keys]
        first_of: dict[str, int] = {}  # a prompt repeated within the batch is asked once
        missing = [first_of.setdefault(k, i) for i, k in enumerate(keys) if results[i] is None and k not in first_of]
        self.hits += len(queries) - len(missing)
        self.misses += len(missing)
        if self.usage is not None:
            self.usage.prompts += len(queries)
            self.usage.cache_hits += len(queries) - len(missing)
        store = not getattr(self.inner, "dry_run", False)
        for lo in range(0, len(missing), self.chunk_size):
            chunk = missing[lo : lo + self.chunk_size]
            try:
                got = ask([queries[i] for i in chunk])
            except LLMError as e:
                if store:
                    for i, r in zip(chunk, getattr(e, got_attr), strict=False):
                        if r is not None:
                            put(keys[i], backend, model, queries[i], settings, r)
                raise
            if len(got) != len(chunk):
                raise LLMError(f"{self.inner!r} returned {len(got)} results for {len(chunk)} queries.")
            for i, r in zip(chunk, got, strict=True):
                results[i] = r
                if store:
                    put(keys[i], backend, model, queries[i], settings, r)
        for i, k in enumerate(keys):  # repeats within the batch: the first occurrence's result, marked cached
            if results[i] is None:
                results[i] = replace(results[first_of[k]], cached=True)
        return results  # type: ignore[return-value]

    def _keys_of(self, queries: list[Q], key_of: Callable[..., str], identity: tuple[str, str, str],
                 settings: Mapping[str, object]) -> list[str]:
        """The cache key of each query, computed once per query while the backend, model and settings stay."""
        if identity != self._identity:
            self._identity, self._keys = identity, {}
        known, keys = self._keys, []
        for q in queries:
            key = known.get(q)
            if key is None:
                key = key_of(identity[0], identity[1], q, settings)
                if len(known) < MEMO_ENTRIES:
                    known[q] = key
            keys.append(key)
        return keys

    def __repr__(self) -> str:
        return f"CachedModel({self.inner!r}, {self.cache!r})"
