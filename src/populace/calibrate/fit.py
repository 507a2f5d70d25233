r"""The fitting loop: Adam on the seed-averaged loss of a `CalibrationProblem`, with checkpoints and resume.

Iteration i runs the problem with the seeds `iteration_seeds(seed, i, k)` (derived from the run seed, so an
interrupted and resumed fit draws exactly what an uninterrupted one draws), averages the k losses
(`total_loss` of its named terms), back-propagates, clips the gradient norm and takes one Adam step at the learning
rate lr_i = learning_rate x learning_rate_decay^i (a function of i alone, so a resumed fit needs no scheduler
state). A step whose loss or gradient is not finite is skipped with a warning (the history records it). Every
`checkpoint_every` iterations the trained tensors, the optimiser state and the history are written to
`checkpoint.pt` in the output folder (`torch.save` of plain tensors and numbers, atomically, read back with
`weights_only=True`); `resume=True` continues from it, and refuses a checkpoint written with other settings
(`iterations` aside: a resumed fit may go further), other loss weights or other shapes of the trained tensors.

The history has one row per iteration: `iteration`, `loss` (the weighted total), one column per loss term (named
by the problem), `grad_norm` (before clipping), `skipped` (1 for a skipped step), `learning_rate`, `seconds`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from populace.calibrate.problem import CalibrationProblem, total_loss, trainable
from populace.core.progress import progress_bar

CHECKPOINT_NAME = "checkpoint.pt"
FIRST_COLUMNS = ("iteration", "loss")
LAST_COLUMNS = ("grad_norm", "skipped", "learning_rate", "seconds")


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """Settings of `fit`: iterations, Adam's learning rate (times `learning_rate_decay` ** iteration), clipping norm
    (`math.inf`: no clipping), seeds per step, run seed, checkpoints."""

    iterations: int = 30
    learning_rate: float = 0.05
    learning_rate_decay: float = 1.0
    clip_norm: float = 5.0
    seeds_per_step: int = 1
    seed: int = 0
    checkpoint_every: int = 5

    def __post_init__(self) -> None:
        for name in ("iterations", "seeds_per_step", "checkpoint_every"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        if not (self.learning_rate > 0 and self.clip_norm > 0):
            raise ValueError(f"learning_rate and clip_norm must be > 0, got {self.learning_rate}, {self.clip_norm}")
        if not 0 < self.learning_rate_decay <= 1:
            raise ValueError(f"learning_rate_decay must be in (0, 1] (1: constant), got {self.learning_rate_decay}")

    def learning_rate_at(self, iteration: int) -> float:
        return self.learning_rate * self.learning_rate_decay**iteration


def iteration_seeds(seed: int, iteration: int, k: int) -> list[int]:
    """The k simulator seeds of an iteration, a function of (run seed, iteration) only."""
    return [(seed * 1_000_003 + iteration * 7919 + j) % 2**31 for j in range(k)]


def history_columns(term_names: list[str]) -> list[str]:
    """The history's columns for these loss terms; a term may not take a reserved column's name."""
    clash = sorted(set(term_names) & {*FIRST_COLUMNS, *LAST_COLUMNS})
    if clash:
        raise ValueError(f"loss terms may not be named {clash}: the history has columns of those names; rename the "
                         "terms in loss_terms")
    return [*FIRST_COLUMNS, *term_names, *LAST_COLUMNS]


RESUMED_MAY_CHANGE = ("iterations",)
"""The `FitSettings` a resumed fit may change: how far it goes (the rest must be the checkpoint's, or the resumed
fit would not be the uninterrupted one)."""


def _checkpoint_state(problem: CalibrationProblem, settings: FitSettings, optimizer: torch.optim.Optimizer,
                      iteration: int, columns: list[str], history: list[dict[str, float]]) -> dict[str, object]:
    return {"iteration": iteration,
            "settings": dataclasses.asdict(settings),
            "loss_weights": {name: float(w) for name, w in problem.loss_weights.items()},
            "trainable": {n: p.detach().clone() for n, p in trainable(problem).items()},
            "optimizer": optimizer.state_dict(),
            "columns": columns,
            "history": {c: [float(row[c]) for row in history] for c in columns}}


def save_checkpoint(path: Path, state: dict[str, object]) -> None:
    """Write atomically (a temporary file renamed), so an interrupt never leaves half a checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, problem: CalibrationProblem, settings: FitSettings,
                    optimizer: torch.optim.Optimizer) -> tuple[int, list[str], list[dict[str, float]]]:
    """Restore the trained tensors and the optimiser; return (iterations done, history columns, history rows).

    Refuses (ValueError naming what differs) a checkpoint of other settings (but `RESUMED_MAY_CHANGE`), other loss
    weights, other trained tensors or other shapes of them.
    """
    state = torch.load(path, weights_only=True)
    fix = "resume with the settings and problem the fit was started with, or start afresh in another folder"
    stored = state.get("settings", {})
    changed = [f"{name} ({stored.get(name)!r} in the checkpoint, {value!r} now)"
               for name, value in dataclasses.asdict(settings).items()
               if name not in RESUMED_MAY_CHANGE and stored.get(name) != value]
    if changed:
        raise ValueError(f"{path} was written with other fit settings: {', '.join(changed)}; {fix}")
    weights = {name: float(w) for name, w in problem.loss_weights.items()}
    if state.get("loss_weights") != weights:
        raise ValueError(f"{path} was written with loss_weights {state.get('loss_weights')}, this problem has "
                         f"{weights}; {fix}")
    params = trainable(problem)
    if set(state["trainable"]) != set(params):
        raise ValueError(f"{path} holds {sorted(state['trainable'])} but this problem trains {sorted(params)}; "
                         "resume with the same problem (mode, targets, frozen tensors), or start afresh")
    shapes = [f"{name} ({list(value.shape)} in the checkpoint, {list(params[name].shape)} now)"
              for name, value in state["trainable"].items() if value.shape != params[name].shape]
    if shapes:
        raise ValueError(f"{path} holds trained tensors of other shapes: {', '.join(shapes)}; {fix}")
    with torch.no_grad():
        for name, value in state["trainable"].items():
            params[name].copy_(value)
    optimizer.load_state_dict(state["optimizer"])
    columns = list(state["columns"])
    history = [{**dict(zip(columns, values, strict=True)), "iteration": int(values[0])}
               for values in zip(*(state["history"][c] for c in columns), strict=True)]
    return int(state["iteration"]), columns, history


