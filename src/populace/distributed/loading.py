"""Each rank reads only its own agents and their contacts from a population's Parquet (docs/population-schema.md).

`Population.save` writes row groups by region (agents.parquet by the agents' region, each layer file by the region
of `src`, at most 2**20 rows per group), and rows are sorted by id (agents) and by src (layers). So the agents of
ids [start, stop) lie in the row groups whose id range overlaps it (agents' ids are row numbers: the ranges come
from the row counts in the metadata) and their contacts in the row groups whose src statistics overlap it: a rank
reads those row groups and no others, and builds its `HaloContacts` (own rows, ghosts, halo plan) from them. On a
`Partition.by_region` (`region_sizes` reads the region runs from the metadata alone) a rank reads exactly its own
rows; on a partition that cuts inside a region, the rows of the row groups it shares with a neighbour too.

    part = load_part("runs/pop", "random", Partition.by_region(region_sizes("runs/pop"), world_size))
    part.agents          # this rank's rows of agents.parquet
    part.contacts        # this rank's HaloContacts, the plan built (a collective)
    part.agents_read.rows, part.contacts_read.rows   # rows decoded from each file
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
import torch.distributed as dist

from populace.core.agents import AgentTable
from populace.core.errors import PopulationFileError
from populace.distributed.contacts import HaloContacts
from populace.distributed.partition import Partition
from populace.population.storage import (
    AGENTS_FILE,
    EDGE_COLUMNS,
    LAYERS_DIR,
    WEIGHT_COLUMN,
    agent_table,
)


@dataclasses.dataclass(frozen=True)
class RowsRead:
    """What a rank decoded from one file: the row groups (indices) and how many rows they hold."""

    row_groups: tuple[int, ...]
    rows: int


@dataclasses.dataclass(frozen=True, eq=False)
class RankPart:
    """One rank's share of a population: its agents' rows, its contacts (with ghosts and halo plan), and what it
    read to build them."""

    agents: AgentTable
    contacts: HaloContacts
    agents_read: RowsRead
    contacts_read: RowsRead


def region_sizes(directory: str | Path) -> tuple[int, ...]:
    """Agents per region, in id order, from agents.parquet's row-group metadata (no rows read): the input of
    `Partition.by_region`. Needs the row groups by region that `Population.save` writes."""
    path = Path(directory) / AGENTS_FILE
    meta = _open(path).metadata
    column = meta.schema.to_arrow_schema().get_field_index("region")
    if column < 0:
        raise PopulationFileError(f"{str(path)!r} has no region column")
    sizes: list[int] = []
    regions: list[Any] = []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stats = group.column(column).statistics
        if stats is None or not stats.has_min_max or stats.min != stats.max:
            raise PopulationFileError(f"{str(path)!r}: row group {i} does not hold one region's agents (write the "
                                      "population again with Population.save, which cuts row groups by region)")
        if regions and regions[-1] == stats.min:
            sizes[-1] += group.num_rows
        else:
            regions.append(stats.min)
            sizes.append(group.num_rows)
    if len(set(regions)) != len(regions):
        raise PopulationFileError(f"{str(path)!r}: a region's agents are not one run of ids (regions in row-group "
                                  f"order: {regions[:10]})")
    return tuple(sizes)


def load_part(directory: str | Path, layer: str, partition: Partition, *, columns: Sequence[str] | None = None,
              group: Any = None) -> RankPart:
    """This process's rank's agents (`columns` of them; default all) and its contacts in `layer`, read from the
    population folder `directory` row group by row group (a collective: the halo plan is built)."""
    root = Path(directory)
    rank = dist.get_rank(group)
    start, stop = partition.start(rank), partition.stop(rank)
    agents, agents_read = _read_agents(root / AGENTS_FILE, partition, start, stop, columns)
    crow, col, weight, contacts_read = _read_rows(root / LAYERS_DIR / f"{layer}.parquet", partition, start, stop)
    contacts = HaloContacts.from_rows(partition, crow, col, weight, is_symmetric=True, group=group)
    return RankPart(agents, contacts, agents_read, contacts_read)


def _read_agents(path: Path, partition: Partition, start: int, stop: int,
                 columns: Sequence[str] | None) -> tuple[AgentTable, RowsRead]:
    file = _open(path)
    meta = file.metadata
    if meta.num_rows != partition.n_agents:
        raise ValueError(f"{str(path)!r} holds {meta.num_rows} agents but the partition {partition.n_agents}")
    offsets = torch.tensor([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]).cumsum(0)
    chosen = [i for i in range(meta.num_row_groups) if offsets[i] < stop and offsets[i + 1] > start]
    names = None if columns is None else list(dict.fromkeys(["id", *columns]))
    table = file.read_row_groups(chosen, columns=names)
    first = int(offsets[chosen[0]])
    table = table.slice(start - first, stop - start)
    read = RowsRead(tuple(chosen), int(offsets[chosen[-1] + 1] - first))
    return agent_table(table, path, first_id=start), read


def _read_rows(path: Path, partition: Partition, start: int,
               stop: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, RowsRead]:
    """CSR of the contacts of agents [start, stop): crow [n + 1], col (global ids), weight or None; rows read."""
    file = _open(path)
    meta = file.metadata
    names = file.schema_arrow.names
    wanted = [*EDGE_COLUMNS, *([WEIGHT_COLUMN] if WEIGHT_COLUMN in names else [])]
    src_column = names.index("src") if "src" in names else -1
    chosen = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(src_column).statistics if src_column >= 0 else None
        if stats is None or not stats.has_min_max:
            raise PopulationFileError(f"{str(path)!r}: row group {i} has no src statistics; write the population "
                                      "again with Population.save")
        if stats.min < stop and stats.max >= start:
            chosen.append(i)
    n = stop - start
    degree = torch.zeros(n, dtype=torch.int64)
    cols: list[torch.Tensor] = []
    weights: list[torch.Tensor] = []
    last_key, rows = -1, 0
    for i in chosen:  # one row group at a time: what is decoded and not kept is one group, not the rank's rows
        table = file.read_row_group(i, columns=wanted)
        rows += table.num_rows
        src, dst = _column(table, "src").long(), _column(table, "dst")
        keys = src * partition.n_agents + dst
        if not bool((keys[1:] > keys[:-1]).all()) or (keys.numel() and int(keys[0]) <= last_key):
            raise PopulationFileError(f"{str(path)!r}: contacts must be sorted by (src, dst), each listed once; "
                                      f"run `populace population check {path.parent.parent}`")
        last_key = int(keys[-1]) if keys.numel() else last_key
        mine = (src >= start) & (src < stop)
        cols.append(dst[mine])
        if WEIGHT_COLUMN in wanted:
            weights.append(_column(table, WEIGHT_COLUMN)[mine])
        degree += torch.bincount(src[mine] - start, minlength=n)
    col = torch.cat(cols) if cols else torch.zeros(0, dtype=torch.int32)
    if col.numel() and (int(col.min()) < 0 or int(col.max()) >= partition.n_agents):
        raise PopulationFileError(f"{str(path)!r}: dst must be agent ids in [0, {partition.n_agents})")
    crow = torch.cat([degree.new_zeros(1), degree.cumsum(0)])
    return crow, col, torch.cat(weights) if weights else None, RowsRead(tuple(chosen), rows)


def _column(table: pa.Table, name: str) -> torch.Tensor:
    return torch.from_numpy(np.require(table.column(name).to_numpy(), requirements=["C", "W"]))


def _open(path: Path) -> pq.ParquetFile:
    if not path.is_file():
        raise FileNotFoundError(f"population file {str(path)!r} does not exist")
    return pq.ParquetFile(path)
