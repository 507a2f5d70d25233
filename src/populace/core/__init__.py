"""The engine: agent tables, worlds, models and substeps, the runner and its trajectories, randomness."""

from populace.core import rng
from populace.core.agents import AgentTable
from populace.core.errors import PopulationFileError, SubstepOutputError
from populace.core.model import Model, Substep
from populace.core.runner import run
from populace.core.trajectory import Trajectory
from populace.core.world import World

__all__ = [
    "AgentTable",
    "Model",
    "PopulationFileError",
    "Substep",
    "SubstepOutputError",
    "Trajectory",
    "World",
    "rng",
    "run",
]
