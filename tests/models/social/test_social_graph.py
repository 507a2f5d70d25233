"""The follow graph: edge lists checked, duplicates dropped, rows, counts and the merge of new follows."""

import pytest
import torch

from populace.models.social import FollowGraph, synthetic_follows


def test_edges_become_sorted_distinct_keys_with_rows():
    graph = FollowGraph.from_edges(torch.tensor([2, 0, 0, 1, 0, 3]), torch.tensor([0, 3, 1, 2, 3, 3]), 4)
    # 0 -> 3 twice and the self-follow 3 -> 3 are dropped
    assert graph.keys.tolist() == [1, 3, 6, 8]
    assert graph.crow().tolist() == [0, 2, 3, 4, 4]
    assert graph.followers_count().tolist() == [1, 1, 1, 1]
    assert graph.followees_count().tolist() == [2, 1, 1, 0]
    assert graph.contains(torch.tensor([0, 3, 2]), torch.tensor([3, 0, 0])).tolist() == [True, False, True]


def test_new_follows_merge_as_a_sort_would():
    graph = FollowGraph.from_edges(torch.tensor([0, 0, 2, 3, 1]), torch.tensor([1, 3, 0, 2, 2]), 4)
    merged, added = graph.with_follows(torch.tensor([0, 1, 1, 3, 2, 2]), torch.tensor([2, 2, 0, 3, 1, 1]))
    # 1 -> 2 exists, 3 -> 3 is a self-follow, 2 -> 1 comes twice: new are 0 -> 2, 1 -> 0, 2 -> 1
    assert added == 3
    assert merged.keys.tolist() == sorted([*graph.keys.tolist(), 2, 4, 9])


@pytest.mark.parametrize(("follower", "followee", "message"), [
    ([0, 1, 7], [1, 2, 0], r"1 unknown user id\(s\) in column 'follower' \(users are 0..4\): rows \[2\] hold \[7\]"),
    ([0, 1], [-1, 2], r"unknown user id\(s\) in column 'followee'"),
    ([0.0, 1.0], [1, 2], "follower ids must be integers"),
    ([0, 1], [1], "1-D of one length"),
])
def test_bad_edge_lists_are_refused(follower, followee, message):
    with pytest.raises(ValueError, match=message):
        FollowGraph.from_edges(torch.tensor(follower), torch.tensor(followee), 5)


def test_synthetic_graph_is_heavy_tailed():
    graph = synthetic_follows(2000, 10, seed=1)
    followers = graph.followers_count().double()
    assert graph.n_edges / 2000 == pytest.approx(10, rel=0.1)  # Poisson(10) follows, a few repeats dropped
    assert float(followers.max()) > 20 * float(followers.mean())  # Zipf fame: the top user has most followers
