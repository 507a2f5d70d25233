r"""`Controlled`: a model whose control variables come from a policy, evaluated at the start of every step.

At step t (of a run of `horizon` steps) the policy sees t / horizon and the model's observed aggregates o(t)
(`model.observe` of the world at the step's start, the names the policy lists) and returns the controls
u(t) = policy(t / horizon, o(t)); they are put in the world's environment under their names
(`world.env["predator_removal"]`), where the model's substeps read them, and the model takes its step. In a
differentiable run the controls carry the gradient of the policy's weights and, through o(t), of the state: the
controller is trained through the closed loop.

Observables: the model's own, plus each control under its name; a row after step t holds the controls applied
during it (the first row, the initial world, holds u(0), the controls of the first step).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from populace.core.model import Model
from populace.core.world import World


class Controlled(Model):
    """`model` with its controls set by `policy` each step (module docstring)."""

    observable_labels: ClassVar[Mapping[str, Sequence[str]]] = {}

    def __init__(self, model: Model, policy: nn.Module, *, horizon: int):
        super().__init__()
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be an int >= 1 (the steps of a controlled run), got {horizon!r}")
        if not hasattr(policy, "variables"):
            raise TypeError(f"policy must list the controls it sets in .variables, like populace.control.Controller; "
                            f"got {type(policy).__name__}")
        self.model, self.policy, self.horizon = model, policy, horizon
        self.observable_labels = dict(getattr(model, "observable_labels", {}))

    @property
    def names(self) -> tuple[str, ...]:
        """The controls' names, in the policy's order."""
        return tuple(v.name for v in self.policy.variables)

    def extra_repr(self) -> str:
        return f"horizon={self.horizon}"

    def controls(self, world: World) -> Tensor:
        """u(t) [C] for the world at the start of step t."""
        observed = self.model.observe(world)
        missing = [name for name in self.policy.observed if name not in observed]
        if missing:
            raise KeyError(f"the policy observes {missing}, which {type(self.model).__name__} does not record (it "
                           f"records: {', '.join(observed)})")
        features = [observed[name].reshape(()) for name in self.policy.observed]
        reference = next(iter(observed.values()))
        x = torch.stack(features) if features else reference.new_zeros(0, dtype=torch.float32)
        t = torch.tensor(world.step / self.horizon, device=world.device)
        return self.policy(t, x)

    def with_controls(self, world: World) -> World:
        """The world with u(t) in its environment."""
        u = self.controls(world)
        return world.with_env(**{name: u[c] for c, name in enumerate(self.names)})

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        return self.with_controls(self.model.initial_world(seed=seed, differentiable=differentiable))

    def forward(self, world: World) -> World:
        world = self.with_controls(world)
        return self.model(world)

    def observe(self, world: World) -> dict[str, Tensor]:
        return {**self.model.observe(world), **{name: world.env[name] for name in self.names}}
