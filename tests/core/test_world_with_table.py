"""`World.with_table`: a table replaced by one of another row count, the other tables shared."""

import pytest
import torch

from populace.core import AgentTable, World


def test_with_table_replaces_a_table_of_another_length_and_keeps_the_rest():
    agents = AgentTable({"x": torch.zeros(3)})
    world = World(tables={"agents": agents, "posts": AgentTable({"likes": torch.zeros(2)})}, seed=1)
    longer = world.with_table("posts", AgentTable({"likes": torch.arange(5.0)}))
    assert longer.table("posts").n == 5
    assert world.table("posts").n == 2  # the old world is unchanged
    assert longer.agents is agents
    with pytest.raises(TypeError, match="table 'posts' must be an AgentTable, got dict"):
        world.with_table("posts", {"likes": torch.zeros(1)})
