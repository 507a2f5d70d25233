"""Validate a population folder that someone else made against the population schema (docs/population-schema.md).

`check_population(dir)` returns every problem found, each naming the file, the column, how many rows are wrong,
a few examples and how to fix it; `validate_population(dir)` raises them. Checks that need a column only run
when that column exists with the right type, so one missing column gives one problem, not a cascade.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from populace.core.errors import PopulationFileError
from populace.manifest import MANIFEST_NAME, sha256_of
from populace.population.storage import (
    AGE_BAND_YEARS,
    AGENT_COLUMNS,
    AGENTS_FILE,
    EDGE_COLUMNS,
    HOUSEHOLD_COLUMNS,
    HOUSEHOLDS_FILE,
    LAST_AGE_BAND,
    LAYERS_DIR,
    NO_CODE,
    OPTIONAL_AGENT_COLUMNS,
    SCHEMA_VERSION,
    WEIGHT_COLUMN,
    WEIGHT_TYPE,
    ZONE_COLUMNS,
    ZONES_FILE,
)

N_EXAMPLES = 3
MANIFEST_KEYS = ("schema_version", "counts", "layers", "seed", "scale", "sources", "codes")
"""Keys every manifest has; `data_dir` is needed too once a source path is relative (older manifests lack it)."""


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a population folder: `file` (relative to the folder), `column` (or None), `message`."""

    file: str
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.column is None else f"{self.file} [{self.column}]"
        return f"{where}: {self.message}"


def check_population(directory: str | Path) -> list[Problem]:
    """Every way the folder departs from the population schema; an empty list when it is a valid population."""
    return _Checker(Path(directory)).run()


def validate_population(directory: str | Path) -> None:
    """Raise PopulationFileError listing the problems `check_population` finds (nothing when valid)."""
    problems = check_population(directory)
    if problems:
        raise PopulationFileError(f"{str(directory)!r} is not a valid population ({len(problems)} problem(s)):\n"
                                  + "\n".join(f"  {p}" for p in problems))


