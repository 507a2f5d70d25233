"""The halo plan, its dense and sparse exchanges, the backward, exact aggregation and collectives, by hand on a
5-cycle over 3 ranks."""

import torch
from spawning import needs_gloo, spawn

from populace.distributed import HaloContacts, Partition, gather_rows, smallest, sum_counts
from populace.network import ContactLayer

pytestmark = needs_gloo

# the cycle 0-1-2-3-4-0 with weights 1..5; rank 0 owns agents 0, 1; rank 1 owns 2, 3; rank 2 owns 4
PARTITION = Partition((0, 2, 4, 5))
GHOSTS = {0: [2, 4], 1: [1, 4], 2: [0, 3]}
RECV_COUNTS = {0: (0, 1, 1), 1: (1, 0, 1), 2: (1, 1, 0)}
SEND_ROWS = {0: [1, 0], 1: [0, 1], 2: [0, 0]}  # rank 0 sends agent 1 to rank 1, agent 0 to rank 2; ...
SEND_COUNTS = {0: (0, 1, 1), 1: (1, 0, 1), 2: (1, 1, 0)}
# loss on rank r: (r + 1) * sum of its ghosts' values, so d loss / d x_j sums (r + 1) over the ranks reading j
GRAD_X = [3.0, 2.0, 1.0, 3.0, 3.0]


def cycle() -> ContactLayer:
    return ContactLayer.from_edges(5, [0, 1, 2, 3, 0], [1, 2, 3, 4, 4], torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))


def check_rank(rank: int) -> None:
    layer = cycle()
    contacts = HaloContacts.from_layer(layer, PARTITION)
    plan = contacts.plan
    assert plan.ghost_ids.tolist() == GHOSTS[rank]
    assert plan.recv_counts == RECV_COUNTS[rank]
    assert plan.send_rows.tolist() == SEND_ROWS[rank]
    assert plan.send_counts == SEND_COUNTS[rank]

    start, stop = PARTITION.start(rank), PARTITION.stop(rank)
    x_all = torch.arange(5, dtype=torch.float64) * 10 + 1
    x = x_all[start:stop].clone().requires_grad_()
    ghost_values = plan.exchange(x)
    assert ghost_values.tolist() == [10.0 * g + 1 for g in GHOSTS[rank]]
    assert torch.equal(plan.exchange_nonzero(x.detach()), ghost_values.detach())
    sparse = torch.tensor([0.0, 7.0, 0.0, 0.0, 5.0], dtype=torch.float64)  # agents 1 and 4 nonzero
    assert plan.exchange_nonzero(sparse[start:stop]).tolist() == [float(sparse[g]) for g in GHOSTS[rank]]
    columns = torch.stack([sparse, torch.zeros(5, dtype=torch.float64)], 1)
    assert torch.equal(plan.exchange_nonzero(columns[start:stop]), columns[GHOSTS[rank]])
    ((rank + 1) * ghost_values.sum()).backward()
    assert x.grad.tolist() == GRAD_X[start:stop]

    assert torch.equal(contacts.aggregate(x_all[start:stop]), layer.aggregate(x_all)[start:stop])
    two_columns = torch.stack([x_all, -x_all], 1).float()
    assert torch.equal(contacts.aggregate(two_columns[start:stop]), layer.aggregate(two_columns)[start:stop])

    directed = ContactLayer.from_edges(5, [0, 1, 2, 3, 4, 2], [1, 2, 3, 4, 0, 0], symmetric=False)
    one_way = HaloContacts.from_layer(directed, PARTITION)
    assert not one_way.local.is_symmetric
    assert torch.equal(one_way.aggregate(x_all[start:stop]), directed.aggregate(x_all)[start:stop])
    infectious = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0])  # a ghost's row reaches the own agents it touches
    assert contacts.local.is_symmetric
    assert torch.equal(contacts.aggregate(infectious[start:stop]), layer.aggregate(infectious)[start:stop])

    assert sum_counts(torch.tensor([rank, 2**40])).tolist() == [3, 3 * 2**40]
    assert gather_rows(torch.arange(start, stop) * 2, PARTITION).tolist() == [0, 2, 4, 6, 8]
    assert gather_rows(torch.tensor([True] * (stop - start)), PARTITION).tolist() == [True] * 5
    keys = {0: [50, 7, 90], 1: [3], 2: [8, 1]}[rank]
    assert smallest(torch.tensor(keys), 4).tolist() == [1, 3, 7, 8]


@needs_gloo
def test_halo_plan_exchange_and_collectives_on_three_ranks():
    spawn(check_rank, 3)
