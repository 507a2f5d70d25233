"""From a scenario to models: the population, the baseline `CovidNYC` and `Observation`, fitted parameter draws.

Parameter files (`parameters:` in a scenario) hold values by `state_dict` key: keys of the model (e.g.
`transmission.parametrizations.beta_by_week.original`, the log of the weekly rates) and of the observation model,
prefixed `observation.` (e.g. `observation.parametrizations.reference_ascertainment.original`, or by its former
key `observation.logit_ascertainment`). A JSON file is either one mapping {key: number or
nested list} or {"draws": [mapping, ...]} (posterior draws, one per ensemble member in turn). Other files are the
Parquet draws of `populace calibrate` (`populace.calibrate.load_parameter_draws`; their `model.` key prefix is
dropped). The baseline takes its number of weekly betas from a draw's `transmission.parametrizations.beta_by_week.
original`, its importations from `importation.parametrizations.rate.original`, and a draw with weekly isolation
shifts (`behaviour.decision_model.isolate_logit_by_week`) gets calibration's `WeeklyIsolationDecisions`. Keys a
file leaves out keep their defaults; an unknown key or a wrong shape is an error naming it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from populace.calibrate import load_parameter_draws
from populace.core.errors import InputError
from populace.data.boroughs import BOROUGHS
from populace.models.covid_nyc.analysis.scenario import PopulationSpec, Scenario
from populace.models.covid_nyc.calibration import (
    BETA_PARAMETER,
    IMPORTATION_PARAMETER,
    MODEL_PREFIX,
    WEEKLY_ISOLATION_PARAMETER,
    load_draw,
)
from populace.models.covid_nyc.model import CovidNYC
from populace.models.covid_nyc.observe import Observation
from populace.models.covid_nyc.params import CovidParams
from populace.models.covid_nyc.schedules import WeeklyIsolationDecisions
from populace.population.storage import Population
from populace.population.synthetic import layered_synthetic_population


def build_population(spec: PopulationSpec, *, data_dir: str | os.PathLike[str] | None = None) -> Population:
    """The population a scenario names: the synthetic NYC, a saved folder, or a small layered test population."""
    if spec.path is not None:
        return Population.load(spec.path)
    if spec.nyc is not None:
        from populace.population.nyc import build_nyc  # imported here: it pulls in the data loaders

        return build_nyc(scale=spec.nyc.scale, seed=spec.nyc.seed, data_dir=data_dir)
    return layered_synthetic_population(spec.synthetic.agents, seed=spec.synthetic.seed)


def population_scale(population: Population) -> float:
    """The population's fraction of the place it samples (manifest `scale`; 1 when absent)."""
    scale = float(population.manifest.get("scale", 1.0))
    if not 0 < scale <= 1:
        raise InputError(f"the population manifest gives scale {scale}; it must be in (0, 1]")
    return scale


def region_labels(population: Population) -> list[str]:
    codes = population.manifest.get("codes", {}).get("region")
    n = int(population.agents.region.max()) + 1
    return list(codes) if codes else [str(r) for r in range(n)]


def is_nyc(labels: Sequence[str]) -> bool:
    """Whether the regions are New York City's boroughs (so DOHMH and NYS DOL data can be overlaid)."""
    return sorted(labels) == sorted(BOROUGHS)


def read_parameter_draws(path: str | Path) -> list[dict[str, Tensor]]:
    """The parameter draws in a file (see the module docstring), as {state_dict key: tensor} mappings."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameters file {str(path)!r} does not exist")
    if path.suffix != ".json":
        return [{str(k).removeprefix(MODEL_PREFIX): torch.as_tensor(v) for k, v in draw.items()}
                for draw in load_parameter_draws(path)]
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not valid JSON ({err})") from None
    draws = data.get("draws", [data]) if isinstance(data, dict) else None
    if not isinstance(draws, list) or not draws or not all(isinstance(d, dict) for d in draws):
        raise InputError(f"{path}: expected {{key: value}} or {{\"draws\": [{{key: value}}, ...]}} with at least one "
                         "draw")
    out = []
    for i, draw in enumerate(draws):
        try:
            out.append({str(k): torch.tensor(v, dtype=torch.float64) for k, v in draw.items()})
        except (TypeError, ValueError) as err:
            raise InputError(f"{path}: draw {i} has a value that is not a number or list of numbers ({err})") from None
    return out


def baseline_models(scenario: Scenario, population: Population,
                    draw: Mapping[str, Tensor] | None = None) -> tuple[CovidNYC, Observation]:
    """The baseline `CovidNYC` (NYC 2020 orders, heuristic behaviour) and `Observation`, with `draw` loaded."""
    beta = scenario.model.beta_by_week
    if draw and BETA_PARAMETER in draw:  # as many weeks as the draw; its values are loaded below
        beta = tuple(float(b) for b in draw[BETA_PARAMETER].exp().reshape(-1))
    params = CovidParams() if beta is None else CovidParams(beta_by_week=beta)
    if draw and IMPORTATION_PARAMETER in draw:  # the rate's parameter exists only when it is > 0; loaded below
        params = params.replace(importations_per_million_per_day=float(draw[IMPORTATION_PARAMETER].exp()))
    behaviour = None
    if draw and WEEKLY_ISOLATION_PARAMETER in draw:
        behaviour = WeeklyIsolationDecisions(*draw[WEEKLY_ISOLATION_PARAMETER].shape)
    model = CovidNYC(population.agents, population.layers, params, start_date=scenario.start, behaviour=behaviour,
                     region_labels=region_labels(population), initial_infected=scenario.model.initial_infected)
    observation = Observation()
    if draw:
        load_draw(draw, model, observation)
    return model, observation
