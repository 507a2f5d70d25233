"""Predator-prey on a lattice: prey spread into empty sites, predators into prey sites, predators die (or are
removed by a control)."""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

import torch
from torch import Tensor

from populace.core import AgentTable, Model, Positive, Stages, Substep, UnitInterval, World, natural_parameter, rng
from populace.models.predator_prey.lattice import torus_lattice
from populace.network import Contacts

Gradient = Literal["identity", "fired"]

REMOVAL = "predator_removal"
"""The environment value a controller sets: extra hazard of predator death per step (0 without a controller)."""


class Site(IntEnum):
    EMPTY = 0
    PREY = 1
    PREDATOR = 2


SITES = Stages(Site)


class Reproduction(Substep):
    r"""Prey spread into empty sites, predators into prey sites (eating the prey), from the state at the step's start.

    An empty site becomes prey with p = 1 - exp(-b f_prey), a prey site becomes a predator with p = 1 - exp(-a
    f_pred); f_prey, f_pred: fraction of the site's contacts (weights summing to 1) holding prey, predators.
    b = `prey_birth_per_step`, a = `predation_per_step`. Reads and writes site.
    """

    writes = ("site",)

    def __init__(self, contacts: Contacts, prey_birth_per_step: float, predation_per_step: float, *,
                 gradient: Gradient = "fired"):
        super().__init__()
        self.contacts, self.gradient = contacts, gradient
        natural_parameter(self, "prey_birth_per_step", prey_birth_per_step, Positive())
        natural_parameter(self, "predation_per_step", predation_per_step, Positive())

    def forward(self, world: World) -> dict[str, Tensor]:
        site = world.agents.site
        f_prey = self.contacts.aggregate(SITES.mass(site, Site.PREY), world)
        f_pred = self.contacts.aggregate(SITES.mass(site, Site.PREDATOR), world)
        born = SITES.member(site, Site.EMPTY) * world.bernoulli(
            "prey_birth", -torch.expm1(-self.prey_birth_per_step * f_prey), gradient=self.gradient)
        eaten = SITES.member(site, Site.PREY) * world.bernoulli(
            "predation", -torch.expm1(-self.predation_per_step * f_pred), gradient=self.gradient)
        site = SITES.move(site, born, Site.EMPTY, Site.PREY)
        return {"site": SITES.move(site, eaten, Site.PREY, Site.PREDATOR)}


class Death(Substep):
    r"""Predators present at the step's start (not those born this step) die with p = 1 - (1 - d) exp(-r).

    d = `p_predator_death` per step; r: the control's removal hazard, `world.env["predator_removal"]` (0 when the
    world has none). Reads site, predators_at_start (a part of today's predators: reproduction only adds to them, so
    the draw multiplies that column alone, and its derivative moves only the mass that dies); writes site.
    """

    writes = ("site",)

    def __init__(self, p_predator_death: float, *, gradient: Gradient = "fired"):
        super().__init__()
        self.gradient = gradient
        natural_parameter(self, "p_predator_death", p_predator_death, UnitInterval())

    def forward(self, world: World) -> dict[str, Tensor]:
        site = world.agents.site
        removal = world.env.get(REMOVAL, torch.zeros((), device=world.device))
        p = 1 - (1 - self.p_predator_death) * torch.exp(-removal)
        dies = world.bernoulli("predator_death", p.expand(world.agents.n), gradient=self.gradient,
                               among=world.agents.predators_at_start)
        return {"site": SITES.move(site, dies, Site.PREDATOR, Site.EMPTY)}


class PredatorPrey(Model):
    """Stochastic lattice predator-prey (after Satulovsky & Tomé 1994, Phys. Rev. E 49, 5073).

    Sites are agents holding nothing, prey or a predator. Each step, from the state at its start:
    1. reproduction: an empty site becomes prey with probability 1 - exp(-b x the fraction of its neighbours that
       are prey); a prey site becomes a predator (eaten, a predator born) with probability 1 - exp(-a x the fraction
       of its neighbours that are predators);
    2. death: a predator present at the start dies with probability 1 - (1 - d) exp(-r), r the controlled removal
       hazard (`world.env["predator_removal"]`, 0 without a controller).
    Step 0 puts prey on `initial_prey` and predators on `initial_predators` of the sites at random (from the seed).
    Observables: prey and predators as fractions of the sites.
    """

    def __init__(self, contacts: Contacts, n_sites: int, *, prey_birth_per_step: float = 1.0,
                 predation_per_step: float = 1.5, p_predator_death: float = 0.15, initial_prey: float = 0.3,
                 initial_predators: float = 0.1, gradient: Gradient = "fired"):
        super().__init__()
        if not (initial_prey >= 0 and initial_predators >= 0 and initial_prey + initial_predators <= 1):
            raise ValueError(f"initial_prey and initial_predators must be fractions summing to at most 1, got "
                             f"{initial_prey} and {initial_predators}")
        if getattr(contacts, "n_agents", n_sites) != n_sites:
            raise ValueError(f"contacts are built for {contacts.n_agents} sites but n_sites is {n_sites}")
        self.n_sites, self.initial_prey, self.initial_predators = n_sites, initial_prey, initial_predators
        self.reproduction = Reproduction(contacts, prey_birth_per_step, predation_per_step, gradient=gradient)
        self.death = Death(p_predator_death, gradient=gradient)

    @classmethod
    def lattice(cls, side: int, **params: float) -> PredatorPrey:
        """The model on the side x side torus (`torus_lattice`)."""
        return cls(torus_lattice(side), side * side, **params)

    def extra_repr(self) -> str:
        return f"n_sites={self.n_sites}, initial_prey={self.initial_prey}, initial_predators={self.initial_predators}"

    def initial_world(self, *, seed: int, differentiable: bool = False) -> World:
        ids = torch.arange(self.n_sites, dtype=torch.int32)
        u = rng.uniform(seed, 0, "initial_sites", ids)
        codes = torch.full((self.n_sites,), Site.EMPTY, dtype=torch.uint8)
        codes[u < self.initial_prey] = Site.PREY
        codes[(u >= self.initial_prey) & (u < self.initial_prey + self.initial_predators)] = Site.PREDATOR
        site = SITES.encode(codes, differentiable=differentiable)
        table = AgentTable({"id": ids, "site": site, "predators_at_start": SITES.member(site, Site.PREDATOR)})
        return World.of(table, seed=seed, differentiable=differentiable)

    def forward(self, world: World) -> World:
        world = world.update({"predators_at_start": SITES.member(world.agents.site, Site.PREDATOR)})
        world = world.update(self.reproduction(world))
        return world.update(self.death(world))

    def observe(self, world: World) -> dict[str, Tensor]:
        counts = SITES.counts(world.agents.site)
        return {"prey": counts[Site.PREY] / self.n_sites, "predators": counts[Site.PREDATOR] / self.n_sites}
