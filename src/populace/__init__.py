"""Populace: Large Population Models in PyTorch.

    import populace as pp
    traj = pp.models.SIR.random_network(100_000).run(days=100, seed=1)
    traj.plot().savefig("sir.png")

`import populace` loads the engine (`populace.core`) only; the subpackages (`models`, `data`, `population`,
`network`, `calibrate`, `control`, ...) are imported on first use, e.g. when `pp.models` is first read (PEP 562).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from populace.core import AgentTable, Model, Substep, Trajectory, World, rng, run
from populace.version import __version__

if TYPE_CHECKING:  # for type checkers and editors; at run time these load on first use
    from populace import (
        analysis,
        behavior,
        calibrate,
        control,
        data,
        gradients,
        llm,
        models,
        network,
        population,
        sampling,
    )

__all__ = [
    "AgentTable",
    "Model",
    "Substep",
    "Trajectory",
    "World",
    "__version__",
    "analysis",
    "behavior",
    "calibrate",
    "control",
    "data",
    "gradients",
    "llm",
    "models",
    "network",
    "population",
    "rng",
    "run",
    "sampling",
]


def __getattr__(name: str) -> ModuleType:
    """`populace.models` and the other subpackages in __all__: imported the first time they are read."""
    if name in __all__:  # the names of __all__ not yet defined here are the subpackages not yet imported
        return importlib.import_module(f"{__name__}.{name}")  # which also makes it an attribute of populace
    raise AttributeError(f"module 'populace' has no attribute {name!r}; it has {', '.join(__all__)}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
