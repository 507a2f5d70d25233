"""World: updates, clock, environment, randomness keyed on ids, and bad input."""

import datetime as dt

import pytest
import torch

from populace.core import AgentTable, SubstepOutputError, World


def _world(**kwargs) -> World:
    return World.of(AgentTable({"age": torch.tensor([5, 30, 70], dtype=torch.uint8)}), **kwargs)


def test_update_replaces_columns_and_keeps_the_old_world():
    w = _world()
    w2 = w.update({"age": torch.tensor([6, 31, 71], dtype=torch.uint8)})
    assert w.agents.age.tolist() == [5, 30, 70]
    assert w2.agents.age.tolist() == [6, 31, 71]


def test_clock_and_dates():
    w = _world(start_date=dt.date(2020, 3, 1))
    assert w.advance().advance(2).step == 3
    assert w.advance(31).date == dt.date(2020, 4, 1)
    assert _world().date is None


def test_env_values():
    w = _world().with_env(lockdown=1.0)
    assert float(w.env["lockdown"]) == 1.0
    with pytest.raises(ValueError, match="env value 'x' contains NaN"):
        _world(env={"x": torch.tensor(float("nan"))})


def test_uniform_depends_on_agent_id_not_position():
    w = _world(seed=4)
    flipped = World.of(w.agents.take(torch.tensor([2, 1, 0])), seed=4)
    assert torch.equal(flipped.uniform("s"), w.uniform("s").flip(0))
    assert not torch.equal(w.uniform("s"), w.advance().uniform("s"))
    assert w.randint("k", 10, n=3).shape == (3, 3)


@pytest.mark.parametrize(
    ("columns", "match"),
    [
        ({"height": torch.zeros(3)}, "names column 'height', which table 'agents' does not have"),
        ({"age": torch.zeros(2)}, "must have 3 rows, got \\[2\\]"),
    ],
)
def test_bad_updates_raise(columns, match):
    with pytest.raises(SubstepOutputError, match=match):
        _world().update(columns)


def test_bad_worlds_raise():
    with pytest.raises(ValueError, match="at least one agent table"):
        World(tables={})
    with pytest.raises(TypeError, match="must be an AgentTable"):
        World(tables={"agents": {"age": torch.zeros(3)}})
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        _world(seed=-2)
    with pytest.raises(KeyError, match="no agent table 'workers'"):
        _world().table("workers")


def test_a_draw_among_some_agents_is_the_full_draw_masked_in_both_modes():
    # fast mode hashes uniforms only for the agents among with p > 0; the outcome is the full draw, masked
    n = 1000
    world = World.of(AgentTable({"id": torch.arange(n, dtype=torch.int32)}), seed=7)
    p = torch.rand(n, generator=torch.Generator().manual_seed(0)) * (torch.arange(n) % 3 != 0)  # a third p = 0
    among = torch.arange(n) % 2 == 0
    full = world.uniform("draw") < p
    drawn = world.bernoulli("draw", p, among=among)
    assert drawn.dtype == torch.bool
    assert torch.equal(drawn, among & full)
    assert 0 < int(drawn.sum()) < int(among.sum())
    soft = World.of(AgentTable({"id": torch.arange(n, dtype=torch.int32)}), seed=7, differentiable=True)
    assert torch.equal(soft.bernoulli("draw", p, among=among.float()).bool(), drawn)
