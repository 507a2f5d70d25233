"""Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, hosted APIs) over ``httpx``.

Scoring ``"logprobs"``: one request per prompt for one token with ``logprobs``/``top_logprobs``; each returned
top token that starts an option (case, leading space and punctuation ignored) adds its probability to that
option; ``option_mass`` is the total (0 when no top token starts an option: then the answer is uniform).
Scoring ``"sampling"``: ``samples`` answers per prompt at ``temperature``, each parsed to an option
(:func:`populace.llm.options.parse_answer`); probabilities are the parsed shares, ``option_mass`` the share that
parsed, ``unparsed`` the rest. ``"auto"`` (default) uses log-probabilities and switches to sampling for good as
soon as the server answers without them.

``complete``: one request per text query at temperature 0 with its ``max_tokens`` and ``stop``, on the same
endpoint; the text is the first choice's, ``finished`` is False when the server's ``finish_reason`` is
``"length"``, and tokens come from the reply's ``usage`` (estimated at ~4 characters a token when it has none).

Requests (answers and completions alike) run ``max_concurrency`` at a time; 429, 5xx, timeouts and connection
errors are retried ``max_retries`` times with exponential backoff (``backoff_s * 2**attempt``, capped, honouring
Retry-After).
The API key is sent as a bearer token and never appears in reprs, settings, caches or error messages.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

from populace.core.errors import InputError
from populace.llm.options import match_token, parse_answer
from populace.llm.protocol import Answer, Completion, LLMError, Query, TextQuery, cut_at_stop, normalize

ENV_URL, ENV_MODEL, ENV_KEY = "POPULACE_LLM_URL", "POPULACE_LLM_MODEL", "POPULACE_LLM_API_KEY"
SCORINGS = ("auto", "logprobs", "sampling")
ENDPOINTS = ("chat", "completions")
Q = TypeVar("Q", Query, TextQuery)
R = TypeVar("R", Answer, Completion)


class _RetryableError(Exception):
    def __init__(self, message: str, wait_s: float | None = None):
        super().__init__(message)
        self.wait_s = wait_s


def check_url(url: str) -> str:
    """``url`` without a trailing slash, after checking it is an http(s) URL with a host."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as e:
        raise InputError(f"Invalid LLM server URL {url!r}: {e}. Give e.g. http://127.0.0.1:8000/v1") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InputError(
            f"Invalid LLM server URL {url!r}: it needs http:// or https:// and a host, e.g. http://127.0.0.1:8000/v1 "
            f"(the OpenAI-compatible base URL, usually ending in /v1)."
        )
    return url.rstrip("/")


