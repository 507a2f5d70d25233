"""Fitted parameters of the NYC COVID-19 + labour model: the fit shipped with Populace, and models built from a fit.

A fit is one parameter draw in the Parquet format of `populace.calibrate.save_parameter_draws`, as
`populace calibrate covid-nyc` writes it (`fitted.parquet`, beside `parameters.json`), with its metadata: the
training window, the mode, the scale of the city it was fitted on, the behaviour, and `check`: the training loss
of the fitted values in fast mode on named seeds, which `fit_calibration` reproduces from the file.

`SHIPPED_FIT` is the fit `populace run covid-nyc` uses unless told `--uncalibrated`; `fitted/README.md` next to it
gives the command that made it, and `docs/calibration.md` its fit and held-out forecast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from populace.behavior.interface import DecisionModel
from populace.calibrate import DateWindow, load_parameter_draws
from populace.calibrate.uncertainty import draws_metadata
from populace.core.errors import InputError
from populace.core.parameters import Bounded, unconstrained
from populace.models.covid_nyc.calibration import (
    BETA_PARAMETER,
    LONG_TERM_REHIRE_PARAMETER,
    MODEL_PREFIX,
    WEEKLY_ISOLATION_PARAMETER,
    Calibration,
    calibration_model,
    load_draw,
    rescale_initial_infections,
)
from populace.models.covid_nyc.calibration_run import nyc_calibration
from populace.models.covid_nyc.labour import LONG_TERM_REHIRE_FACTOR_RANGE
from populace.models.covid_nyc.model import CovidNYC
from populace.models.covid_nyc.observe import Observation
from populace.models.covid_nyc.schedules import WeeklyIsolationDecisions
from populace.models.covid_nyc.targets import load_targets
from populace.population.storage import Population

SHIPPED_FIT = Path(__file__).resolve().parent / "fitted" / "nyc-2020-2021.parquet"
"""The fit shipped inside the package (trained on 2020-03-01..2021-06-30; see fitted/README.md)."""


@dataclasses.dataclass(frozen=True)
class Fit:
    """One fitted parameter draw and what it was fitted on."""

    draw: Mapping[str, Tensor]
    """Fitted values by `state_dict` key, `model.` and `observation.` prefixed (`load_draw`). A fit made before
    the labour model had duration dependence has no `long_term_rehire_factor`: `load` gives it 1 (none), the
    value it was fitted with."""
    window: DateWindow
    """The training window; week w of the weekly parameters is week w after `window.start`."""
    scale: float
    """Fraction of the city the fit ran on (initial infections, which count agents, are rescaled from it)."""
    metadata: Mapping[str, object]
    path: Path

    @classmethod
    def load(cls, path: str | os.PathLike[str] = SHIPPED_FIT) -> Fit:
        """The fit in `path` (a `fitted.parquet` of `populace calibrate covid-nyc`; default the shipped one)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"fitted parameters {path} not found; pass the fitted.parquet that `populace calibrate "
                             "covid-nyc` writes")
        draws, metadata = load_parameter_draws(path), draws_metadata(path)
        missing = [key for key in ("window", "scale") if key not in metadata]
        if len(draws) != 1 or missing or MODEL_PREFIX + BETA_PARAMETER not in draws[0]:
            raise InputError(f"{path} is not a fit: expected one draw with weekly betas and metadata window and "
                             f"scale (it has {len(draws)} draw(s), metadata {sorted(metadata)})")
        draw = {**without_duration_dependence(), **draws[0]}
        return cls(draw, DateWindow.parse(str(metadata["window"])), float(metadata["scale"]), metadata, path)

    @property
    def weeks(self) -> int:
        return int(self.draw[MODEL_PREFIX + BETA_PARAMETER].numel())

    @property
    def days(self) -> int:
        """Days covered by the weekly parameters; past them the last week's values hold."""
        return 7 * self.weeks

    def describe(self) -> str:
        """One line for plots and logs, e.g. "calibrated: fit of 2020-03-01:2021-06-30 at scale 0.005
        (nyc-2020-2021.parquet)"."""
        return f"calibrated: fit of {self.window} at scale {self.scale:g} ({self.path.name})"

    def check_start(self, start: dt.date) -> None:
        """Refuse a run that does not start on the fit's first day (its weekly values count weeks from there)."""
        if start != self.window.start:
            raise InputError(f"the fitted parameters ({self.path.name}) start on {self.window.start} (their weekly "
                             f"values count weeks from then), the run on {start}: start on {self.window.start}, or "
                             "pass --uncalibrated")


