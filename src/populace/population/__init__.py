"""Synthetic populations: census fitting (IPF), households, contact layers, storage and checks; NYC is in `nyc`."""

from populace.population.check import Problem, check_population, validate_population
from populace.population.groups import WorkplaceSizes, assign_school_classes, assign_workplaces
from populace.population.households import assign_households, household_sizes
from populace.population.ipf import IPFResult, Margin, integerize, ipf
from populace.population.layers import (
    LayerConfig,
    build_layers,
    community_layer,
    contact_weights,
    contacts_per_day_by_band,
    household_layer,
    prem_band,
    reciprocal_contacts,
    school_layer,
    work_layer,
)
from populace.population.storage import Population, region_runs
from populace.population.synthesis import PersonCounts, fit_persons, fit_report

__all__ = [
    "IPFResult",
    "LayerConfig",
    "Margin",
    "PersonCounts",
    "Population",
    "Problem",
    "WorkplaceSizes",
    "assign_households",
    "assign_school_classes",
    "assign_workplaces",
    "build_layers",
    "check_population",
    "community_layer",
    "contact_weights",
    "contacts_per_day_by_band",
    "fit_persons",
    "fit_report",
    "household_layer",
    "household_sizes",
    "integerize",
    "ipf",
    "prem_band",
    "reciprocal_contacts",
    "region_runs",
    "school_layer",
    "validate_population",
    "work_layer",
]
