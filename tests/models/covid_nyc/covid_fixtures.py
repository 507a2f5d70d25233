"""A small synthetic population with the four layers the NYC orders name, shared by the COVID model tests."""

from populace.population.storage import Population
from populace.population.synthetic import layered_synthetic_population


def layered_population(n_agents: int = 3000, *, seed: int = 1) -> Population:
    """`layered_synthetic_population`: household, school, work (groups, weight 0.3), community (random) layers."""
    return layered_synthetic_population(n_agents, seed=seed)