def gradient_step(problem: CalibrationProblem, seeds: list[int]) -> tuple[float, dict[str, float]]:
    """Accumulate the gradient of the mean loss over `seeds` (one backward per seed); return (loss, terms)."""
    total, parts = 0.0, {}
    for seed in seeds:
        terms = problem.loss_terms(seed)
        loss = total_loss(problem, terms)
        (loss / len(seeds)).backward()
        total += float(loss.detach()) / len(seeds)
        for name, value in terms.items():
            parts[name] = parts.get(name, 0.0) + float(value.detach()) / len(seeds)
    return total, parts


def fit(problem: CalibrationProblem, settings: FitSettings, *, out: str | os.PathLike[str] | None = None,
        resume: bool = False, progress: bool | None = None,
        after_step: Callable[[], None] | None = None) -> pd.DataFrame:
    """Fit `trainable(problem)` by Adam; returns the history (module docstring).

    With `out`, checkpoints go to `out/checkpoint.pt`; `resume=True` continues from there (a missing checkpoint
    starts afresh). `after_step`, called under `no_grad` after every optimiser step, may change the trained
    tensors in place (e.g. project them onto a constraint set). The trained tensors are left at the last iterate.
    """
    params = trainable(problem)
    if not params:
        raise ValueError(f"{type(problem).__name__} has no parameter with requires_grad: nothing to fit")
    optimizer = torch.optim.Adam(params.values(), lr=settings.learning_rate)
    path = None if out is None else Path(out) / CHECKPOINT_NAME
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    done, columns, history = 0, None, []
    if resume:
        if path is None:
            raise ValueError("resume=True needs the output folder of the interrupted fit (out=...)")
        if path.exists():
            done, columns, history = load_checkpoint(path, problem, settings, optimizer)
    bar = progress_bar(settings.iterations, initial=done, desc="calibrate", unit="it", progress=progress)
    with bar:
        for iteration in range(done, settings.iterations):
            started = time.perf_counter()
            learning_rate = settings.learning_rate_at(iteration)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate
            optimizer.zero_grad(set_to_none=True)
            loss, parts = gradient_step(problem, iteration_seeds(settings.seed, iteration, settings.seeds_per_step))
            if columns is None:
                columns = history_columns(list(parts))
            elif list(parts) != columns[len(FIRST_COLUMNS):-len(LAST_COLUMNS)]:
                raise ValueError(f"iteration {iteration}: loss terms {list(parts)} differ from the first iteration's "
                                 f"{columns[len(FIRST_COLUMNS):-len(LAST_COLUMNS)]}; return the same terms every run")
            grads = [p.grad for p in params.values() if p.grad is not None]
            norm = float(torch.nn.utils.clip_grad_norm_(list(params.values()), settings.clip_norm)) if grads else 0.0
            skipped = not (math.isfinite(loss) and math.isfinite(norm))
            if skipped:
                warnings.warn(f"iteration {iteration}: loss {loss}, gradient norm {norm}: not finite, step skipped",
                              RuntimeWarning, stacklevel=2)
                optimizer.zero_grad(set_to_none=True)
            else:
                optimizer.step()
                if after_step is not None:
                    with torch.no_grad():
                        after_step()
            history.append({"iteration": iteration, "loss": loss, **parts, "grad_norm": norm,
                            "skipped": float(skipped), "learning_rate": learning_rate,
                            "seconds": time.perf_counter() - started})
            bar.set_postfix(loss=f"{loss:.4f}")
            bar.update(1)
            last = iteration + 1 == settings.iterations
            if path is not None and ((iteration + 1) % settings.checkpoint_every == 0 or last):
                save_checkpoint(path, _checkpoint_state(problem, settings, optimizer, iteration + 1, columns, history))
    return pd.DataFrame(history, columns=columns)

