"""SIR epidemic on a contact network: the smallest complete Populace model."""

from populace.models.sir.model import SIR, Recovery, Stage, Transmission

__all__ = ["SIR", "Recovery", "Stage", "Transmission"]
