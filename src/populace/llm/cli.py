"""`populace llm ask "PROMPT" --options yes,no`, `populace llm complete "PROMPT"`, `populace llm cache stats|clear`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from populace.core.errors import InputError
from populace.llm.cache import AnswerCache, default_cache_path
from populace.llm.factory import BACKENDS, make_model
from populace.llm.protocol import LLMError, Query, TextQuery


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register `llm` (ask, complete, cache stats, cache clear) as a top-level command."""
    llm = commands.add_parser("llm", help="ask a language model; manage the LLM answer cache")
    actions = llm.add_subparsers(dest="action", required=True)

    ask = actions.add_parser("ask", help="print a model's probabilities for a prompt's options",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ask.add_argument("prompt", help="the prompt, e.g. 'Would you stay home this week? Answer yes or no.'")
    ask.add_argument("--options", type=_options, default=("yes", "no"), help="comma-separated answers")
    ask.add_argument("--scoring", choices=("auto", "logprobs", "sampling"), default="auto",
                     help="openai: next-token log-probabilities, or sampled answers parsed to options")
    ask.add_argument("--weights", type=_weights, help="scripted: the option weights to answer with (default uniform)")
    _add_model_arguments(ask)
    ask.set_defaults(handler=ask_command)

    complete = actions.add_parser("complete", help="print a model's (greedy) text for a prompt",
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    complete.add_argument("prompt", help="the prompt, e.g. 'Describe your strategy in one sentence.'")
    complete.add_argument("--max-tokens", type=int, default=64, help="most tokens to generate (1 to 4096)")
    complete.add_argument("--stop", action="append", default=[], help="a stop string (repeat for several)")
    complete.add_argument("--text", default="A scripted text.", help="scripted: the text to answer with")
    _add_model_arguments(complete)
    complete.set_defaults(handler=complete_command)

    cache = actions.add_parser("cache", help="answer cache: stats or clear")
    cache.add_argument("what", choices=("stats", "clear"), help="show entries and size, or delete every entry")
    cache.add_argument("--path", type=Path, default=None, help=f"answer cache (default {default_cache_path()})")
    cache.set_defaults(handler=cache_command)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default="embedded", help="which model answers")
    parser.add_argument("--url", help="OpenAI-compatible base URL (default $POPULACE_LLM_URL), e.g. http://host:8000/v1")
    parser.add_argument("--model", help="model name on the server (default $POPULACE_LLM_MODEL)")
    parser.add_argument("--template-version", default="", help="template version (part of the cache key)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the answer cache")
    parser.add_argument("--cache-path", type=Path, default=None, help=f"answer cache (default {default_cache_path()})")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _options(text: str) -> tuple[str, ...]:
    options = tuple(o.strip() for o in text.split(","))
    if len(options) < 2 or not all(options):
        raise argparse.ArgumentTypeError(f"give 2 or more non-empty comma-separated options (yes,no), got {text!r}")
    return options


def _weights(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give comma-separated numbers, e.g. 0.7,0.3; got {text!r}") from None


def _model(args: argparse.Namespace, *, scripted: dict[str, object], openai: dict[str, object] | None = None):
    """``make_model`` for the command line's backend, URL, model and cache, with ``scripted`` or ``openai``
    backend arguments."""
    kwargs: dict[str, object] = {}
    if args.backend == "openai":
        kwargs.update(url=args.url, model=args.model, **(openai or {}))
    elif args.backend == "scripted":
        kwargs.update(scripted)
    elif args.url or args.model:
        raise InputError("--url and --model are for --backend openai.")
    cache: bool | Path = False if args.no_cache else (args.cache_path or True)
    return make_model(args.backend, cache=cache, **kwargs)


def ask_command(args: argparse.Namespace) -> int:
    query = Query(args.prompt, args.options, args.template_version)
    weights = args.weights or tuple(1.0 / len(args.options) for _ in args.options)
    start = time.perf_counter()
    try:
        model = _model(args, scripted={"answers": lambda q: weights}, openai={"scoring": args.scoring})
        answer = model.answer([query])[0]
    except LLMError as err:
        print(f"populace: error: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    result = {
        "backend": model.backend, "model": model.model, "options": list(query.options),
        "probabilities": dict(zip(query.options, answer.probabilities, strict=True)),
        "option_mass": answer.option_mass, "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens, "cached": answer.cached, "texts": list(answer.texts),
        "unparsed": answer.unparsed, "seconds": round(seconds, 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    width = max(len(o) for o in query.options)
    for option, p in result["probabilities"].items():
        print(f"  {option:<{width}}  {p:.3f}")
    print(f"mass on the options: {answer.option_mass:.3f}" + (f", unparsed samples: {answer.unparsed}"
                                                               if answer.texts and answer.unparsed else ""))
    print(f"{model.backend} {model.model}: {answer.prompt_tokens} prompt + {answer.completion_tokens} completion "
          f"tokens, {'cached' if answer.cached else 'not cached'}, {seconds:.1f} s")
    return 0


def complete_command(args: argparse.Namespace) -> int:
    try:
        query = TextQuery(args.prompt, args.max_tokens, tuple(args.stop), args.template_version)
    except ValueError as e:
        raise InputError(str(e)) from None
    start = time.perf_counter()
    try:
        model = _model(args, scripted={"texts": lambda q: args.text})
        completion = model.complete([query])[0]
    except LLMError as err:
        print(f"populace: error: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps({"backend": model.backend, "model": model.model, "text": completion.text,
                          "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
                          "finished": completion.finished, "cached": completion.cached,
                          "seconds": round(seconds, 3)}, indent=2))
        return 0
    print(completion.text)
    print(f"{model.backend} {model.model}: {completion.prompt_tokens} prompt + {completion.completion_tokens} "
          f"completion tokens, {'finished' if completion.finished else 'cut at --max-tokens'}, "
          f"{'cached' if completion.cached else 'not cached'}, {seconds:.1f} s", file=sys.stderr)
    return 0


def cache_command(args: argparse.Namespace) -> int:
    cache = AnswerCache(args.path)
    if args.what == "clear":
        print(f"cleared {cache.clear()} entries from {cache.path}")
        return 0
    stats = cache.stats()
    print(f"{stats['path']}: {stats['entries']} answers, {stats['completions']} completions, "
          f"{stats['bytes'] / 1e6:.2f} MB")
    for group in stats["by_model"]:
        print(f"  {group['backend']:<10} {group['model']}: {group['entries']}")
    return 0
