"""A tiny model with a closed form, for testing the engine without any network."""

import math

import torch
from torch import Tensor, nn

from populace import sampling
from populace.core import AgentTable, Model, Substep, World


class Death(Substep):
    """Each alive agent dies with probability p_death per day. Writes alive."""

    writes = ("alive",)

    def __init__(self, p_death: float):
        super().__init__()
        self.logit_death = nn.Parameter(torch.tensor(math.log(p_death / (1 - p_death))))

    @property
    def p_death(self) -> Tensor:
        return torch.sigmoid(self.logit_death)

    def forward(self, world: World) -> dict[str, Tensor]:
        alive = world.agents.alive
        u = world.uniform("death", dtype=torch.float64)
        p = self.p_death.double().expand_as(u)
        if world.differentiable:
            return {"alive": alive * (1 - sampling.bernoulli(p, u, straight_through=True))}
        return {"alive": alive & ~sampling.bernoulli(p, u)}


class Decay(Model):
    """N agents, each dying with a fixed daily probability: alive(t) ~ Binomial(N, (1 - p)^t)."""

    def __init__(self, n_agents: int, p_death: float):
        super().__init__()
        self.n_agents = n_agents
        self.death = Death(p_death)

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        alive = torch.ones(self.n_agents, dtype=torch.float64 if differentiable else torch.bool)
        return World.of(AgentTable({"alive": alive}), seed=seed, differentiable=differentiable)

    def forward(self, world: World) -> World:
        return world.update(self.death(world))

    def observe(self, world: World) -> dict[str, Tensor]:
        return {"alive": world.agents.alive.double().sum()}