class _Checker:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Problem] = []

    def add(self, file: str, column: str | None, message: str) -> None:
        self.problems.append(Problem(file, column, message))

    def flag(self, file: str, column: str | None, bad: np.ndarray, what: str, describe: Callable[[int], str],
             fix: str) -> bool:
        """Add "<count> <what> (e.g. <a few rows, described>); <fix>" when `bad` (row numbers, or a boolean mask
        over the rows) holds any row; returns whether it did."""
        rows = np.flatnonzero(bad) if bad.dtype == np.bool_ else bad
        if rows.size:
            self.add(file, column, f"{rows.size} {what} (e.g. {_examples(rows, describe)}); {fix}")
        return bool(rows.size)

    def run(self) -> list[Problem]:
        if not self.root.is_dir():
            self.add(str(self.root), None, "directory does not exist; build a population with "
                     "`populace population build` or pass the folder that holds manifest.json")
            return self.problems
        manifest = self.check_manifest()
        optional = {name: kind for name, kind in OPTIONAL_AGENT_COLUMNS.items()
                    if (self.root / AGENTS_FILE).is_file() and _has_column(self.root / AGENTS_FILE, name)}
        agents, n_agents = self.read(AGENTS_FILE, {**AGENT_COLUMNS, **optional})
        zones, n_zones = self.read(ZONES_FILE, ZONE_COLUMNS)
        households, n_households = self.read(HOUSEHOLDS_FILE, HOUSEHOLD_COLUMNS)
        self.check_row_ids(AGENTS_FILE, agents, "id")
        self.check_row_ids(ZONES_FILE, zones, "zone")
        self.check_row_ids(HOUSEHOLDS_FILE, households, "household")
        self.check_references(AGENTS_FILE, agents, "zone", n_zones, ZONES_FILE)
        self.check_references(AGENTS_FILE, agents, "household", n_households, HOUSEHOLDS_FILE)
        self.check_references(HOUSEHOLDS_FILE, households, "zone", n_zones, ZONES_FILE)
        self.check_regions(agents, zones, n_zones)
        self.check_households(agents, households, n_households)
        self.check_zone_population(agents, zones, n_zones)
        self.check_order(agents)
        self.check_ages(agents)
        self.check_employment(agents)
        self.check_groups(agents)
        if manifest is not None:
            self.check_codes(agents, manifest.get("codes"))
            self.check_counts(manifest, {"agents": n_agents, "zones": n_zones, "households": n_households})
        self.check_layers(manifest, n_agents)
        if manifest is not None:
            self.check_files(manifest.get("files"))
        return self.problems

    # ------------------------------------------------------------------ files and columns
    def check_manifest(self) -> dict[str, Any] | None:
        path = self.root / MANIFEST_NAME
        if not path.is_file():
            self.add(MANIFEST_NAME, None, "missing; write one with Population.save (it records counts, seed, "
                     "scale, sources and their SHA-256, codes and the schema version)")
            return None
        try:
            manifest = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            self.add(MANIFEST_NAME, None, f"not valid JSON ({err}); rewrite it with Population.save")
            return None
        if not isinstance(manifest, dict):
            self.add(MANIFEST_NAME, None, f"must be a JSON object, got {type(manifest).__name__}")
            return None
        missing = [key for key in MANIFEST_KEYS if key not in manifest]
        if missing:
            self.add(MANIFEST_NAME, None, f"lacks key(s) {missing}; Population.save writes them all")
        if "schema_version" in manifest and manifest["schema_version"] != SCHEMA_VERSION:
            self.add(MANIFEST_NAME, "schema_version", f"is {manifest['schema_version']!r}, expected "
                     f"{SCHEMA_VERSION}; rebuild the population with this version of Populace")
        for key, kind in (("counts", dict), ("layers", dict), ("codes", dict), ("sources", list)):
            if key in manifest and not isinstance(manifest[key], kind):
                self.add(MANIFEST_NAME, key, f"must be a JSON {'object' if kind is dict else 'array'}, "
                         f"got {type(manifest[key]).__name__}")
                manifest.pop(key)
        bad = [i for i, s in enumerate(manifest.get("sources", []))
               if not (isinstance(s, dict) and isinstance(s.get("path"), str) and _is_sha256(s.get("sha256")))]
        if bad:
            self.add(MANIFEST_NAME, "sources", f"{len(bad)} source entries lack a path or a 64-hex-digit sha256 "
                     f"(entries {bad[:N_EXAMPLES]}); list each input file as {{\"path\": ..., \"sha256\": ...}}")
        data_dir = manifest.get("data_dir")
        if data_dir is not None and not (isinstance(data_dir, str) and Path(data_dir).is_absolute()):
            self.add(MANIFEST_NAME, "data_dir", f"is {data_dir!r}; it must be the absolute path of the data directory "
                     "that relative source paths start from (or null when no source lies in it)")
        elif data_dir is None:
            relative = [s["path"] for s in manifest.get("sources", [])
                        if isinstance(s, dict) and isinstance(s.get("path"), str) and not Path(s["path"]).is_absolute()]
            if relative:
                self.add(MANIFEST_NAME, "data_dir", f"is missing, but {len(relative)} source paths are relative to "
                         f"it (e.g. {', '.join(relative[:N_EXAMPLES])}); record the data directory they were read "
                         "from as \"data_dir\" (Population.save does)")
        return manifest

    def read(self, file: str, expected: Mapping[str, pa.DataType]) -> tuple[dict[str, np.ndarray], int | None]:
        """The schema columns of `file` that exist with the right type and no missing values, and its row count."""
        path = self.root / file
        if not path.is_file():
            self.add(file, None, "missing; every population has agents.parquet, zones.parquet and "
                     "households.parquet (docs/population-schema.md)")
            return {}, None
        try:
            schema = pq.read_schema(path)
            n_rows = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowInvalid, OSError) as err:
            self.add(file, None, f"cannot be read as Parquet ({err}); write it with pyarrow.parquet.write_table")
            return {}, None
        missing = [name for name in expected if name not in schema.names]
        if missing:
            self.add(file, None, f"lacks column(s) {missing} (it has: {', '.join(schema.names)}); "
                     "see docs/population-schema.md")
        wanted = []
        for name, want in expected.items():
            if name not in schema.names:
                continue
            got = schema.field(name).type
            if got == want or (pa.types.is_string(want) and pa.types.is_large_string(got)):
                wanted.append(name)
            else:
                self.add(file, name, f"has type {got}, the schema says {want}; cast it before writing "
                         f"(e.g. pandas .astype('{want}'))")
        table = pq.read_table(path, columns=wanted)
        columns = {}
        for name in wanted:
            array = table.column(name)
            if array.null_count:
                self.add(file, name, f"{array.null_count} of {n_rows} rows are missing (null); every row needs "
                         "a value")
            elif not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
                columns[name] = array.to_numpy()
        return columns, n_rows

    def check_row_ids(self, file: str, table: Mapping[str, np.ndarray], column: str) -> None:
        if column not in table:
            return
        ids = table[column]
        self.flag(file, column, ids != np.arange(ids.size), f"rows have {column} != row number",
                  lambda r: f"row {r} has {ids[r]}", f"{column} must be 0..{ids.size - 1} in row order: sort the "
                  "rows and renumber, updating every reference to them")

    def check_references(self, file: str, table: Mapping[str, np.ndarray], column: str, n_target: int | None,
                         target: str) -> None:
        if column not in table or n_target is None:
            return
        values = table[column]
        self.flag(file, column, (values < 0) | (values >= n_target), f"rows refer to no row of {target}",
                  lambda r: f"row {r} has {values[r]}", f"{column} must be in [0, {n_target}): {target} has "
                  f"{n_target} rows")

    # ------------------------------------------------------------------ consistency between files
    def check_regions(self, agents: Mapping[str, np.ndarray], zones: Mapping[str, np.ndarray],
                      n_zones: int | None) -> None:
        if not {"zone", "region"} <= agents.keys() or "region" not in zones or n_zones is None:
            return
        zone, region = agents["zone"], agents["region"]
        ok = (zone >= 0) & (zone < n_zones)
        self.flag(AGENTS_FILE, "region", ok & (region != zones["region"][np.where(ok, zone, 0)]),
                  "agents have a region other than their zone's in zones.parquet",
                  lambda r: f"agent {r}: region {region[r]}, zone {zone[r]}", "set region = zones.region[zone]")

    def check_households(self, agents: Mapping[str, np.ndarray], households: Mapping[str, np.ndarray],
                         n_households: int | None) -> None:
        if "household" not in agents or n_households is None:
            return
        household = agents["household"]
        ok = (household >= 0) & (household < n_households)
        members = np.bincount(household[ok], minlength=n_households)
        size = households.get("size")
        self.flag(HOUSEHOLDS_FILE, None, members == 0,
                  "households have no members in agents.parquet",
                  lambda h: f"household {h}" + ("" if size is None else f" of size {size[h]}"),
                  "every household has at least one member: drop the empty households and renumber `household` in "
                  "both files")
        if size is not None:
            self.flag(HOUSEHOLDS_FILE, "size", size != members,
                      "households have a size other than their number of members in agents.parquet",
                      lambda h: f"household {h}: size {size[h]}, {members[h]} members", "set size to the member count")
        if "zone" not in agents:
            return
        zone = agents["zone"].astype(np.int64)
        index = torch.from_numpy(household[ok].astype(np.int64))
        member_zone = torch.from_numpy(zone[ok])
        lowest = torch.full((n_households,), np.iinfo(np.int64).max).scatter_reduce(0, index, member_zone, "amin")
        highest = torch.full((n_households,), -1, dtype=torch.int64).scatter_reduce(0, index, member_zone, "amax")
        lowest, highest = lowest.numpy(), highest.numpy()
        self.flag(AGENTS_FILE, "zone", highest > lowest, "households have members in different zones",
                  lambda h: f"household {h} in zones {lowest[h]}..{highest[h]}",
                  "all members of a household live in its zone: fix the agents' zone or household")
        if "zone" in households:
            stated = households["zone"]
            self.flag(HOUSEHOLDS_FILE, "zone", (members > 0) & (highest == lowest) & (lowest != stated),
                      "households have a zone other than their members'",
                      lambda h: f"household {h}: zone {stated[h]}, members in {lowest[h]}",
                      "set it to the zone where its members live")

    def check_zone_population(self, agents: Mapping[str, np.ndarray], zones: Mapping[str, np.ndarray],
                              n_zones: int | None) -> None:
        if "zone" not in agents or "population" not in zones or n_zones is None:
            return
        zone = agents["zone"]
        counted = np.bincount(zone[(zone >= 0) & (zone < n_zones)], minlength=n_zones)
        stated = zones["population"]
        self.flag(ZONES_FILE, "population", counted != stated, "zones have a population other than their number "
                  "of agents", lambda z: f"zone {z}: {stated[z]}, {counted[z]} agents", "set it to the agent count")

    # ------------------------------------------------------------------ the agents' own columns
    def check_order(self, agents: Mapping[str, np.ndarray]) -> None:
        """Rows sorted by (zone, household): a household's members, and a zone's, are neighbours in memory."""
        if not {"zone", "household"} <= agents.keys():
            return
        zone, household = agents["zone"], agents["household"]
        descending = (zone[1:] < zone[:-1]) | ((zone[1:] == zone[:-1]) & (household[1:] < household[:-1]))
        self.flag(AGENTS_FILE, "zone, household", np.flatnonzero(descending) + 1,
                  "rows are out of (zone, household) order",
                  lambda r: f"row {r}: ({zone[r]}, {household[r]}) after ({zone[r - 1]}, {household[r - 1]})",
                  "the schema orders agents by zone then household so that the members of a household and of a "
                  "zone are neighbours in memory (layer gathers and aggregations stay cache friendly): sort the rows "
                  "by (zone, household), then renumber id and the layers' src and dst")

    def check_ages(self, agents: Mapping[str, np.ndarray]) -> None:
        if not {"age", "age_band"} <= agents.keys():
            return
        age, band = agents["age"], agents["age_band"]
        self.flag(AGENTS_FILE, "age_band", band != np.minimum(age // AGE_BAND_YEARS, LAST_AGE_BAND),
                  "agents have an age outside their age_band", lambda r: f"row {r}: age {age[r]}, age_band {band[r]}",
                  f"band b holds ages {AGE_BAND_YEARS}b..{AGE_BAND_YEARS}b+{AGE_BAND_YEARS - 1} and band "
                  f"{LAST_AGE_BAND} ages {AGE_BAND_YEARS * LAST_AGE_BAND} and over: set age_band = "
                  f"min(age // {AGE_BAND_YEARS}, {LAST_AGE_BAND})")

    def check_employment(self, agents: Mapping[str, np.ndarray]) -> None:
        """Employed agents, and only they, have an industry (not NO_CODE) and may have a workplace (not -1)."""
        if "is_employed" not in agents:
            return
        employed = agents["is_employed"]
        if "industry" in agents:
            industry = agents["industry"]
            self.flag(AGENTS_FILE, "industry", employed & (industry == NO_CODE),
                      f"employed agents have no industry ({NO_CODE})", lambda r: f"row {r}",
                      "give each employed agent its industry code (labels in manifest.json codes['industry']), or "
                      "set is_employed = false")
            self.flag(AGENTS_FILE, "industry", ~employed & (industry != NO_CODE),
                      "agents not employed have an industry", lambda r: f"row {r} has {industry[r]}",
                      f"set industry = {NO_CODE} (none) where is_employed is false, or set is_employed = true")
        if "workplace" in agents:
            workplace = agents["workplace"]
            self.flag(AGENTS_FILE, "workplace", ~employed & (workplace != -1),
                      "agents not employed have a workplace", lambda r: f"row {r} has {workplace[r]}",
                      "set workplace = -1 where is_employed is false, or set is_employed = true")
        if "work_region" in agents:
            work_region = agents["work_region"]
            self.flag(AGENTS_FILE, "work_region", ~employed & (work_region != NO_CODE),
                      "agents not employed have a work region", lambda r: f"row {r} has {work_region[r]}",
                      f"set work_region = {NO_CODE} (none) where is_employed is false, or set is_employed = true")
            if "workplace" in agents:
                self.flag(AGENTS_FILE, "workplace", (work_region == NO_CODE) & (agents["workplace"] != -1),
                          f"agents working outside the area (work_region {NO_CODE}) have a workplace",
                          lambda r: f"row {r} has {agents['workplace'][r]}",
                          "set workplace = -1 for them (their coworkers are not in the population), or give them "
                          "the region of their workplace")

    def check_groups(self, agents: Mapping[str, np.ndarray]) -> None:
        """`school_class` and `workplace` are -1 (none) or a group number in [0, N); numbers may skip (gaps)."""
        for column in ("school_class", "workplace"):
            if column not in agents:
                continue
            group = agents[column]
            self.flag(AGENTS_FILE, column, (group < -1) | (group >= group.size),
                      f"agents have a {column} that is neither -1 (none) nor a group number in [0, {group.size})",
                      lambda r, group=group: f"row {r} has {group[r]}",
                      f"number the groups 0, 1, ... (at most one per agent) and set {column} = -1 for agents in none")

    def check_codes(self, agents: Mapping[str, np.ndarray], codes: Any) -> None:
        if not isinstance(codes, dict):
            return
        for column, labels in codes.items():
            if column not in agents or not isinstance(labels, list):
                continue
            values = agents[column]
            out = (values < 0) | (values >= len(labels))
            if values.dtype == np.uint8:
                out &= values != NO_CODE
            self.flag(AGENTS_FILE, column, out, f"agents have codes without a label in manifest.json "
                      f"codes[{column!r}], which has {len(labels)} labels", lambda r, values=values: f"row {r} has "
                      f"{values[r]}", "add the labels or fix the codes")

    def check_counts(self, manifest: Mapping[str, Any], rows: Mapping[str, int | None]) -> None:
        counts = manifest.get("counts", {})
        for key, n_rows in rows.items():
            if key in counts and n_rows is not None and counts[key] != n_rows:
                self.add(MANIFEST_NAME, "counts", f"says {counts[key]} {key} but {key}.parquet has {n_rows} rows; "
                         "rewrite the manifest from the files (Population.load then save)")

    def check_files(self, files: Any) -> None:
        for entry in files if isinstance(files, list) else []:
            path = self.root / str(entry.get("path", "")) if isinstance(entry, dict) else None
            if path is None or not path.is_file():
                continue
            if entry.get("bytes") != path.stat().st_size or entry.get("sha256") != sha256_of(path):
                self.add(MANIFEST_NAME, "files", f"{entry['path']} has changed since the manifest was written "
                         "(size or SHA-256 differ); rebuild it, or copy it again if it came from elsewhere")

    # ------------------------------------------------------------------ layers
    def check_layers(self, manifest: Mapping[str, Any] | None, n_agents: int | None) -> None:
        listed = dict(manifest.get("layers", {})) if manifest is not None else {}
        on_disk = sorted(p.stem for p in (self.root / LAYERS_DIR).glob("*.parquet"))
        for name in on_disk:
            if manifest is not None and name not in listed:
                self.add(f"{LAYERS_DIR}/{name}.parquet", None, "is not listed under \"layers\" in manifest.json; "
                         "list it with its edge count, or delete it")
        for name in listed:
            if name not in on_disk:
                self.add(f"{LAYERS_DIR}/{name}.parquet", None, "missing, but manifest.json lists the layer; "
                         "write the layer or remove it from the manifest")
        for name in on_disk:
            stated = listed.get(name, {}).get("edges") if isinstance(listed.get(name), dict) else None
            self.check_layer(f"{LAYERS_DIR}/{name}.parquet", n_agents, stated)

    def check_layer(self, file: str, n_agents: int | None, stated_edges: int | None) -> None:
        path = self.root / file
        has_weight = path.is_file() and _has_column(path, WEIGHT_COLUMN)
        columns, n_rows = self.read(file, {**EDGE_COLUMNS, **({WEIGHT_COLUMN: WEIGHT_TYPE} if has_weight else {})})
        if n_rows is not None and stated_edges is not None and stated_edges != n_rows:
            self.add(MANIFEST_NAME, "layers", f"says {file} has {stated_edges} edges but it has {n_rows} rows; "
                     "rewrite the manifest from the files (Population.load then save)")
        weight = columns.get(WEIGHT_COLUMN)
        if weight is not None:
            self.flag(file, WEIGHT_COLUMN, ~(weight >= 0) | ~np.isfinite(weight),
                      "weights are negative, infinite or NaN", lambda r: f"row {r}: {weight[r]:g}",
                      "drop those edges or fix the weights")
        if not {"src", "dst"} <= columns.keys() or n_agents is None:
            return
        src, dst = columns["src"].astype(np.int64), columns["dst"].astype(np.int64)
        out_of_range = False
        for name, ids in (("src", src), ("dst", dst)):
            out_of_range |= self.flag(file, name, (ids < 0) | (ids >= n_agents),
                                      f"agent ids out of range [0, {n_agents})",
                                      lambda r, ids=ids: f"row {r} has {ids[r]}", "ids are rows of agents.parquet")
        self.flag(file, None, src == dst, "self contacts, src == dst", lambda r: f"row {r}: agent {src[r]}",
                  "drop them")
        if out_of_range:
            return
        key = src * n_agents + dst  # [E], increasing when sorted by (src, dst)
        descending = np.flatnonzero(key[1:] < key[:-1]) + 1
        if self.flag(file, None, descending, "rows are out of (src, dst) order",
                     lambda r: f"row {r}: ({src[r]}, {dst[r]}) after ({src[r - 1]}, {dst[r - 1]})",
                     "sort the edges by src then dst"):
            order = torch.sort(torch.from_numpy(key), stable=True).indices.numpy()
            key, src, dst = key[order], src[order], dst[order]
            weight = None if weight is None else weight[order]
        if self.flag(file, None, np.flatnonzero(key[1:] == key[:-1]) + 1, "contacts are listed more than once",
                     lambda r: f"{src[r]} -> {dst[r]}", "merge them (summing weights)"):
            return
        self.check_symmetric(file, key, src, dst, weight, n_agents)

    def check_symmetric(self, file: str, key: np.ndarray, src: np.ndarray, dst: np.ndarray,
                        weight: np.ndarray | None, n_agents: int) -> None:
        """Each contact src -> dst needs dst -> src with the same weight (`key` sorted and distinct).

        The reverse keys, sorted (one radix sort), equal `key` exactly when the layer is symmetric; then edge
        `order[e]` is the reverse of edge e. Otherwise the sorted reverse keys are looked up in `key`.
        """
        reverse, order = torch.sort(torch.from_numpy(dst * n_agents + src), stable=True)
        reverse, order = reverse.numpy(), order.numpy()
        if not np.array_equal(reverse, key):
            at = np.minimum(np.searchsorted(key, reverse), key.size - 1)  # sorted queries: cache friendly
            self.flag(file, None, np.sort(order[key[at] != reverse]),
                      "contacts have no reverse, so the layer is not symmetric",
                      lambda r: f"{src[r]} -> {dst[r]} but no {dst[r]} -> {src[r]}",
                      "add each contact in both directions (ContactLayer.from_edges(..., symmetric=True))")
        elif weight is not None:
            self.flag(file, WEIGHT_COLUMN, weight[order] != weight,
                      "contacts weigh other than their reverse, so the layer is not symmetric",
                      lambda r: f"{src[r]} -> {dst[r]}: {weight[r]:g}, back: {weight[order[r]]:g}",
                      "give both directions one weight")


def _examples(rows: np.ndarray, describe: Callable[[int], str], k: int = N_EXAMPLES) -> str:
    return ", ".join(describe(int(r)) for r in rows[:k]) + (", ..." if rows.size > k else "")


def _has_column(path: Path, name: str) -> bool:
    try:
        return name in pq.read_schema(path).names
    except (pa.ArrowInvalid, OSError):
        return False


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)

