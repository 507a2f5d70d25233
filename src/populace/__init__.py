"""Populace: Large Population Models in PyTorch.

    import populace as pp
    traj = pp.models.SIR.random_network(100_000).run(days=100, seed=1)
    traj.plot().savefig("sir.png")
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("populace")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

from populace import data, models, network, population, sampling
from populace.core import AgentTable, Model, Substep, Trajectory, World, rng, run

__all__ = [
    "AgentTable",
    "Model",
    "Substep",
    "Trajectory",
    "World",
    "__version__",
    "data",
    "models",
    "network",
    "population",
    "rng",
    "run",
    "sampling",
]
