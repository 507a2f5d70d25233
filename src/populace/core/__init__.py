"""The engine: agent tables, worlds, models and substeps, stages, natural-unit parameters, the runner and its
trajectories, randomness."""

from populace.core import rng
from populace.core.agents import AgentTable
from populace.core.errors import PopulationFileError, SubstepOutputError
from populace.core.model import Model, Substep
from populace.core.parameters import Bounded, Positive, UnitInterval, natural_parameter
from populace.core.runner import run
from populace.core.stages import Stages
from populace.core.trajectory import Trajectory
from populace.core.world import World

__all__ = [
    "AgentTable",
    "Bounded",
    "Model",
    "PopulationFileError",
    "Positive",
    "Stages",
    "Substep",
    "SubstepOutputError",
    "Trajectory",
    "UnitInterval",
    "World",
    "natural_parameter",
    "rng",
    "run",
]
