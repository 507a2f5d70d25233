"""COVID-NYC's scenario analysis on the generic runner (`populace.analysis`): the scenario file (`scenario`), its
policies as model changes (`interventions`), the baseline build (`build`), the plug into the runner (`ensemble`),
tables, plots, the HTML report and `populace analyze` / `populace report` (`cli`)."""

from populace.models.covid_nyc.analysis.interventions import (
    IsolationCompliance,
    StimulusLabour,
    move_lockdown,
    override_from,
    policy_model,
)
from populace.models.covid_nyc.analysis.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = ["IsolationCompliance", "Scenario", "ScenarioError", "StimulusLabour", "load_scenario", "move_lockdown",
           "override_from", "parse_scenario", "policy_model"]
