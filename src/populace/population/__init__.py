"""Synthetic populations: fitting census tables (IPF), integer counts, and (to come) households and layers."""

from populace.population.ipf import IPFResult, Margin, integerize, ipf

__all__ = ["IPFResult", "Margin", "integerize", "ipf"]
