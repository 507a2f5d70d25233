"""Predator-prey on a lattice, and its control task (`populace control predator-prey`)."""

from populace.models.predator_prey.lattice import torus_lattice
from populace.models.predator_prey.model import REMOVAL, Death, PredatorPrey, Reproduction, Site

__all__ = ["REMOVAL", "Death", "PredatorPrey", "Reproduction", "Site", "torus_lattice"]
