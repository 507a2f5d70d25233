r"""Parameter uncertainty: an ensemble of fits, saved as parameter draws that the analysis layer can sample.

`ensemble`: M members, each continuing the fitted calibration for a few Adam iterations with its own stream of
simulator seeds (member m uses run seed `seed + 1 + m`), from the same starting point. The spread of the members is
the parameter uncertainty that the simulator's own noise leaves in the fit (a seed ensemble, warm-started: it does
not explore other optima far from the fit). Each member is one draw: a mapping of the learned quantities
(by default the trained tensors; a model may give its own `draw`, e.g. COVID-NYC's `Calibration.draw` with its
calibration network evaluated, loadable with `populace.models.covid_nyc.calibration.load_draw`).

File format (`save_parameter_draws`, Parquet), one row per value:

| column | type | meaning |
|---|---|---|
| draw | int32 | member number 0..M-1 |
| name | string | the tensor's name, e.g. `model.<parameter>` or `observation.<parameter>` (as in `state_dict`) |
| shape | string | the tensor's shape, e.g. "" (a number), "44", "44x5" |
| index | int32 | position in the flattened (row-major) tensor |
| value | float64 | the value, in the parameter's stored (unconstrained) units |

The Parquet schema metadata holds `populace_calibration` (JSON: window, mode, scale, ...).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import Tensor

from populace.calibrate.fit import FitSettings, fit
from populace.calibrate.problem import CalibrationProblem, trainable
from populace.core.errors import InputError

METADATA_KEY = b"populace_calibration"


def ensemble(problem: CalibrationProblem, settings: FitSettings, *, members: int, iterations: int,
             draw: Callable[[], dict[str, Tensor]] | None = None) -> list[dict[str, Tensor]]:
    """M draws (module docstring), each `draw()` after a member's fit (default: the trained tensors, cloned); the
    problem is left at its starting point."""
    if members < 1 or iterations < 1:
        raise ValueError(f"members and iterations must be >= 1, got {members} and {iterations}")
    start = {n: p.detach().clone() for n, p in trainable(problem).items()}
    draws = []
    for m in range(members):
        member = dataclasses.replace(settings, iterations=iterations, seed=settings.seed + 1 + m)
        fit(problem, member, progress=False)
        draws.append(draw() if draw is not None else {n: p.detach().clone() for n, p in trainable(problem).items()})
        _restore(problem, start)
    return draws


def _restore(problem: CalibrationProblem, values: Mapping[str, Tensor]) -> None:
    with torch.no_grad():
        for name, p in trainable(problem).items():
            p.copy_(values[name])


def save_parameter_draws(path: str | os.PathLike[str], draws: Sequence[Mapping[str, Tensor]],
                         metadata: Mapping[str, object] | None = None) -> Path:
    """Write draws in the documented Parquet format (module docstring)."""
    if not draws:
        raise ValueError("no draws to save")
    rows: dict[str, list] = {"draw": [], "name": [], "shape": [], "index": [], "value": []}
    for k, draw in enumerate(draws):
        for name, tensor in draw.items():
            flat = tensor.detach().double().reshape(-1).tolist()
            rows["draw"] += [k] * len(flat)
            rows["name"] += [name] * len(flat)
            rows["shape"] += ["x".join(map(str, tensor.shape))] * len(flat)
            rows["index"] += list(range(len(flat)))
            rows["value"] += flat
    table = pa.table({"draw": pa.array(rows["draw"], pa.int32()), "name": pa.array(rows["name"], pa.string()),
                      "shape": pa.array(rows["shape"], pa.string()), "index": pa.array(rows["index"], pa.int32()),
                      "value": pa.array(rows["value"], pa.float64())})
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(dict(metadata or {}), default=str)})
    path = Path(path)
    pq.write_table(table, path)
    return path


def load_parameter_draws(path: str | os.PathLike[str]) -> list[dict[str, Tensor]]:
    """The draws of a file written by `save_parameter_draws`: one {name: float32 tensor} per draw, in draw order.

    A COVID-NYC draw loads into a model with `populace.models.covid_nyc.calibration.load_draw(draw, model,
    observation)`, the model built by `calibration_model` with the same number of weeks and regions.
    """
    frame = pd.read_parquet(path)
    missing = {"draw", "name", "shape", "index", "value"} - set(frame.columns)
    if missing:
        raise InputError(f"{path} is not a parameter-draws file: it lacks column(s) {sorted(missing)}")
    draws = []
    for _, rows in frame.sort_values(["draw", "name", "index"]).groupby("draw", sort=True):
        draw = {}
        for name, values in rows.groupby("name", sort=False):
            shape = [int(s) for s in values["shape"].iloc[0].split("x") if s]
            draw[name] = torch.tensor(values["value"].to_numpy(), dtype=torch.float32).reshape(shape)
        draws.append(draw)
    return draws


def draws_metadata(path: str | os.PathLike[str]) -> dict[str, object]:
    """The JSON metadata saved with the draws."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(METADATA_KEY, b"{}"))
