"""Synthetic populations: fitting census tables (IPF), integer counts, and (to come) households and layers."""

from populace.population.households import assign_households, household_sizes
from populace.population.ipf import IPFResult, Margin, integerize, ipf

__all__ = ["IPFResult", "Margin", "assign_households", "household_sizes", "integerize", "ipf"]
