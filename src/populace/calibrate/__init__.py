"""Calibration of the NYC COVID-19 + labour model to DOHMH cases and deaths and NYS DOL unemployment, by gradient
descent through the simulator (free parameters or a calibration network), with baselines, held-out evaluation and
an ensemble of fits for parameter uncertainty. See docs/calibration.md."""

from populace.calibrate.baselines import evolution_strategy, naive_forecast
from populace.calibrate.evaluate import errors, forecast, split
from populace.calibrate.fit import FitSettings, fit, iteration_seeds
from populace.calibrate.problem import Calibration, calibration_model, load_draw, warm_start, weeks_in
from populace.calibrate.schedule import CalibrationNetwork, WeeklyIsolationDecisions, network_features
from populace.calibrate.targets import DateWindow, LossWeights, Targets, load_targets
from populace.calibrate.uncertainty import ensemble, load_parameter_draws, save_parameter_draws

__all__ = ["Calibration", "CalibrationNetwork", "DateWindow", "FitSettings", "LossWeights", "Targets",
           "WeeklyIsolationDecisions", "calibration_model", "ensemble", "errors", "evolution_strategy", "fit",
           "forecast", "iteration_seeds", "load_draw", "load_parameter_draws", "load_targets", "naive_forecast",
           "network_features", "save_parameter_draws", "split", "warm_start", "weeks_in"]
