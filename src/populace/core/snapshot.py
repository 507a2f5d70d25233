"""Save a `World` to a folder and load it back, exactly: agent tables as Parquet, everything else as JSON.

A snapshot folder holds `world.json` (format version, step, seed, start_date, differentiable, every column's dtype
and shape, the env values) and one `tables/<name>.parquet` per agent table. Columns of shape [N, k, ...] are stored
as fixed-size lists of their flattened trailing dimensions; bfloat16 columns as float32 (exact); every dtype is
restored from `world.json`. Env values are small by design (shared, not per agent) and are written to JSON as
numbers, which round-trips float32/float64 exactly. Values are saved without their autograd history.

Nothing is pickled. `save_world` writes into a temporary folder and renames it, so a run killed while saving never
leaves a half-written snapshot behind (what `--resume` relies on).

>>> save_world(world, "out/snapshot-step-21")            # doctest: +SKIP
>>> load_world("out/snapshot-step-21").step               # doctest: +SKIP
21
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import Tensor

from populace.core.agents import AgentTable
from populace.core.clock import StepLength
from populace.core.world import World

FORMAT = "populace-world-snapshot"
VERSION = 1
META_NAME = "world.json"


class SnapshotError(ValueError):
    """A folder is not a readable world snapshot (missing files, another format, columns that do not match)."""


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _dtype(name: str, where: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise SnapshotError(f"{where}: unknown dtype {name!r} in {META_NAME}")
    return dtype


def _column_array(value: Tensor) -> pa.Array:
    values = value.detach().cpu()
    if values.dtype == torch.bfloat16:
        values = values.float()
    flat = values.reshape(values.shape[0], -1) if values.dim() > 1 else values
    array = pa.array(flat.reshape(-1).numpy())
    if values.dim() > 1:
        array = pa.FixedSizeListArray.from_arrays(array, flat.shape[1])
    return array


def save_world(world: World, folder: str | Path) -> Path:
    """Write `world` into `folder` (created; an existing snapshot there is replaced). Returns the folder."""
    if not isinstance(world, World):
        raise TypeError(f"save_world needs a World, got {type(world).__name__}")
    folder = Path(folder)
    if folder.exists() and not (folder / META_NAME).is_file():
        raise FileExistsError(f"{folder} exists and is not a world snapshot; choose an empty or new folder")
    staging = folder.with_name(f".{folder.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "tables").mkdir(parents=True)
    tables = {}
    for name, table in world.tables.items():
        arrays = {column: _column_array(value) for column, value in table.items()}
        pq.write_table(pa.table(arrays), staging / "tables" / f"{name}.parquet")
        tables[name] = {column: {"dtype": _dtype_name(v.dtype), "shape": list(v.shape[1:])}
                        for column, v in table.items()}
    env = {name: {"dtype": _dtype_name(v.dtype), "shape": list(v.shape),
                  "values": v.detach().cpu().double().reshape(-1).tolist() if v.is_floating_point()
                  else v.detach().cpu().reshape(-1).tolist()}
           for name, v in world.env.items()}
    meta = {"format": FORMAT, "version": VERSION, "step": world.step, "seed": world.seed,
            "start_date": None if world.start_date is None else world.start_date.isoformat(),
            "differentiable": world.differentiable, "step_length": world.step_length.value, "tables": tables,
            "env": env}
    (staging / META_NAME).write_text(json.dumps(meta, indent=1) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    return folder


def load_world(folder: str | Path, *, device: str | torch.device = "cpu") -> World:
    """The world saved in `folder` by `save_world`, on `device`; `SnapshotError` names what is wrong otherwise."""
    folder = Path(folder)
    meta_path = folder / META_NAME
    if not meta_path.is_file():
        raise SnapshotError(f"{folder} is not a world snapshot: it has no {META_NAME} (write one with save_world)")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise SnapshotError(f"{meta_path} is not valid JSON ({err})") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise SnapshotError(f"{meta_path} is format {meta.get('format')!r} version {meta.get('version')!r}; this "
                            f"Populace reads {FORMAT!r} version {VERSION}")
    tables = {name: _read_table(folder / "tables" / f"{name}.parquet", columns, device)
              for name, columns in meta["tables"].items()}
    env = {}
    for name, entry in meta["env"].items():
        dtype = _dtype(entry["dtype"], f"env value {name!r}")
        values = torch.tensor(entry["values"], dtype=torch.float64 if dtype.is_floating_point else None)
        env[name] = values.to(dtype).reshape(entry["shape"]).to(device)
    start = meta["start_date"]
    return World(tables=tables, env=env, step=int(meta["step"]), seed=int(meta["seed"]),
                 start_date=None if start is None else dt.date.fromisoformat(start),
                 differentiable=bool(meta["differentiable"]),
                 step_length=StepLength(meta.get("step_length", StepLength.DAY.value)))


def _read_table(path: Path, columns: dict[str, dict], device: str | torch.device) -> AgentTable:
    if not path.is_file():
        raise SnapshotError(f"snapshot table {path} is missing")
    table = pq.read_table(path)
    if table.column_names != list(columns):
        raise SnapshotError(f"{path} has columns {table.column_names}, {META_NAME} lists {list(columns)}")
    out = {}
    for name, entry in columns.items():
        array = table.column(name).combine_chunks()
        shape = entry["shape"]
        if shape:
            array = array.flatten()
        values = torch.from_numpy(np.require(array.to_numpy(zero_copy_only=False), requirements=["C", "W"]))
        values = values.to(_dtype(entry["dtype"], f"{path}: column {name!r}"))
        out[name] = values.reshape(-1, *shape).to(device)
    return AgentTable(out, validate=False)
