"""Models built on the engine, one module (or folder) per model."""

from populace.models.sir import SIR

__all__ = ["SIR"]
