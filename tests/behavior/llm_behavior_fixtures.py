"""Shared pieces of the LLM-archetype tests: a small five-borough population and a deterministic answer function."""

import zlib

from populace.llm import Query
from populace.population.storage import Population
from populace.population.synthetic import layered_synthetic_population


def five_borough_population(n_agents: int = 2000, *, seed: int = 1) -> Population:
    """Synthetic agents in 5 regions (zones of ~200) with household, school, work and community layers."""
    return layered_synthetic_population(n_agents, seed=seed, agents_per_zone=200)


def hashed_yes(query: Query) -> tuple[float, float]:
    """A different, reproducible P(yes) in [0.05, 0.95] for every prompt (CRC-32 of its text)."""
    p = 0.05 + 0.9 * (zlib.crc32(query.prompt.encode()) % 1000) / 999
    return p, 1 - p
