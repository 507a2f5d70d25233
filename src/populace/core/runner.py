"""`run()`: step a model over its steps (days, weeks, years: `World.step_length`), recording a `Trajectory`."""

from __future__ import annotations

import contextlib

import torch
from torch.utils.checkpoint import checkpoint

from populace.core.clock import StepLength
from populace.core.memory import large_blocks_unmapped
from populace.core.model import Model
from populace.core.progress import progress_bar
from populace.core.trajectory import Trajectory
from populace.core.world import World


def run(
    model: Model,
    steps: int | None = None,
    *,
    days: int | None = None,
    seed: int = 0,
    differentiable: bool = False,
    world: World | None = None,
    device: str | torch.device | None = None,
    record_every: int = 1,
    max_records: int = 100_000,
    checkpoint_steps: int | None = None,
    progress: bool | None = None,
) -> Trajectory:
    """Advance `model` by `steps` steps and return the recorded `Trajectory`: `model.observe` of the world it starts
    from, then of the world after each step, a row per period with its stocks at the end and its flows during it,
    dated by the period's first day (the convention of `Trajectory`).

    Args:
        model: the model to step.
        steps: number of steps to simulate (>= 0), each of the world's `step_length`.
        days: the same as `steps`, for a model whose step is a day (`model.run(days=100)`); give one of the two.
        seed: seed of the counter-based random numbers (ignored when `world` is given: it has its own).
        differentiable: keep gradients (float states, straight-through draws); otherwise run under
            `torch.no_grad()` with compact states (fast mode). A differentiable run returns large freed blocks
            to the system as it goes (`populace.core.memory`), so its resident memory follows the graph's.
        world: start from this world instead of `model.initial_world(seed=...)` (e.g. a saved state).
        device: move the model and world here first ("cpu", "cuda"); default: where they are.
        record_every: record observables every this many steps (the first and last step are always kept).
        max_records: cap on the records kept (bounded memory).
        checkpoint_steps: in differentiable mode, keep for the backward pass only the world at every
            `checkpoint_steps`-th step and recompute the steps in between during backward (time checkpointing,
            `torch.utils.checkpoint`): memory grows with steps / checkpoint_steps instead of steps, for about one
            more forward pass of compute. The counter-based RNG makes the recomputation draw the same numbers.
        progress: show a progress bar; None shows it only on an interactive terminal.
    """
    if (steps is None) == (days is None):
        raise TypeError(f"run needs the number of steps: pass steps= (or days= for a daily model), got steps={steps!r}"
                        f" and days={days!r}")
    what = "steps" if days is None else "days"
    steps = steps if days is None else days
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"{what} must be an int >= 0, got {steps!r}")
    if not isinstance(record_every, int) or record_every < 1:
        raise ValueError(f"record_every must be an int >= 1, got {record_every!r}")
    n_records = steps // record_every + 2
    if n_records > max_records:
        raise ValueError(f"{steps} {what} recorded every {record_every} need up to {n_records} records but "
                         f"max_records is {max_records}; raise max_records or record_every")
    if checkpoint_steps is not None and (not isinstance(checkpoint_steps, int) or checkpoint_steps < 1):
        raise ValueError(f"checkpoint_steps must be an int >= 1 or None, got {checkpoint_steps!r}")
    check_parameters(model)
    if device is not None:
        model = model.to(device)
    grad_mode = contextlib.nullcontext() if differentiable else torch.no_grad()
    memory = large_blocks_unmapped() if differentiable else contextlib.nullcontext()
    with grad_mode, memory:
        if world is None:
            world = model.initial_world(seed=seed, differentiable=differentiable)
        elif world.differentiable != differentiable:
            raise ValueError(f"world.differentiable is {world.differentiable} but the run asks for "
                             f"differentiable={differentiable}; build the world in the mode you run it")
        if device is not None:
            world = world.to(device)
        if days is not None and world.step_length is not StepLength.DAY:
            raise ValueError(f"{type(model).__name__} steps in {world.step_length.value}s, not days: pass "
                             f"steps={days} to run {days} {world.step_length.value}s")
        trajectory = Trajectory(labels=model.observable_labels, start_date=world.start_date,
                                step_length=world.step_length, max_records=max_records)
        trajectory.record(world.step, model.observe(world))
        last_step = world.step + steps
        bar = progress_bar(steps, desc=type(model).__name__, unit=world.step_length.value, progress=progress,
                           leave=False)
        block = checkpoint_steps if (differentiable and checkpoint_steps) else 1
        with bar:
            while world.step < last_step:
                n_steps = min(block, last_step - world.step)
                if block > 1:
                    world, records = checkpoint(_advance, model, world, n_steps, record_every, last_step,
                                                use_reentrant=False)
                else:
                    world, records = _advance(model, world, n_steps, record_every, last_step)
                for step, values in records:
                    trajectory.record(step, values)
                bar.update(n_steps)
    trajectory.final_world = world
    return trajectory


def _advance(model: Model, world: World, n_steps: int, record_every: int,
             last_step: int) -> tuple[World, list[tuple[int, dict[str, torch.Tensor]]]]:
    """Take `n_steps` steps; return the new world and the observables of the steps to record."""
    records = []
    for _ in range(n_steps):
        world = model(world).advance()
        if world.step % record_every == 0 or world.step == last_step:
            records.append((world.step, model.observe(world)))
    return world, records


def check_parameters(model: torch.nn.Module) -> None:
    """Refuse a model whose parameters or persistent buffers hold NaN or infinite values, naming them (contact
    structures are non-persistent data, checked when built)."""
    bad = [name for name, value in model.state_dict().items()
           if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if bad:
        raise ValueError(f"{type(model).__name__} has NaN or infinite values in {', '.join(bad)}; "
                         "check the values it was built with (or the last optimiser step)")
