"""The phenomena's metrics on hand-built cases: cascades, stance spread and bimodality, the friendship paradox."""

import pytest
import torch

from populace.models.social import FollowGraph
from populace.models.social.metrics import bimodality, cascade_table, friendship_paradox, stance_histogram, tree_levels

#   post 0 (seed)           post 1 (seed)     post 2 (seed, never reposted)
#   ├── 3                   └── 6
#   │   ├── 5
#   │   └── 7
#   │       └── 8
#   └── 4
PARENT = torch.tensor([-1, -1, -1, 0, 0, 3, 1, 3, 7])


def test_tree_levels_find_roots_and_depths():
    root, depth = tree_levels(PARENT)
    assert root.tolist() == [0, 1, 2, 0, 0, 0, 1, 0, 0]
    assert depth.tolist() == [0, 0, 0, 1, 1, 2, 1, 2, 3]


def test_cascade_size_depth_and_breadth_on_a_hand_built_tree():
    root, depth = tree_levels(PARENT)
    table = cascade_table(root, depth, n_seeds=3)
    assert table["size"].tolist() == [6, 2, 1]
    assert table["depth"].tolist() == [3, 1, 0]
    assert table["max_breadth"].tolist() == [2, 1, 1]  # post 0: depth 1 holds 3 and 4, depth 2 holds 5 and 7


def test_cycles_and_bad_parents_are_refused():
    with pytest.raises(ValueError, match="cycle"):
        tree_levels(torch.tensor([-1, 2, 1]))
    with pytest.raises(ValueError, match=r"parent ids must lie in -1..2"):
        tree_levels(torch.tensor([-1, 5, 0]))


def test_friendship_paradox_on_a_hand_graph():
    # 0 -> 1, 0 -> 2, 1 -> 2, 3 -> 2, 2 -> 0: followers 0: 1, 1: 1, 2: 3, 3: 0
    graph = FollowGraph.from_edges(torch.tensor([0, 0, 1, 3, 2]), torch.tensor([1, 2, 2, 2, 0]), 4)
    # user 0: followees' mean (1 + 3) / 2 = 2 > 1; user 1: 3 > 1; user 3: 3 > 0; user 2: 1 > 3 is false
    assert friendship_paradox(graph) == pytest.approx(3 / 4)


def test_bimodality_of_two_points_and_the_stance_histogram():
    x = torch.tensor([-1.0, -1.0, 1.0, 1.0])
    # skewness 0, excess kurtosis -2: BC = 1 / (-2 + 3 * 3^2 / (2 * 1))
    assert bimodality(x).item() == pytest.approx(1 / 11.5)
    histogram = stance_histogram(torch.tensor([-1.0, -0.95, 0.0, 0.05, 1.0]))
    assert histogram.sum().item() == 5
    assert (histogram[0].item(), histogram[10].item(), histogram[19].item()) == (2, 2, 1)