class OpenAIModel:
    """A model served over the OpenAI HTTP API (``/chat/completions`` or ``/completions``).

    Args:
        url, model, api_key: default to ``$POPULACE_LLM_URL``, ``$POPULACE_LLM_MODEL``, ``$POPULACE_LLM_API_KEY``
            (the key is optional: local servers need none).
        endpoint: ``"chat"`` (chat template applied by the server) or ``"completions"`` (raw prompt).
        scoring: ``"auto"``, ``"logprobs"`` or ``"sampling"`` (see the module docstring).
        top_logprobs: top tokens requested per prompt (OpenAI allows up to 20).
        samples, temperature, max_tokens: sampling settings (``max_tokens`` bounds each sampled answer).
        system_prompt: an optional system message (chat endpoint).
        timeout_s: per-request timeout; max_concurrency: requests in flight at once;
        max_retries, backoff_s, max_backoff_s: retry schedule.
    """

    backend = "openai"

    def __init__(self, *, url: str | None = None, model: str | None = None, api_key: str | None = None,
                 endpoint: str = "chat", scoring: str = "auto", top_logprobs: int = 20, samples: int = 10,
                 temperature: float = 1.0, max_tokens: int = 16, system_prompt: str | None = None,
                 timeout_s: float = 60.0, max_concurrency: int = 8, max_retries: int = 5, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0):
        try:
            import httpx
        except ImportError as e:
            raise LLMError("The OpenAI-compatible backend needs httpx: pip install httpx") from e
        url = url or os.environ.get(ENV_URL)
        if not url:
            raise InputError(f"No LLM server URL: pass url= (--url / --llm-url on the command line) or set "
                             f"{ENV_URL}, e.g. http://127.0.0.1:8000/v1")
        self.url = check_url(url)
        self.model = model or os.environ.get(ENV_MODEL) or ""
        if not self.model:
            raise InputError(f"No LLM model name: pass model= (--model / --llm-model) or set {ENV_MODEL}, the name "
                             "the server knows the model by (e.g. HuggingFaceTB/SmolLM2-135M-Instruct).")
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}, got {endpoint!r}.")
        if scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, got {scoring!r}.")
        for name, value in (("top_logprobs", top_logprobs), ("samples", samples), ("max_tokens", max_tokens),
                            ("max_concurrency", max_concurrency)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
        if max_retries < 0 or backoff_s < 0 or max_backoff_s < 0 or timeout_s <= 0 or temperature < 0:
            raise ValueError("timeout_s must be > 0; max_retries, backoff_s, max_backoff_s, temperature >= 0.")
        self.endpoint, self.scoring = endpoint, scoring
        self.top_logprobs, self.samples = top_logprobs, samples
        self.temperature, self.max_tokens = temperature, max_tokens
        self.system_prompt = system_prompt
        self.max_concurrency, self.max_retries = max_concurrency, max_retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._api_key = api_key if api_key is not None else os.environ.get(ENV_KEY) or None
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
                                  limits=httpx.Limits(max_connections=max_concurrency))
        self._httpx = httpx
        self._use_sampling = scoring == "sampling"
        self._switch = threading.Lock()

    def settings(self) -> Mapping[str, object]:
        return {"endpoint": self.endpoint, "scoring": self.scoring, "top_logprobs": self.top_logprobs,
                "samples": self.samples, "temperature": self.temperature, "max_tokens": self.max_tokens,
                "system_prompt": self.system_prompt}

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        results, error = self._gather(self._answer_one, list(queries))
        if error is not None:
            raise LLMError(str(error), answers=results) from None
        return results  # type: ignore[return-value]

    def complete(self, queries: Sequence[TextQuery]) -> list[Completion]:
        results, error = self._gather(self._complete_one, list(queries))
        if error is not None:
            raise LLMError(str(error), completions=results) from None
        return results  # type: ignore[return-value]

    def _gather(self, ask: Callable[[Q], R], queries: list[Q]) -> tuple[list[R | None], LLMError | None]:
        """``ask`` each query, ``max_concurrency`` at a time: (results, None), or on the first failure (what was
        obtained, None elsewhere; the error), after the requests still in flight have finished."""
        results: list[R | None] = [None] * len(queries)
        if len(queries) <= 1 or self.max_concurrency == 1:
            for i, q in enumerate(queries):
                try:
                    results[i] = ask(q)
                except LLMError as e:
                    return results, e
            return results, None
        pool = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(queries)))
        try:
            futures = {pool.submit(ask, q): i for i, q in enumerate(queries)}
            for future in as_completed(futures):
                try:
                    results[futures[future]] = future.result()
                except LLMError as e:
                    pool.shutdown(wait=True, cancel_futures=True)  # stop asking a failing server
                    for f, i in futures.items():
                        if f.done() and not f.cancelled() and f.exception() is None:
                            results[i] = f.result()
                    return results, e
        finally:
            pool.shutdown(wait=True)
        return results, None

    # -- one prompt ------------------------------------------------------------------------------------------------
    def _answer_one(self, query: Query) -> Answer:
        if not self._use_sampling:
            reply = self._post(self._payload(query, max_tokens=1, logprobs=True))
            top = _top_logprobs(reply, self.endpoint)
            if top is not None:
                weights = [0.0] * len(query.options)
                for token, logprob in top:
                    i = match_token(token, query.options)
                    if i is not None:
                        weights[i] += math.exp(logprob)
                probabilities, mass = normalize(weights)
                prompt_tokens, completion_tokens = self._usage(reply, query, 1)
                return Answer(probabilities, min(mass, 1.0), prompt_tokens, completion_tokens,
                              texts=tuple(_texts(reply, self.endpoint)))
            if self.scoring == "logprobs":
                raise LLMError(f"The server at {self.url} returned no log-probabilities for model {self.model!r}. "
                               "Use scoring='sampling' (or 'auto') for servers without logprobs support.")
            with self._switch:
                self._use_sampling = True  # this server gives none: sample from now on
        return self._sample(query)

    def _complete_one(self, query: TextQuery) -> Completion:
        payload = self._payload(query, max_tokens=query.max_tokens, greedy=True)
        if query.stop:
            payload["stop"] = list(query.stop)
        reply = self._post(payload)
        texts = _texts(reply, self.endpoint)
        if not texts:
            raise LLMError(f"The server at {self.url} returned no text for model {self.model!r}.")
        text = cut_at_stop(texts[0], query.stop)[0]  # servers leave the stop string out; some echo it
        prompt_tokens, completion_tokens = self._usage(reply, query, max(1, math.ceil(len(text) / 4)))
        finished = reply["choices"][0].get("finish_reason") != "length"
        return Completion(text, prompt_tokens, completion_tokens, finished=finished)

    def _sample(self, query: Query) -> Answer:
        texts: list[str] = []
        prompt_tokens = completion_tokens = 0
        for _ in range(self.samples):  # servers that ignore n return fewer choices: ask again
            n = self.samples - len(texts)
            reply = self._post(self._payload(query, max_tokens=self.max_tokens, n=n))
            got = _texts(reply, self.endpoint)[:n]
            if not got:
                raise LLMError(f"The server at {self.url} returned no answer text for model {self.model!r}.")
            texts.extend(got)
            p, c = self._usage(reply, query, sum(max(1, math.ceil(len(t) / 4)) for t in got))
            prompt_tokens += p
            completion_tokens += c
            if len(texts) >= self.samples:
                break
        counts = [0.0] * len(query.options)
        unparsed = 0
        for text in texts:
            i = parse_answer(text, query.options)
            if i is None:
                unparsed += 1
            else:
                counts[i] += 1
        probabilities, parsed = normalize(counts)
        return Answer(probabilities, parsed / len(texts), prompt_tokens, completion_tokens, texts=tuple(texts),
                      unparsed=unparsed)

    def _payload(self, query: Query | TextQuery, *, max_tokens: int, logprobs: bool = False, n: int = 1,
                 greedy: bool = False) -> dict:
        payload: dict = {"model": self.model, "max_tokens": max_tokens}
        if self.endpoint == "chat":
            messages = [{"role": "user", "content": query.prompt}]
            if self.system_prompt is not None:
                messages.insert(0, {"role": "system", "content": self.system_prompt})
            payload["messages"] = messages
            if logprobs:
                payload.update(logprobs=True, top_logprobs=self.top_logprobs)
        else:
            payload["prompt"] = query.prompt
            if logprobs:
                payload["logprobs"] = self.top_logprobs
        if logprobs or greedy:
            payload["temperature"] = 0.0
        else:
            payload.update(n=n, temperature=self.temperature)
        return payload

    def _usage(self, reply: dict, query: Query | TextQuery, completion_estimate: int) -> tuple[int, int]:
        usage = reply.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        if not isinstance(prompt_tokens, int):
            prompt_tokens = math.ceil(len(query.prompt) / 4)  # no usage reported: ~4 characters per token
        if not isinstance(completion_tokens, int):
            completion_tokens = completion_estimate
        return prompt_tokens, completion_tokens

    # -- HTTP ------------------------------------------------------------------------------------------------------
    def _post(self, payload: dict) -> dict:
        path = "/chat/completions" if self.endpoint == "chat" else "/completions"
        url = self.url + path
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                return self._post_once(url, payload)
            except _RetryableError as e:
                last = str(e)
                if attempt == self.max_retries:
                    break
                wait = min(self.backoff_s * 2**attempt, self.max_backoff_s)
                if e.wait_s is not None:
                    wait = min(max(wait, e.wait_s), self.max_backoff_s)
                time.sleep(wait)
        raise LLMError(self._scrub(
            f"The LLM server at {url} did not answer after {self.max_retries + 1} tries (last: {last}). Is it "
            f"running and reachable? Check the URL (--url, --llm-url or {ENV_URL}). Answers obtained so far are "
            "kept in the cache; rerun to resume."))

    def _post_once(self, url: str, payload: dict) -> dict:
        httpx = self._httpx
        try:
            response = self._http.post(url, json=payload)
        except httpx.TimeoutException as e:
            raise _RetryableError(f"timed out ({type(e).__name__})") from None
        except httpx.TransportError as e:
            raise _RetryableError(f"connection failed ({type(e).__name__}: {e})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _RetryableError(f"HTTP {status}: {response.text[:200]}", _retry_after(response))
        if status >= 400:
            hint = {401: f"check the API key ({ENV_KEY})", 403: f"check the API key ({ENV_KEY})",
                    404: f"check the URL (the base URL usually ends in /v1) and the model name {self.model!r}"}
            raise LLMError(self._scrub(f"The LLM server at {url} refused the request: HTTP {status} "
                                       f"{response.text[:300]!r}. {hint.get(status, 'Check the request settings.')}"))
        try:
            reply = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise LLMError(self._scrub(f"The LLM server at {url} replied with malformed JSON: {response.text[:200]!r}. "
                                       "Is the URL an OpenAI-compatible API (usually ending in /v1)?")) from None
        if not isinstance(reply, dict) or not isinstance(reply.get("choices"), list) or not reply["choices"]:
            raise LLMError(self._scrub(f"The LLM server at {url} replied without 'choices': {str(reply)[:200]!r}. "
                                       "Is the URL an OpenAI-compatible API (usually ending in /v1)?"))
        return reply

    def _scrub(self, message: str) -> str:
        return message.replace(self._api_key, "***") if self._api_key else message

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return (f"OpenAIModel(url={self.url!r}, model={self.model!r}, endpoint={self.endpoint!r}, "
                f"scoring={self.scoring!r})")


def _retry_after(response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _top_logprobs(reply: dict, endpoint: str) -> list[tuple[str, float]] | None:
    """(token, logprob) pairs for the first generated token, or None when the reply has no log-probabilities."""
    logprobs = reply["choices"][0].get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    try:
        if endpoint == "chat":
            content = logprobs.get("content")
            if not content:
                return None
            first = content[0]
            pairs = [(t["token"], float(t["logprob"])) for t in first.get("top_logprobs") or []]
            return pairs or [(first["token"], float(first["logprob"]))]
        top = logprobs.get("top_logprobs")
        if not top or not isinstance(top[0], dict):
            return None
        return [(token, float(lp)) for token, lp in top[0].items()]
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise LLMError(f"Malformed log-probabilities in the server's reply ({type(e).__name__}: {e}).") from None


def _texts(reply: dict, endpoint: str) -> list[str]:
    out = []
    for choice in reply["choices"]:
        text = (choice.get("message") or {}).get("content") if endpoint == "chat" else choice.get("text")
        if isinstance(text, str):
            out.append(text)
    return out