def without_duration_dependence() -> dict[str, Tensor]:
    """The draw entry of `Labour.long_term_rehire_factor` = 1 (no duration dependence), as its stored logit."""
    one = Bounded(*LONG_TERM_REHIRE_FACTOR_RANGE).right_inverse(torch.tensor(1.0))
    return {MODEL_PREFIX + LONG_TERM_REHIRE_PARAMETER: one}


def fitted_models(population: Population, fit: Fit, *, scale: float, behaviour: DecisionModel | None = None,
                  parts: Mapping[str, Any] | None = None) -> tuple[CovidNYC, Observation]:
    """`calibration_model` on `population` (a city at `scale`) with the fit loaded, and its `Observation`; `parts`:
    vaccination and variants (`nyc_2021_parts`; the fit learned with them where its window reached 2020-12-14).

    The initial infections are rescaled from the fit's scale to `scale`. `behaviour`: the decision model (default:
    the fit's `WeeklyIsolationDecisions`, the heuristic with its fitted weekly isolation shifts); any other keeps
    its own values, and the fit's isolation shifts are left out.
    """
    model = calibration_model(population, start_date=fit.window.start, weeks=fit.weeks, behaviour=behaviour,
                              parts=parts)
    draw = dict(fit.draw)
    if behaviour is not None:
        draw.pop(MODEL_PREFIX + WEEKLY_ISOLATION_PARAMETER, None)
    observation = Observation()
    load_draw(draw, model, observation)
    rescale_initial_infections(model, scale / fit.scale)
    return model, observation


def fit_calibration(fit: Fit, *, data_dir: str | os.PathLike[str] | None = None) -> Calibration:
    """The calibration `fit` came from, rebuilt with the fit loaded: the city at its scale and population seed, the
    targets on its window, its kind of deaths (a fit of the heuristic's weekly isolation only).

    `populace.calibrate.mean_loss(calibration, fit.metadata["check"]["seeds"])` then gives the fit's check loss.
    """
    from populace.population.nyc import build_nyc  # imported here: it pulls in the data loaders

    missing = [key for key in ("population_seed", "deaths", "check") if key not in fit.metadata]
    if missing or fit.metadata.get("behaviour") != WeeklyIsolationDecisions.__name__:
        raise InputError(f"{fit.path} cannot be rebuilt: it needs metadata population_seed, deaths and check "
                         f"(missing {missing}) and a fit of {WeeklyIsolationDecisions.__name__} (it is of "
                         f"{fit.metadata.get('behaviour')})")
    population = build_nyc(scale=fit.scale, seed=int(fit.metadata["population_seed"]), data_dir=data_dir)
    calibration = nyc_calibration(population, load_targets(fit.window, data_dir=data_dir), scale=fit.scale,
                                  mode=str(fit.metadata.get("mode", "free")), data_dir=data_dir,
                                  deaths=str(fit.metadata["deaths"]))
    load_draw(fit.draw, calibration.model, calibration.observation)
    return calibration


@torch.no_grad()
def start_from(calibration: Calibration, fit: Fit) -> None:
    """Set `calibration`'s learned values to `fit`'s, its initial infections rescaled by calibration.scale /
    fit.scale (as `warm_start` does): a fit of the same window and decision model continues from there."""
    if fit.window.start != calibration.targets.window.start:
        raise InputError(f"--start-from {fit.path}: the fit starts on {fit.window.start}, the calibration on "
                         f"{calibration.targets.window.start}; their weekly values would not line up")
    try:
        load_draw(fit.draw, calibration.model, calibration.observation)
    except (KeyError, ValueError) as err:
        raise InputError(f"--start-from {fit.path}: {err.args[0]}") from None
    if unconstrained(calibration.model, "initial_infections").requires_grad:
        rescale_initial_infections(calibration.model, calibration.scale / fit.scale)
