"""The `populace` command line's argument types (each parses one value or says what is wrong with it) and the flags
several commands share, each defined once here (`add_run_flags`, `add_simulation_flags`, ...)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

T = TypeVar("T")


def _number(text: str, kind: type, what: str) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _number(text, int, "an integer >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float, "a number > 0")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float, "a number >= 0")
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def device(text: str) -> str:
    """A torch device that exists on this machine ("cpu", "cuda", "cuda:1")."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a torch device; use cpu or cuda (or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: no CUDA device here (PyTorch {torch.__version__}); use cpu")
    if device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"{text!r}: only cpu and cuda devices are supported")
    return text


def output_dir(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a directory; choose a folder for the outputs")
    return path


def fraction(text: str) -> float:
    value = _number(text, float, "a fraction in (0, 1]")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1], e.g. 0.01 for 1%, got {text}")
    return value


def iso_date(text: str) -> dt.date:
    """A calendar date written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD such as 2020-03-01, got {text!r}") from None


def checked(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a checker that raises ValueError with its own message (argparse would otherwise print
    only "invalid value"): the message becomes the argument's error."""
    def parse(text: str) -> T:
        try:
            return check(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    parse.__name__ = check.__name__
    return parse


RUN_SEED_HELP = "seed of the run's random numbers"


def add_run_flags(parser: argparse.ArgumentParser, *, out: Path, seed_help: str = RUN_SEED_HELP) -> None:
    """--seed, --out (default `out`) and --threads: the flags of every `populace run MODEL` (and `calibrate`)."""
    parser.add_argument("--seed", type=non_negative_int, default=1, help=seed_help)
    add_out_flag(parser, default=out)
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all cores)")


def add_out_flag(parser: argparse.ArgumentParser, *, default: Path | None, help: str = "output directory") -> None:
    """--out: a folder for the outputs (`output_dir`), default `default`."""
    parser.add_argument("--out", type=output_dir, default=default, help=help)


def add_resume_flag(parser: argparse.ArgumentParser, *, help: str) -> None:
    """--resume: continue an interrupted run in --out (`help` says from what)."""
    parser.add_argument("--resume", action="store_true", help=help)


def add_control_training_flags(parser: argparse.ArgumentParser, *, out: Path, iterations: int, learning_rate: float,
                                seeds_per_step: int, eval_seeds: int) -> None:
    """The flags of every `populace control TASK`: the gradient fit (--iterations, --learning-rate,
    --seeds-per-step), the held-out evaluation (--eval-seeds), the run flags, --resume and --no-progress."""
    parser.add_argument("--iterations", type=positive_int, default=iterations, help="gradient steps (Adam)")
    parser.add_argument("--learning-rate", type=positive_float, default=learning_rate, help="Adam's learning rate")
    parser.add_argument("--seeds-per-step", type=positive_int, default=seeds_per_step,
                        help="runs averaged per gradient step (and per ES evaluation)")
    parser.add_argument("--eval-seeds", type=positive_int, default=eval_seeds, help="held-out seeds per method")
    add_run_flags(parser, out=out, seed_help="seed of the training runs and of the controller's initial weights")
    add_resume_flag(parser, help="continue the gradient fit from OUT/training/checkpoint.pt")
    add_progress_flag(parser)


def add_scale_flag(parser: argparse.ArgumentParser, *, of: str = "NYC's 8.34 million people") -> None:
    """--scale: the population's fraction (`fraction`) of the real one, default 0.01; `of` names the real one."""
    parser.add_argument("--scale", type=fraction, default=0.01, help=f"fraction of {of}, in (0, 1]")


def add_population_seed_flag(parser: argparse.ArgumentParser) -> None:
    """--population-seed: the seed of the synthetic population a command builds, default 1."""
    parser.add_argument("--population-seed", type=non_negative_int, default=1, help="seed of the synthetic population")


def add_simulation_flags(parser: argparse.ArgumentParser, *, days: int, allow_zero_days: bool = False) -> None:
    """--days (default `days`; >= 1, or >= 0 with `allow_zero_days`), --differentiable and --no-progress: the flags
    of a model that runs day by day (`Model.run`)."""
    parser.add_argument("--days", type=non_negative_int if allow_zero_days else positive_int, default=days,
                        help="days to simulate")
    parser.add_argument("--differentiable", action="store_true",
                        help="run in differentiable mode (same dynamics; float states and straight-through draws "
                             "keep gradients)")
    add_progress_flag(parser)


def add_progress_flag(parser: argparse.ArgumentParser) -> None:
    """--no-progress: hide the progress bar (`progress=False if args.no_progress else None`)."""
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_device_flag(parser: argparse.ArgumentParser) -> None:
    """--device: a torch device that exists here (`device`), default cpu."""
    parser.add_argument("--device", type=device, default="cpu", help="torch device, e.g. cpu or cuda")


def add_data_dir_flag(parser: argparse.ArgumentParser) -> None:
    """--data-dir: the folder of the source tables, default None (`populace.data.paths.data_dir()` chooses)."""
    parser.add_argument("--data-dir", default=None, help="folder of the source tables (default: populace.data's)")
