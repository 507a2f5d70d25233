"""A deterministic controlled model for exact checks: logistic growth with harvesting."""

import torch
from torch import Tensor

from populace.core import AgentTable, Model, World


class Logistic(Model):
    """x(t + 1) = x + g x (1 - x) - u x, u = world.env["harvest"] (one row, float64)."""

    def __init__(self, growth: float = 0.5, initial: float = 0.1):
        super().__init__()
        self.growth, self.initial = growth, initial

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        table = AgentTable({"id": torch.zeros(1, dtype=torch.int32),
                            "x": torch.full((1,), self.initial, dtype=torch.float64)})
        return World.of(table, seed=seed, differentiable=differentiable)

    def forward(self, world: World) -> World:
        x, u = world.agents.x, world.env["harvest"]
        return world.update({"x": x + self.growth * x * (1 - x) - u * x})

    def observe(self, world: World) -> dict[str, Tensor]:
        return {"x": world.agents.x[0]}
