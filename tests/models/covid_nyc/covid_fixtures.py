"""A small synthetic population with the four layers the NYC orders name, shared by the COVID model tests."""

import dataclasses

from populace.network import ContactGraph, ContactLayer
from populace.population.storage import Population
from populace.population.synthetic import synthetic_population


def layered_population(n_agents: int = 3000, *, seed: int = 1) -> Population:
    """Synthetic agents with household, school, work (groups, weight 0.3) and community (random) layers."""
    people = synthetic_population(n_agents, contacts_per_agent=10, seed=seed)
    a = people.agents
    graph = ContactGraph(a.n, {"household": people.layers["household"],
                               "school": ContactLayer.from_groups(a.school_class, 0.3, name="school"),
                               "work": ContactLayer.from_groups(a.workplace, 0.3, name="work"),
                               "community": people.layers["random"]})
    return dataclasses.replace(people, layers=graph)
