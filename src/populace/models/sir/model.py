"""SIR on a contact network: the smallest complete Populace model, in fast and differentiable mode."""

from __future__ import annotations

import math
from enum import IntEnum

import torch
from torch import Tensor

from populace.core import AgentTable, Model, Positive, Stages, Substep, UnitInterval, World, natural_parameter, rng
from populace.network import Contacts, erdos_renyi


class Stage(IntEnum):
    S = 0
    I = 1  # noqa: E741 (the standard name of the infectious stage)
    R = 2


STAGES = Stages(Stage)


class Transmission(Substep):
    r"""Infect susceptible agents through their contacts, once per day.

    p_i = 1 - exp(-beta * sum_j w_ij I_j); beta: infection hazard per day per unit contact weight (calibrated),
    w_ij: contact weight (`contacts`: any `populace.network.Contacts`), I_j: 1 when j is infectious at the start
    of the day. Reads stage; writes stage (S -> I) and newly_infected (today's infections). In differentiable mode
    the draw's surrogate is "fired" (`populace.sampling.bernoulli`).
    """

    writes = ("stage", "newly_infected")

    def __init__(self, contacts: Contacts, beta_per_day: float):
        super().__init__()
        self.contacts = contacts
        natural_parameter(self, "beta_per_day", beta_per_day, Positive())

    def forward(self, world: World) -> dict[str, Tensor]:
        stage = world.agents.stage
        pressure = self.contacts.aggregate(STAGES.mass(stage, Stage.I), world)
        p = -torch.expm1(-self.beta_per_day * pressure)
        new = world.bernoulli("transmission", p, gradient="fired", among=STAGES.member(stage, Stage.S))
        return {"stage": STAGES.move(stage, new, Stage.S, Stage.I), "newly_infected": new}


class Recovery(Substep):
    r"""Agents infectious since before today recover with probability 1 / infectious_days per day.

    Today's new infections do not recover today, so an infection lasts a Geometric(1 / D) number of days in
    {1, 2, ...}, mean D = `infectious_days`. Reads stage, newly_infected; writes stage (I -> R).
    In differentiable mode the agents eligible are `infectious - newly_infected` as floats, so the sensitivity
    of an agent's infection (its gradient) recovers at the same rate as the infection itself.
    """

    writes = ("stage",)

    def __init__(self, infectious_days: float):
        super().__init__()
        if not (math.isfinite(infectious_days) and infectious_days >= 1):
            raise ValueError(f"infectious_days must be a finite number >= 1 (mean days), got {infectious_days}")
        p_recovery = 1 / infectious_days if infectious_days > 1 else 1 / (1 + math.exp(-20.0))
        natural_parameter(self, "p_recovery", p_recovery, UnitInterval())  # daily, 1 / infectious_days

    def forward(self, world: World) -> dict[str, Tensor]:
        stage = world.agents.stage
        eligible = STAGES.member(stage, Stage.I, excluding=world.agents.newly_infected)
        recovers = world.bernoulli("recovery", self.p_recovery.expand(world.agents.n), among=eligible)
        return {"stage": STAGES.move(stage, recovers, Stage.I, Stage.R)}


class SIR(Model):
    """Susceptible-infectious-recovered epidemic on a contact network.

    Each day, from the state at the start of the day:
    1. transmission: a susceptible agent with infectious contacts is infected with probability
       1 - exp(-beta * sum of the contacts' weights);
    2. recovery: an agent infected on an earlier day recovers with probability 1 / infectious_days.
    Day 0 starts with `initial_infected` agents infectious, chosen at random from the seed.

    In fast mode the stage is a uint8 code (`Stage`); in differentiable mode a float one-hot [N, 3] whose
    draws are straight-through Bernoulli, so gradients reach `beta_per_day` and `infectious_days` while the
    forward pass samples exactly what fast mode samples (same seed, same trajectory).
    """

    def __init__(self, contacts: Contacts, n_agents: int, *, beta_per_day: float = 0.03,
                 infectious_days: float = 5.0, initial_infected: int = 10):
        super().__init__()
        if not 0 < initial_infected <= n_agents:
            raise ValueError(f"initial_infected must be in [1, n_agents={n_agents}], got {initial_infected}")
        if getattr(contacts, "n_agents", n_agents) != n_agents:
            raise ValueError(f"contacts are built for {contacts.n_agents} agents but n_agents is {n_agents}")
        self.n_agents, self.initial_infected = n_agents, initial_infected
        self.transmission = Transmission(contacts, beta_per_day)
        self.recovery = Recovery(infectious_days)

    @classmethod
    def random_network(cls, n_agents: int, *, contacts_per_agent: float = 20.0, network_seed: int = 0,
                       **params: float) -> SIR:
        """SIR on a static Erdős–Rényi network with Poisson(`contacts_per_agent`) contacts per agent."""
        return cls(erdos_renyi(n_agents, contacts_per_agent, seed=network_seed), n_agents, **params)

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        ids = torch.arange(self.n_agents, dtype=torch.int32)
        u = rng.uniform(seed, 0, "initial_infected", ids)
        codes = torch.full((self.n_agents,), Stage.S, dtype=torch.uint8)
        codes[torch.topk(u, self.initial_infected, largest=False).indices] = Stage.I
        newly_infected = torch.zeros(self.n_agents, dtype=torch.float32 if differentiable else torch.bool)
        table = AgentTable({"id": ids, "stage": STAGES.encode(codes, differentiable=differentiable),
                            "newly_infected": newly_infected})
        return World.of(table, seed=seed, differentiable=differentiable)

    def forward(self, world: World) -> World:
        world = world.update(self.transmission(world))
        return world.update(self.recovery(world))

    def observe(self, world: World) -> dict[str, Tensor]:
        counts = STAGES.counts(world.agents.stage)
        return {"susceptible": counts[Stage.S], "infectious": counts[Stage.I], "recovered": counts[Stage.R],
                "new_infections": world.agents.newly_infected.sum(dtype=counts.dtype)}
