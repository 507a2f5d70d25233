"""Launcher variables (torchrun, SLURM, Open MPI) and partitions, by hand; no processes started."""

import itertools

import pytest
import torch

from populace.distributed import Partition, ProcessEnv, ghosts
from populace.population import region_runs

MASTER = {"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}


@pytest.mark.parametrize(("variables", "launcher", "rank", "size", "local"), [
    ({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, "torchrun", 3, 4, 1),
    ({"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "2"}, "slurm", 5, 8, 2),
    ({"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_RANK": "0"}, "openmpi", 0, 2,
     0),
    # torchrun started by srun: torchrun's variables win
    ({"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, "torchrun", 1, 2, 0),
])
def test_each_launcher_is_read(variables, launcher, rank, size, local):
    env = ProcessEnv.from_env({**variables, **MASTER})
    assert (env.launcher, env.rank, env.world_size, env.local_rank) == (launcher, rank, size, local)
    assert env.init_method == "tcp://10.0.0.1:29500"


def test_ipv6_rendezvous_is_bracketed():
    env = ProcessEnv.from_env({"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "::1", "MASTER_PORT": "1234"})
    assert env.init_method == "tcp://[::1]:1234"


@pytest.mark.parametrize(("variables", "message"), [
    ({}, "no launcher variables found"),
    ({"RANK": "0", "WORLD_SIZE": "2"}, "MASTER_ADDR and MASTER_PORT not set"),
    ({"RANK": "2", "WORLD_SIZE": "2", **MASTER}, r"rank must lie in \[0, world size\).*got rank 2 of 2"),
    ({"RANK": "0", **MASTER}, "torchrun: WORLD_SIZE is not set"),
    ({"SLURM_PROCID": "one", "SLURM_NTASKS": "2", **MASTER}, "slurm: SLURM_PROCID must be an integer, got 'one'"),
    ({"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "h", "MASTER_PORT": "70000"}, "MASTER_PORT must be a port"),
    ({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "-1", **MASTER}, "local rank must be >= 0, got -1"),
])
def test_bad_launcher_variables_say_what_is_wrong(variables, message):
    with pytest.raises(ValueError, match=message):
        ProcessEnv.from_env(variables)


def test_even_partition_puts_the_larger_ranges_first():
    p = Partition.even(10, 3)
    assert p.bounds == (0, 4, 7, 10)
    assert [p.size(r) for r in range(3)] == [4, 3, 3]
    assert p.ids(1).tolist() == [4, 5, 6]
    assert p.owner(torch.tensor([0, 3, 4, 6, 7, 9])).tolist() == [0, 0, 1, 1, 2, 2]
    assert Partition.from_sizes([1, 5, 2]).bounds == (0, 1, 6, 8)


@pytest.mark.parametrize(("regions", "n_ranks", "bounds"), [
    ([3, 1, 1, 3], 2, (0, 4, 8)),  # the even cut falls on a region boundary
    ([5, 1, 1, 1], 2, (0, 5, 8)),  # the largest region alone: 5 is the best any cut can do
    ([1, 10, 1], 2, (0, 11, 12)),  # 11 either way; regions are packed from the left
    ([1] * 10, 3, (0, 4, 8, 10)),  # largest rank 4 (ceil(10 / 3)), the rest packed from the left
    ([10, 1, 1, 1], 3, (0, 10, 12, 13)),
    ([1, 1, 1, 10], 3, (0, 2, 3, 13)),  # the last ranks closed early so that every rank gets a region
    ([4, 4, 4], 3, (0, 4, 8, 12)),
    ([7], 1, (0, 7)),
])
def test_region_partition_cuts_between_regions_and_minimises_the_largest_rank(regions, n_ranks, bounds):
    p = Partition.by_region(regions, n_ranks)
    assert p.bounds == bounds
    cuts = set(torch.tensor([0, *regions]).cumsum(0).tolist())
    assert set(p.bounds) <= cuts
    brute = min(max(b - a for a, b in itertools.pairwise((0, *inner, sum(regions))))
                for inner in itertools.combinations(sorted(cuts - {0, sum(regions)}), n_ranks - 1))
    assert max(p.size(r) for r in range(n_ranks)) == brute


def test_region_runs_are_the_lengths_of_contiguous_regions():
    assert region_runs(torch.tensor([0, 0, 2, 2, 2, 1], dtype=torch.uint8)) == (2, 3, 1)
    with pytest.raises(ValueError, match=r"regions \[0\] are not contiguous runs of ids"):
        region_runs(torch.tensor([0, 1, 0]))


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: Partition.by_region([3, 4], 3), ValueError,
     r"2 regions cannot be split into 3 ranks along region boundaries; .* Partition.even\(7, 3\)"),
    (lambda: Partition.by_region([3, 0], 1), ValueError, "regions of at least one agent"),
    (lambda: Partition((0, 3, 3, 5)), ValueError, "increase strictly"),
    (lambda: Partition((1, 5)), ValueError, "must start at 0"),
    (lambda: Partition.even(2, 3), ValueError, "at least one agent per rank, got 2 agents on 3 ranks"),
    (lambda: Partition.even(5, 2).owner(torch.tensor([5])), IndexError, r"ids must lie in \[0, 5\)"),
    (lambda: Partition.even(5, 2).start(2), IndexError, r"rank must lie in \[0, 2\), got 2"),
])
def test_bad_partitions_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_ghosts_are_the_contacts_owned_elsewhere_counted_by_owner():
    # path 0 - 1 - 2 - 3 - 4 on ranks [0, 2), [2, 4), [4, 5): rank 1's agents 2 and 3 read 1, 3 and 2, 4
    p = Partition((0, 2, 4, 5))
    ids, counts = ghosts(p, 1, torch.tensor([1, 3, 2, 4]))
    assert ids.tolist() == [1, 4]
    assert counts == (1, 0, 1)
    ids, counts = ghosts(p, 0, torch.tensor([1, 0, 2]))
    assert (ids.tolist(), counts) == ([2], (0, 1, 0))
