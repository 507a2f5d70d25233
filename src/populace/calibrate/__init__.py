"""Calibration of any model by gradient descent through its simulator: a problem protocol (trained tensors, named
loss terms of a seeded run), the fitting loop (Adam, clipping, NaN guard, checkpoints, exact resume), held-out
evaluation against a gradient-free optimiser and persistence, and an ensemble of fits for parameter uncertainty.
A model plugs in its own problem (e.g. `populace.models.covid_nyc.calibration.Calibration`). See
docs/calibration.md."""

from populace.calibrate.baselines import evolution_strategy, mean_loss, persistence
from populace.calibrate.evaluate import anchored, errors, forecast, held_out, split
from populace.calibrate.fit import FitSettings, fit, iteration_seeds
from populace.calibrate.problem import CalibrationProblem, total_loss, trainable
from populace.calibrate.targets import DateWindow, Series, Targets
from populace.calibrate.uncertainty import ensemble, load_parameter_draws, save_parameter_draws

__all__ = ["CalibrationProblem", "DateWindow", "FitSettings", "Series", "Targets", "anchored", "ensemble", "errors",
           "evolution_strategy", "fit", "forecast", "held_out", "iteration_seeds", "load_parameter_draws",
           "mean_loss", "persistence", "save_parameter_draws", "split", "total_loss", "trainable"]
