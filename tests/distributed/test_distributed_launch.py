"""Launcher variables (torchrun, SLURM, Open MPI) and partitions, by hand; no processes started."""

import pytest
import torch

from populace.distributed import Partition, ProcessEnv, ghosts

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


@pytest.mark.parametrize(("make", "error", "message"), [
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
