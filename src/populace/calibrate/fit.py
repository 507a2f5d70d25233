r"""The fitting loop: Adam on the seed-averaged loss of differentiable runs, with checkpoints and resume.

Iteration i runs the simulator with the seeds `iteration_seeds(seed, i, k)` (derived from the run seed, so an
interrupted and resumed fit draws exactly what an uninterrupted one draws), averages the k losses, back-propagates
through the runs (time-checkpointed), clips the gradient norm and takes one Adam step. A step whose loss or gradient
is not finite is skipped with a warning (the history records it). Every `checkpoint_every` iterations the learned
tensors, the optimiser state and the history are written to `checkpoint.pt` in the output folder (`torch.save` of
plain tensors and numbers, read back with `weights_only=True`); `resume=True` continues from it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from populace.calibrate.problem import Calibration

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_COLUMNS = ("iteration", "loss", "cases", "deaths", "unemployment", "grad_norm", "skipped", "seconds")


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """Settings of `fit`: iterations, Adam's learning rate (times `learning_rate_decay` ** iteration), clipping norm,
    seeds per step, run seed, checkpoints."""

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


def iteration_seeds(seed: int, iteration: int, k: int) -> list[int]:
    """The k simulator seeds of an iteration, a function of (run seed, iteration) only."""
    return [(seed * 1_000_003 + iteration * 7919 + j) % 2**31 for j in range(k)]


def _checkpoint_state(calibration: Calibration, optimizer: torch.optim.Optimizer, iteration: int,
                      history: list[dict[str, float]]) -> dict[str, object]:
    return {"iteration": iteration,
            "trainable": {n: p.detach().clone() for n, p in calibration.trainable().items()},
            "optimizer": optimizer.state_dict(),
            "history": {c: [float(row[c]) for row in history] for c in HISTORY_COLUMNS}}


def save_checkpoint(path: Path, state: dict[str, object]) -> None:
    """Write atomically (a temporary file renamed), so an interrupt never leaves half a checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, calibration: Calibration, optimizer: torch.optim.Optimizer) -> tuple[int, list]:
    """Restore the learned tensors and the optimiser; return (iterations done, history rows)."""
    state = torch.load(path, weights_only=True)
    trainable = calibration.trainable()
    if set(state["trainable"]) != set(trainable):
        raise ValueError(f"{path} holds {sorted(state['trainable'])} but this calibration learns "
                         f"{sorted(trainable)}; resume with the same mode and targets, or start afresh")
    with torch.no_grad():
        for name, value in state["trainable"].items():
            trainable[name].copy_(value)
    optimizer.load_state_dict(state["optimizer"])
    history = [dict(zip(HISTORY_COLUMNS, values, strict=True))
               for values in zip(*(state["history"][c] for c in HISTORY_COLUMNS), strict=True)]
    return int(state["iteration"]), history


def gradient_step(calibration: Calibration, seeds: list[int]) -> tuple[float, dict[str, float]]:
    """Accumulate the gradient of the mean loss over `seeds` (one backward per seed); return (loss, terms)."""
    total, parts = 0.0, {}
    for seed in seeds:
        loss, terms = calibration.seed_loss(seed)
        (loss / len(seeds)).backward()
        total += float(loss.detach()) / len(seeds)
        for name, value in terms.items():
            parts[name] = parts.get(name, 0.0) + value / len(seeds)
    return total, parts


def fit(calibration: Calibration, settings: FitSettings, *, out: str | os.PathLike[str] | None = None,
        resume: bool = False, progress: bool | None = None) -> pd.DataFrame:
    """Fit `calibration.trainable()` by Adam; returns the history (one row per iteration, `HISTORY_COLUMNS`).

    With `out`, checkpoints go to `out/checkpoint.pt`; `resume=True` continues from there (a missing checkpoint
    starts afresh). The learned tensors are left at the last iterate.
    """
    trainable = calibration.trainable()
    optimizer = torch.optim.Adam(trainable.values(), lr=settings.learning_rate)
    path = None if out is None else Path(out) / CHECKPOINT_NAME
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    done, history = 0, []
    if resume:
        if path is None:
            raise ValueError("resume=True needs the output folder of the interrupted fit (out=...)")
        if path.exists():
            done, history = load_checkpoint(path, calibration, optimizer)
    bar = tqdm(total=settings.iterations, initial=done, desc="calibrate", unit="it", disable=_disable(progress))
    with bar:
        for iteration in range(done, settings.iterations):
            started = time.perf_counter()
            for group in optimizer.param_groups:  # a function of the iteration alone, so --resume needs no state
                group["lr"] = settings.learning_rate * settings.learning_rate_decay**iteration
            optimizer.zero_grad(set_to_none=True)
            loss, parts = gradient_step(calibration, iteration_seeds(settings.seed, iteration,
                                                                     settings.seeds_per_step))
            grads = [p.grad for p in trainable.values() if p.grad is not None]
            norm = float(torch.nn.utils.clip_grad_norm_(list(trainable.values()), settings.clip_norm)) if grads else 0.0
            skipped = not (math.isfinite(loss) and math.isfinite(norm))
            if skipped:
                warnings.warn(f"iteration {iteration}: loss {loss}, gradient norm {norm}: not finite, step skipped",
                              RuntimeWarning, stacklevel=2)
                optimizer.zero_grad(set_to_none=True)
            else:
                optimizer.step()
            history.append({"iteration": iteration, "loss": loss, "cases": parts.get("cases", math.nan),
                            "deaths": parts.get("deaths", math.nan),
                            "unemployment": parts.get("unemployment", math.nan), "grad_norm": norm,
                            "skipped": float(skipped), "seconds": time.perf_counter() - started})
            bar.set_postfix(loss=f"{loss:.4f}")
            bar.update(1)
            last = iteration + 1 == settings.iterations
            if path is not None and ((iteration + 1) % settings.checkpoint_every == 0 or last):
                save_checkpoint(path, _checkpoint_state(calibration, optimizer, iteration + 1, history))
    return pd.DataFrame(history, columns=list(HISTORY_COLUMNS))


def _disable(progress: bool | None) -> bool | None:
    return None if progress is None else not progress
