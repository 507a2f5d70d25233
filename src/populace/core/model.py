"""`Model` and `Substep`: plain `nn.Module`s, composed explicitly in Python (no registry, no YAML wiring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from torch import Tensor, nn

from populace.core.errors import SubstepOutputError
from populace.core.world import World

if TYPE_CHECKING:
    from populace.core.trajectory import Trajectory


class Substep(nn.Module):
    """One process of a model (transmission, progression, job loss, ...).

    Subclasses implement `forward(world) -> dict[str, Tensor]`, returning only the columns they change, as new
    tensors (no in-place edits); the model applies them with `world.update(...)`. Calibrated quantities are
    `nn.Parameter`s, fixed tensors buffers. `writes` names the columns a substep may return: calling it checks
    that, so a typo fails where it is made.
    """

    writes: ClassVar[tuple[str, ...]] = ()

    def __call__(self, world: World) -> dict[str, Tensor]:
        out = super().__call__(world)
        name = type(self).__name__
        if not isinstance(out, Mapping):
            raise SubstepOutputError(f"{name}.forward must return a dict of changed columns, got {type(out).__name__}")
        undeclared = sorted(set(out) - set(self.writes))
        if undeclared:
            raise SubstepOutputError(
                f"{name} returned column(s) {undeclared} that it does not declare in {name}.writes "
                f"({list(self.writes)}); add them there or return only the declared columns"
            )
        return dict(out)


class Model(nn.Module):
    """A simulation model: `forward(world)` advances the world by one step's processes (a day, a year, ...).

    Subclasses implement three methods and list their substeps in `forward`, one per line:

    - `initial_world(seed=..., differentiable=...) -> World`: the state at step 0;
    - `forward(world) -> World`: apply the substeps in order (the runner then advances the clock);
    - `observe(world) -> dict[str, Tensor]`: the aggregates to record each step (scalars, or [G] per group,
      with group labels in `observable_labels`), of the world after a step: stocks at the step's end and flows
      during it (what its substeps wrote), which the trajectory dates by the step's first day (`Trajectory`).

    Because a model is an `nn.Module`, `parameters()`, `state_dict()` and `.to(device)` just work.
    """

    observable_labels: ClassVar[Mapping[str, Sequence[str]]] = {}

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        raise NotImplementedError(f"{type(self).__name__} must implement initial_world(seed=, differentiable=)")

    def observe(self, world: World) -> dict[str, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must implement observe(world) -> dict of aggregates")

    def run(self, steps: int | None = None, *, days: int | None = None, seed: int = 0, differentiable: bool = False,
            **options: object) -> Trajectory:
        """Run `steps` steps (or `days=` for a daily model) from `initial_world(seed)`; see `populace.run`."""
        from populace.core.runner import run

        return run(self, steps, days=days, seed=seed, differentiable=differentiable,  # type: ignore[arg-type]
                   **options)
