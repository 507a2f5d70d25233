"""Per-rank loading from a population's Parquet: on 2 and 3 spawned ranks, each rank reads only the row groups of
its regions (rows counted) and the run equals the one-process SIR on the whole layer bit for bit; a partition that
splits inside a region reads the shared row groups and gives the same run."""

import json
import shutil

import pyarrow.parquet as pq
import pytest
import torch
from spawning import needs_gloo, spawn

from populace.core.errors import PopulationFileError
from populace.distributed import HaloContacts, Partition, gather_rows, load_part, region_sizes
from populace.models import SIR
from populace.models.sir.distributed import PartitionedSIR
from populace.population import Population, region_runs
from populace.population.synthetic import synthetic_population

pytestmark = needs_gloo

N, DAYS, SEED, BETA, INFECTED = 2000, 30, 4, 0.12, 10
COUNTS = ("susceptible", "infectious", "recovered", "new_infections")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """2,000 agents in 5 regions of unequal size (zones of ~150 agents), a random layer of ~8 contacts each."""
    path = tmp_path_factory.mktemp("population") / "pop"
    synthetic_population(N, contacts_per_agent=8, agents_per_zone=150, seed=3).save(path)
    return path


@pytest.fixture(scope="module")
def reference(folder):
    people = Population.load(folder, layers=["random"])
    sir = SIR(people.layers["random"], N, beta_per_day=BETA, initial_infected=INFECTED)
    traj = sir.run(DAYS, seed=SEED, progress=False)
    assert float(traj["recovered"][-1]) > N / 2  # an epidemic: the comparison means something
    world = sir.initial_world(seed=SEED)
    for _ in range(DAYS):
        world = sir(world).advance()
    return {"counts": {name: traj[name].long().tolist() for name in COUNTS}, "stage": world.agents.stage.tolist(),
            "crow": people.layers["random"].crow.tolist(), "regions": region_runs(people.agents["region"])}


def run_rank(rank: int, folder: str, bounds: list[int], out: str) -> None:
    partition = Partition(tuple(bounds))
    part = load_part(folder, "random", partition, columns=["region"])
    local = PartitionedSIR.from_part(part.contacts, beta_per_day=BETA, initial_infected=INFECTED)
    traj = local.run(DAYS, seed=SEED, progress=False)
    world = local.initial_world(seed=SEED)
    for _ in range(DAYS):
        world = local(world).advance()
    stage = gather_rows(world.agents.stage, partition)
    result = {"counts": {name: traj[name].tolist() for name in COUNTS}, "stage": stage.tolist(),
              "ids": [int(part.agents.ids[0]), int(part.agents.ids[-1])], "regions": part.agents["region"].tolist(),
              "agents_read": [list(part.agents_read.row_groups), part.agents_read.rows],
              "contacts_read": [list(part.contacts_read.row_groups), part.contacts_read.rows]}
    with open(f"{out}.{rank}.json", "w") as f:
        json.dump(result, f)


def row_group_rows(path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_region_sizes_come_from_the_row_groups(folder, reference):
    assert region_sizes(folder) == reference["regions"]
    assert len(reference["regions"]) == 5
    assert row_group_rows(folder / "agents.parquet") == list(reference["regions"])  # one row group per region


@pytest.mark.parametrize("n_ranks", [2, 3])
def test_ranks_read_only_their_regions_row_groups_and_run_the_one_process_epidemic(folder, reference, n_ranks,
                                                                                   tmp_path):
    regions, crow = reference["regions"], reference["crow"]
    partition = Partition.by_region(region_sizes(folder), n_ranks)
    spawn(run_rank, n_ranks, str(folder), list(partition.bounds), str(tmp_path / "rank"))
    region_starts = torch.tensor([0, *regions]).cumsum(0).tolist()
    for rank in range(n_ranks):
        result = json.loads((tmp_path / f"rank.{rank}.json").read_text())
        assert result["counts"] == reference["counts"]
        assert result["stage"] == reference["stage"]
        start, stop = partition.start(rank), partition.stop(rank)
        own_groups = [k for k in range(len(regions)) if start <= region_starts[k] < stop]
        assert result["ids"] == [start, stop - 1]
        assert result["agents_read"] == [own_groups, stop - start]  # its regions' row groups, its rows, no more
        assert result["contacts_read"] == [own_groups, crow[stop] - crow[start]]
        assert len(set(result["regions"])) == len(own_groups)


def test_a_partition_inside_a_region_reads_the_shared_row_group_and_runs_the_same(folder, reference, tmp_path):
    regions, crow = reference["regions"], reference["crow"]
    partition = Partition.even(N, 2)
    region_starts = torch.tensor([0, *regions]).cumsum(0).tolist()
    shared = max(k for k in range(len(regions)) if region_starts[k] < N // 2)  # the region cut in two
    assert region_starts[shared] < N // 2 < region_starts[shared + 1]
    spawn(run_rank, 2, str(folder), list(partition.bounds), str(tmp_path / "rank"))
    for rank, groups in enumerate([list(range(shared + 1)), list(range(shared, len(regions)))]):
        result = json.loads((tmp_path / f"rank.{rank}.json").read_text())
        assert result["counts"] == reference["counts"]
        assert result["stage"] == reference["stage"]
        rows = region_starts[groups[-1] + 1] - region_starts[groups[0]]
        assert result["agents_read"] == [groups, rows]
        edges = crow[region_starts[groups[-1] + 1]] - crow[region_starts[groups[0]]]
        assert result["contacts_read"] == [groups, edges]


@pytest.mark.usefixtures("one_rank_group")
def test_bad_loading_input_is_refused(folder, tmp_path):
    with pytest.raises(ValueError, match=f"holds {N} agents but the partition {N + 1}"):
        load_part(folder, "random", Partition.even(N + 1, 1))
    with pytest.raises(FileNotFoundError, match=r"school\.parquet' does not exist"):
        load_part(folder, "school", Partition.even(N, 1))
    with pytest.raises(ValueError, match=r"crow must have rank 0's 3 \+ 1 entries, from 0 to the 2 contacts"):
        HaloContacts.from_rows(Partition((0, 3)), torch.tensor([0, 1, 2]), torch.tensor([1, 0]), is_symmetric=True)
    part = load_part(folder, "random", Partition.even(N, 1))
    with pytest.raises(ValueError, match=r"initial_infected must be in \[1, n_agents=2000\], got 0"):
        PartitionedSIR.from_part(part.contacts, initial_infected=0)
    mixed = tmp_path / "mixed"
    shutil.copytree(folder, mixed)
    table = pq.read_table(mixed / "agents.parquet")
    pq.write_table(table, mixed / "agents.parquet", row_group_size=N // 2)  # two groups, each of several regions
    with pytest.raises(PopulationFileError, match="row group 0 does not hold one region's agents"):
        region_sizes(mixed)
