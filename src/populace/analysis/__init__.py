"""Scenarios and ensembles for any model: policy vocabularies, branch-from-snapshot runs, members of seeds x parameter
draws in a process pool with resume, and quantile bands. A model plugs in through `ScenarioModel` (its policy
vocabulary and its observables); COVID-NYC's application is `populace.models.covid_nyc.analysis`."""

from populace.analysis.bands import QUANTILES, bands, collect_runs
from populace.analysis.ensemble import Member, ScenarioModel, Scenarios, Study, run_ensemble, run_member
from populace.analysis.policy import BASELINE, Change, FromStep, Number, Numbers, Policy, PolicyError, Vocabulary
from populace.core.parameters import load_values  # the loader of draws, re-exported for models' builds

__all__ = ["BASELINE", "QUANTILES", "Change", "FromStep", "Member", "Number", "Numbers", "Policy", "PolicyError",
           "ScenarioModel", "Scenarios", "Study", "Vocabulary", "bands", "collect_runs", "load_values", "run_ensemble",
           "run_member"]
