"""`Population`: agents, zones, households and contact layers, saved to and loaded from a folder of Parquet files.

The on-disk format is the population schema (docs/population-schema.md): `agents.parquet`, `zones.parquet`,
`households.parquet`, `layers/<name>.parquet` (one row per directed contact, sorted by src then dst) and
`manifest.json` (counts, seed, scale, source files relative to the data directory and their SHA-256, category
labels, schema version).
`populace population check DIR` (populace.population.check) validates a folder that someone else made.

Parquet settings, measured on a synthetic 8.4M-agent population with ~20 contacts per agent (see
benchmarks/population_io.py): sorted id columns (`id`, agents' `zone` and `household`, a layer's `src` and
`dst`, sorted within each row) are DELTA_BINARY_PACKED, which stores runs of equal or nearby ids in a few bits
each (a household layer shrinks to almost nothing; a random layer to ~2.9 bytes per contact, against 3.3 for
plain + zstd and 4.3 for plain + lz4, and decodes as fast as lz4); other columns keep Parquet's dictionary
encoding (plain when a dictionary grows too large); pages are zstd (level 1) compressed; row groups of 2**20
rows let pyarrow decode several in parallel (8M-row groups read ~1.5x slower on 2 cores).

Row groups follow regions: when each region is one contiguous run of agents (as the builders number them), a row
group of agents.parquet, and of each layer file (by the region of `src`), holds one region's rows only (at most
2**20 of them), so a process of a distributed run reads the row groups of its regions and no others
(`populace.distributed.loading`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from populace.core.agents import AgentTable
from populace.core.errors import PopulationFileError
from populace.data import paths
from populace.manifest import MANIFEST_NAME, file_entry
from populace.network.graph import ContactGraph, ContactLayer
from populace.version import __version__

SCHEMA_VERSION = 1
"""Version of docs/population-schema.md that `save` writes; bump it when the format changes."""

AGENTS_FILE, ZONES_FILE, HOUSEHOLDS_FILE, LAYERS_DIR = "agents.parquet", "zones.parquet", "households.parquet", "layers"

AGENT_COLUMNS: Mapping[str, pa.DataType] = {
    "id": pa.int32(),
    "zone": pa.int16(),
    "region": pa.uint8(),
    "household": pa.int32(),
    "age": pa.uint8(),
    "age_band": pa.uint8(),
    "sex": pa.uint8(),
    "race_ethnicity": pa.uint8(),
    "is_employed": pa.bool_(),
    "industry": pa.uint8(),
    "school_class": pa.int32(),
    "workplace": pa.int32(),
}
"""Columns every agents.parquet has, with their types (more columns are allowed)."""

OPTIONAL_AGENT_COLUMNS: Mapping[str, pa.DataType] = {"work_region": pa.uint8()}
"""Columns an agents.parquet may have, with the types `check` requires when they are there."""

NO_CODE = 255
"""A uint8 categorical column holds 255 for "none" (e.g. `industry` of an agent who is not employed)."""
AGE_BAND_YEARS, LAST_AGE_BAND = 5, 17
N_POPULATION_AGE_BANDS = LAST_AGE_BAND + 1
"""The `age_band` column's 18 bands: 0-4, 5-9, ..., 80-84, 85+ (the Census tables'); the COVID model's disease
bands are its own (`models.covid_nyc.params.N_DISEASE_AGE_BANDS`, 19, to 90+)."""
"""`age_band` b holds ages 5b..5b+4; the last band (17) is open-ended: ages 85 and over."""

ZONE_COLUMNS: Mapping[str, pa.DataType] = {
    "zone": pa.int16(),
    "code": pa.string(),
    "name": pa.string(),
    "region": pa.uint8(),
    "population": pa.int32(),
}
HOUSEHOLD_COLUMNS: Mapping[str, pa.DataType] = {"household": pa.int32(), "zone": pa.int16(), "size": pa.int16()}
EDGE_COLUMNS: Mapping[str, pa.DataType] = {"src": pa.int32(), "dst": pa.int32()}
WEIGHT_COLUMN, WEIGHT_TYPE = "weight", pa.float32()
"""An optional layer column: contacts per day of each edge (1 when absent)."""

ROW_GROUP_SIZE = 1 << 20
COMPRESSION, COMPRESSION_LEVEL = "zstd", 1
DELTA_COLUMNS = {
    AGENTS_FILE: ("id", "zone", "household"),
    HOUSEHOLDS_FILE: ("household", "zone"),
    "layer": ("src", "dst"),
}
"""Columns stored DELTA_BINARY_PACKED (sorted, or sorted within rows: small deltas); the others dictionary encoded."""

_LAYER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_DERIVED_KEYS = ("schema_version", "populace_version", "created_at", "counts", "layers", "sources", "files")
"""Manifest keys that `save` writes itself (`sources` from the builder's paths)."""


@dataclasses.dataclass
class Population:
    """A synthetic population: agents, the zones and households they live in, and their contact layers.

    Attributes:
        agents: one row per agent, ordered by zone then household; `id` is the row number (schema: agents).
        zones: one row per zone (`zone`, `code`, `name`, `region`, `population`), `zone` = row number.
        households: one row per household (`household`, `zone`, `size`), `household` = row number.
        layers: contact layers over the agents (reciprocal contacts: every layer `is_symmetric`).
        manifest: how it was made. A builder sets `seed`, `scale`, `sources` (the input files, as paths),
            `codes` ({column: [label of code 0, label of code 1, ...]}) and optionally `data_dir` (the data
            directory it read; default `populace.data.paths.data_dir()`), plus any other JSON-ready keys;
            `save` adds the schema version, counts, file sizes and SHA-256 of the sources (their paths relative
            to `data_dir` when inside it, else absolute) and of the files it writes. A loaded population's
            manifest is the saved `manifest.json`.
    """

    agents: AgentTable
    zones: pd.DataFrame
    households: pd.DataFrame
    layers: ContactGraph
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def n_agents(self) -> int:
        """Number of agents (rows of `agents`)."""
        return self.agents.n

    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write the population to `directory` (created) in the population schema; returns the path.

        The files are written into a temporary folder next to `directory`, which is renamed into place only
        when everything is written: a failure leaves `directory` as it was. An existing `directory` is replaced
        only with `overwrite=True`.
        """
        target = Path(directory)
        if target.exists() and not overwrite:
            raise FileExistsError(
                f"{str(target)!r} already exists; choose another directory or pass overwrite=True "
                "(--overwrite on the command line) to replace it"
            )
        self._check_schema()
        record = self._manifest_record()
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.partial"
        staging.mkdir()
        runs = _region_runs_or_none(self.agents)
        try:
            files = [
                _write(_agents_arrow(self.agents), staging / AGENTS_FILE, DELTA_COLUMNS[AGENTS_FILE],
                       None if runs is None else _row_groups(runs)),
                _write(_frame_arrow(self.zones, ZONE_COLUMNS), staging / ZONES_FILE, ()),
                _write(_frame_arrow(self.households, HOUSEHOLD_COLUMNS), staging / HOUSEHOLDS_FILE,
                       DELTA_COLUMNS[HOUSEHOLDS_FILE]),
            ]
            (staging / LAYERS_DIR).mkdir()
            for name, layer in self.layers.layers.items():
                files.append(_write(_layer_arrow(layer), staging / LAYERS_DIR / f"{name}.parquet",
                                    DELTA_COLUMNS["layer"], None if runs is None else _edge_row_groups(layer, runs)))
            record["files"] = [file_entry(path, path.relative_to(staging).as_posix()) for path in files]
            (staging / MANIFEST_NAME).write_text(json.dumps(record, indent=2) + "\n")
            _replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, directory: str | Path, *, layers: Sequence[str] | None = None,
             device: str | torch.device = "cpu") -> Population:
        """Read a population written by `save` (or any folder in the population schema).

        `layers`: names of the contact layers to read (None: all listed in the manifest; [] for none).
        Layer files already sorted by (src, dst), as the schema asks, become CSR without sorting; others are
        sorted once. Loading checks what a wrong file would silently corrupt (ids, ranges, duplicate contacts,
        weights) but not symmetry: run `populace population check DIR` on a population you did not build.
        """
        root = Path(directory)
        manifest = _read_manifest(root)
        agents = _read_agents(root / AGENTS_FILE)
        zones = _read_frame(root / ZONES_FILE)
        households = _read_frame(root / HOUSEHOLDS_FILE)
        listed = list(manifest.get("layers", {}))
        names = listed if layers is None else list(layers)
        unknown = [name for name in names if name not in listed]
        if unknown:
            raise KeyError(f"{str(root)!r} has no layer(s) {unknown} (its manifest lists: {', '.join(listed)})")
        graph = ContactGraph(agents.n, {
            name: _read_layer(root / LAYERS_DIR / f"{name}.parquet", agents.n) for name in names
        })
        device = torch.device(device)
        if device.type != "cpu":
            agents, graph = agents.to(device), graph.to(device)
        return cls(agents, zones, households, graph, manifest)

    def _check_schema(self) -> None:
        problems = [f"agents.{name} is {values.dtype} of shape {list(values.shape)}; Parquet stores 1-D columns of "
                    "numbers or booleans (not bfloat16): split or convert it"
                    for name, values in self.agents.items() if values.dim() != 1 or values.dtype == torch.bfloat16]
        types = {name: pa.from_numpy_dtype(_numpy(values[:0]).dtype) for name, values in self.agents.items()
                 if values.dtype != torch.bfloat16}
        problems += _column_problems("agents", types, AGENT_COLUMNS)
        ids = self.agents.ids
        if ids.dtype == torch.int32 and not torch.equal(ids.cpu(), torch.arange(self.agents.n, dtype=torch.int32)):
            problems.append("agents.id must be the row number 0..N-1: reorder the rows by id, or renumber them")
        for what, frame, columns in (("zones", self.zones, ZONE_COLUMNS),
                                     ("households", self.households, HOUSEHOLD_COLUMNS)):
            types = dict(zip(frame.columns, pa.Schema.from_pandas(frame, preserve_index=False).types, strict=True))
            problems += _column_problems(what, types, columns)
        for name, layer in self.layers.layers.items():
            if not _LAYER_NAME.fullmatch(name):
                problems.append(f"layer name {name!r} is not a file name: use letters, digits, '_' and '-'")
            if not layer.is_symmetric:
                problems.append(
                    f"layer {name!r} is not symmetric; the schema stores reciprocal contacts only. Build it with "
                    "ContactLayer.from_edges(..., symmetric=True) or from_groups"
                )
            if layer.weight is not None and layer.weight.dtype != torch.float32:
                problems.append(f"layer {name!r} has {layer.weight.dtype} weights; the schema stores float32: "
                                "use layer.to(dtype=torch.float32)")
        if self.layers.n_agents != self.agents.n:
            problems.append(f"the layers span {self.layers.n_agents} agents but the table has {self.agents.n}")
        if problems:
            raise ValueError("cannot save this population:\n  " + "\n  ".join(problems))

    def _manifest_record(self) -> dict[str, Any]:
        provenance = {k: v for k, v in self.manifest.items() if k not in _DERIVED_KEYS}
        record: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "populace_version": __version__,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "seed": None,
            "scale": None,
            "codes": {},
            **provenance,
            "counts": {"agents": self.agents.n, "zones": len(self.zones), "households": len(self.households)},
            "layers": {name: {"edges": layer.n_edges, "weighted": layer.weight is not None}
                       for name, layer in self.layers.layers.items()},
        }
        sources = list(self.manifest.get("sources", []))
        root = _data_root(self.manifest.get("data_dir"), sources)
        record["sources"] = [_source_entry(entry, root) for entry in sources]
        record["data_dir"] = None if root is None else str(root)
        try:
            json.dumps(record)
        except TypeError as err:
            raise TypeError(f"population.manifest must hold JSON-ready values (str, numbers, lists, dicts): "
                            f"{err}") from None
        return record


def region_runs(regions: torch.Tensor) -> tuple[int, ...]:
    """The lengths of the runs of equal values of `regions` [N] (agents' region codes in id order), each region
    one run: [0, 0, 2, 2, 2, 1] -> (2, 3, 1). A region found in two runs is a ValueError (number agents by region)."""
    values, counts = torch.unique_consecutive(regions.reshape(-1), return_counts=True)
    distinct, seen = torch.unique(values, return_counts=True)
    if bool((seen > 1).any()):
        raise ValueError(f"regions {distinct[seen > 1][:5].tolist()} are not contiguous runs of ids; number the "
                         "agents by region (then zone, household) first")
    return tuple(int(c) for c in counts)


# ---------------------------------------------------------------------- writing
def _write(table: pa.Table, path: Path, delta_columns: Sequence[str], row_groups: Sequence[int] | None = None) -> Path:
    """Write `table`; `row_groups`: the rows of each row group in order (default: groups of ROW_GROUP_SIZE)."""
    encodings = {name: "DELTA_BINARY_PACKED" for name in delta_columns}
    options = {"compression": COMPRESSION, "compression_level": COMPRESSION_LEVEL,
               "use_dictionary": [name for name in table.column_names if name not in encodings],
               "column_encoding": encodings or None}
    if row_groups is None or table.num_rows == 0:
        pq.write_table(table, path, row_group_size=ROW_GROUP_SIZE, **options)
        return path
    with pq.ParquetWriter(path, table.schema, **options) as writer:
        start = 0
        for rows in row_groups:
            writer.write_table(table.slice(start, rows), row_group_size=rows)
            start += rows
    return path


def _region_runs_or_none(agents: AgentTable) -> tuple[int, ...] | None:
    """The agents' region runs, or None without a region column or when a region is not one run."""
    if "region" not in agents.columns or agents.n == 0:
        return None
    try:
        return region_runs(agents["region"].cpu())
    except ValueError:
        return None


def _row_groups(runs: Sequence[int]) -> list[int]:
    """Row-group sizes: each run cut into groups of at most ROW_GROUP_SIZE rows."""
    return [min(ROW_GROUP_SIZE, run - start) for run in runs for start in range(0, run, ROW_GROUP_SIZE)]


def _edge_row_groups(layer: ContactLayer, runs: Sequence[int]) -> list[int]:
    """Row-group sizes of a layer file by the region of `src`: the edges of each run of agents, cut as above."""
    bounds = torch.tensor([0, *runs]).cumsum(0)
    edges = layer.crow.cpu().long()[bounds].diff()
    return _row_groups([int(e) for e in edges])


def _agents_arrow(agents: AgentTable) -> pa.Table:
    return pa.table({name: _numpy(values) for name, values in agents.items()})


def _frame_arrow(frame: pd.DataFrame, columns: Mapping[str, pa.DataType]) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.cast(pa.schema([pa.field(f.name, columns.get(f.name, f.type)) for f in table.schema]))


def _layer_arrow(layer: ContactLayer) -> pa.Table:
    crow = layer.crow.cpu()
    src = torch.repeat_interleave(torch.arange(layer.n_agents, dtype=torch.int32), crow.diff(),
                                  output_size=layer.n_edges)
    columns = {"src": src.numpy(), "dst": _numpy(layer.col)}
    if layer.weight is not None:
        columns[WEIGHT_COLUMN] = _numpy(layer.weight)
    return pa.table(columns)


def _numpy(values: torch.Tensor) -> np.ndarray:
    return values.detach().cpu().numpy()


def _column_problems(what: str, types: Mapping[str, pa.DataType], expected: Mapping[str, pa.DataType]) -> list[str]:
    missing = [name for name in expected if name not in types]
    problems = [f"{what} lacks column(s) {missing} (schema: docs/population-schema.md)"] if missing else []
    for name, want in expected.items():
        if name in types and not _same_type(types[name], want):
            problems.append(f"{what}.{name} has type {types[name]}, the schema says {want}")
    return problems


def _same_type(got: pa.DataType, want: pa.DataType) -> bool:
    return got == want or (pa.types.is_string(want) and (pa.types.is_large_string(got) or pa.types.is_string(got)))


def _data_root(stated: str | os.PathLike[str] | None, sources: Sequence[Any]) -> Path | None:
    """The data directory the manifest's source paths are relative to: the builder's `data_dir`, else the default
    (`populace.data.paths.data_dir()`) when some source is a path; None when there is none to be found."""
    if stated is not None:
        return Path(stated).resolve()
    if all(isinstance(entry, Mapping) for entry in sources):
        return None
    try:
        return paths.data_dir().resolve()
    except FileNotFoundError:  # no data directory on this machine: the sources are recorded as absolute paths
        return None


def _source_entry(entry: str | Path | Mapping[str, Any], root: Path | None) -> dict[str, Any]:
    """{"path", "bytes", "sha256"} of an input file; `path` relative to `root` when the file is inside it."""
    if isinstance(entry, Mapping):
        return dict(entry)
    path = Path(entry)
    if not path.is_file():
        raise FileNotFoundError(f"source file {str(path)!r} listed in population.manifest['sources'] does not exist")
    absolute = path.resolve()
    inside = root is not None and absolute.is_relative_to(root)
    return file_entry(path, absolute.relative_to(root).as_posix() if inside else str(absolute))


def _replace(staging: Path, target: Path) -> None:
    """Move the finished `staging` folder to `target`, replacing an old `target` only once the new one is whole."""
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
    os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


# ---------------------------------------------------------------------- reading
def _read_manifest(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise FileNotFoundError(f"population directory {str(root)!r} does not exist")
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{str(root)!r} has no {MANIFEST_NAME}; is it a population folder? "
                                f"Run `populace population check {root}`")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PopulationFileError(f"{str(path)!r} is not valid JSON ({err})") from None
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise PopulationFileError(f"{str(path)!r} has schema_version {version!r}; this Populace reads version "
                                  f"{SCHEMA_VERSION}. Rebuild the population with this version")
    return manifest


def _read_table(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    return _open_parquet(path).read(columns=columns)


def _read_agents(path: Path) -> AgentTable:
    return agent_table(_read_table(path), path)


def agent_table(table: pa.Table, path: Path, first_id: int = 0) -> AgentTable:
    """Agents read from `path` (rows first_id.. of its agents.parquet) as an `AgentTable`: every column complete and
    numeric or boolean, `id` int32 and equal to the row number."""
    columns = {}
    for name, array in zip(table.column_names, table.columns, strict=True):
        if array.null_count or not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
                                    or pa.types.is_boolean(array.type)):
            raise PopulationFileError(f"{str(path)!r}: column {name!r} ({array.type}, {array.null_count} missing) "
                                      "is not a complete numeric or boolean column")
        columns[name] = _tensor(array)
    ids = columns.get("id")
    rows = torch.arange(first_id, first_id + table.num_rows, dtype=torch.int32)
    if ids is None or ids.dtype != torch.int32 or not torch.equal(ids, rows):
        raise PopulationFileError(f"{str(path)!r}: column 'id' must be int32 and equal to the row number 0..N-1; "
                                  f"run `populace population check {path.parent}` for details")
    return AgentTable(columns, validate=False)


def _tensor(column: pa.ChunkedArray) -> torch.Tensor:
    """The column as a writable tensor (pyarrow concatenates the chunks into one new array; no further copy)."""
    return torch.from_numpy(np.require(column.to_numpy(), requirements=["C", "W"]))


def _read_frame(path: Path) -> pd.DataFrame:
    return _read_table(path).to_pandas()


def _read_layer(path: Path, n_agents: int) -> ContactLayer:
    """A layer from its edge file (rows sorted by src, then dst, as `save` writes them): crow from the src counts,
    col = dst. A file written in another order is sorted after reading.

    Reads and checks one row group at a time into tensors allocated once, so loading holds the layer (8 bytes per
    edge) and little more: never a whole copy of the file's columns, nor the src ids of a sorted file.
    """
    file = _open_parquet(path)
    names = file.schema_arrow.names
    columns = [*EDGE_COLUMNS, *([WEIGHT_COLUMN] if WEIGHT_COLUMN in names else [])]
    for name in columns:
        want = EDGE_COLUMNS.get(name, WEIGHT_TYPE)
        if name not in names or file.schema_arrow.field(name).type != want:
            _refuse(path, f"needs a column {name!r} of {want} without missing values")
    n_edges = file.metadata.num_rows
    dst = torch.empty(n_edges, dtype=torch.int32)
    weight = torch.empty(n_edges, dtype=torch.float32) if WEIGHT_COLUMN in columns else None
    counts = torch.zeros(n_agents, dtype=torch.int64)
    is_sorted, start, previous = True, 0, torch.tensor([-1, -1], dtype=torch.int32)  # (src, dst) of the last edge
    for batch in file.iter_batches(batch_size=ROW_GROUP_SIZE, columns=columns):
        end = start + batch.num_rows
        if any(batch.column(name).null_count for name in columns):
            _refuse(path, f"needs columns {columns} without missing values")
        src = torch.from_numpy(batch.column("src").to_numpy().copy())
        dst[start:end].numpy()[:] = batch.column("dst").to_numpy()
        first, last = (int(v) for v in torch.aminmax(src))
        lowest, highest = (int(v) for v in torch.aminmax(dst[start:end]))
        if min(first, lowest) < 0 or max(last, highest) >= n_agents:
            _refuse(path, f"src and dst must be agent ids in [0, {n_agents})")
        if weight is not None:
            weight[start:end].numpy()[:] = batch.column(WEIGHT_COLUMN).to_numpy()
            w = weight[start:end]
            if not bool((torch.isfinite(w) & (w >= 0)).all()):
                _refuse(path, "weights must be finite and >= 0")
        counts[first:last + 1] += torch.bincount(src - first, minlength=last - first + 1)
        if is_sorted:
            pairs = torch.cat([previous.unsqueeze(0), torch.stack([src, dst[start:end]], 1)])  # [B + 1, 2]
            is_sorted = _lexicographically_increasing(pairs)
            previous = pairs[-1]
        start = end
    crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    if not is_sorted:  # written in another order, or a contact listed twice
        src = _tensor(file.read(columns=["src"]).column("src"))
        src, dst, weight = _sorted_edges(src, dst, weight, n_agents)
        if not _lexicographically_increasing(torch.stack([src, dst], 1)):
            _refuse(path, "some contacts are listed twice")
    crow = crow.to(torch.int32 if n_edges < 2**31 else torch.int64)
    return ContactLayer(n_agents, crow, dst, weight, is_symmetric=True, validate=False)


def _lexicographically_increasing(pairs: torch.Tensor) -> bool:
    """Each row (src, dst) of [E, 2] comes strictly after the one before: src non-decreasing, dst increasing within
    equal src (so no contact is listed twice)."""
    src, dst = pairs[:, 0], pairs[:, 1]
    step_src, step_dst = src[1:] - src[:-1], dst[1:] - dst[:-1]
    return bool(((step_src > 0) | ((step_src == 0) & (step_dst > 0))).all())


def _open_parquet(path: Path) -> pq.ParquetFile:
    if not path.is_file():
        raise FileNotFoundError(f"population file {str(path)!r} does not exist")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise PopulationFileError(f"{str(path)!r} cannot be read as Parquet ({err}); "
                                  f"run `populace population check {path.parent}`") from None


def _refuse(path: Path, problem: str) -> NoReturn:
    raise PopulationFileError(f"{str(path)!r}: {problem}; run `populace population check {path.parent.parent}` "
                              "for the rows")


def _sorted_edges(src: torch.Tensor, dst: torch.Tensor, weight: torch.Tensor | None,
                  n_agents: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The edges in (src, dst) order (one sort of int64 keys), for files written unsorted."""
    order = torch.sort(src.to(torch.int64) * n_agents + dst, stable=True).indices
    return src[order], dst[order], None if weight is None else weight[order]
