"""Scenario analysis: retrospective, counterfactual and prospective runs of the NYC COVID-19 model, ensembles with
uncertainty bands, comparison metrics, plots and an HTML report (`populace analyze`, `populace report`)."""

from populace.analysis.interventions import IsolationCompliance, StimulusLabour, move_lockdown, override_from
from populace.analysis.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = ["IsolationCompliance", "Scenario", "ScenarioError", "StimulusLabour", "load_scenario", "move_lockdown",
           "override_from", "parse_scenario"]
