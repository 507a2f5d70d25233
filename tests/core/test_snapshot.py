"""World snapshots: exact round trips (every dtype, multi-dimensional columns, env), and chunked runs through a
snapshot equal one uninterrupted run."""

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
import torch

from populace.core.agents import AgentTable
from populace.core.runner import run
from populace.core.snapshot import SnapshotError, load_world, save_world
from populace.core.world import World
from populace.models import CovidNYC
from populace.models.covid_nyc import CovidParams

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models" / "covid_nyc"))
from covid_fixtures import layered_population


def assert_same_world(a: World, b: World) -> None:
    assert (a.step, a.seed, a.start_date, a.differentiable) == (b.step, b.seed, b.start_date, b.differentiable)
    assert list(a.tables) == list(b.tables)
    for name, table in a.tables.items():
        other = b.tables[name]
        assert table.columns == other.columns
        for column in table.columns:
            assert table[column].dtype == other[column].dtype, column
            assert torch.equal(table[column].detach(), other[column]), column
    assert set(a.env) == set(b.env)
    for name, value in a.env.items():
        assert value.dtype == b.env[name].dtype, name
        assert torch.equal(value, b.env[name]), name


def test_round_trip_keeps_every_dtype_shape_and_env_value(tmp_path):
    n = 5
    columns = {"flag": torch.tensor([True, False, True, True, False]), "u8": torch.arange(n, dtype=torch.uint8),
               "i16": torch.tensor([-1, 0, 3, 32767, -32768], dtype=torch.int16),
               "f32": torch.tensor([0.1, 1e-30, -2.5, 3.4e38, 7.0]),
               "f64": torch.tensor([0.1, 1 / 3, -2.5, 1e300, 7.0], dtype=torch.float64),
               "bf16": torch.tensor([0.1, 1.5, -2.0, 3.0, 7.0], dtype=torch.bfloat16),
               "f16": torch.tensor([0.1, 1.5, -2.0, 3.0, 7.0], dtype=torch.float16),
               "onehot": torch.nn.functional.one_hot(torch.tensor([0, 5, 2, 1, 3]), 6).float(),
               "cube": torch.arange(n * 6, dtype=torch.int32).reshape(n, 2, 3)}
    world = World(tables={"agents": AgentTable(columns), "firms": AgentTable({"size": torch.tensor([3, 9])})},
                  env={"lockdown": torch.tensor(0.3), "scale": torch.tensor([0.1, 1 / 3], dtype=torch.float64),
                       "day": torch.tensor(4)},
                  step=21, seed=7, start_date=dt.date(2020, 3, 1), differentiable=True)
    save_world(world, tmp_path / "snap")
    assert_same_world(world, load_world(tmp_path / "snap"))
    save_world(world.advance(3), tmp_path / "snap")  # replaces the earlier snapshot
    assert load_world(tmp_path / "snap").step == 24
    assert not list(tmp_path.glob(".*partial"))


def test_bad_snapshot_folders_are_refused_with_the_reason(tmp_path):
    with pytest.raises(SnapshotError, match=r"has no world\.json"):
        load_world(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    world = World.of(AgentTable({"age": torch.tensor([1, 2])}))
    with pytest.raises(FileExistsError, match="is not a world snapshot"):
        save_world(world, tmp_path / "other")
    save_world(world, tmp_path / "snap")
    meta = json.loads((tmp_path / "snap" / "world.json").read_text())
    (tmp_path / "snap" / "world.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(SnapshotError, match="version 99"):
        load_world(tmp_path / "snap")


@pytest.fixture(scope="module")
def model():
    return CovidNYC.from_population(layered_population(1500, seed=3), CovidParams(beta_by_week=(0.25,)),
                                    initial_infected=20)


@pytest.mark.parametrize("differentiable", [False, True])
def test_a_run_resumed_from_a_snapshot_equals_an_uninterrupted_run(model, tmp_path, differentiable):
    whole = run(model, 30, seed=4, differentiable=differentiable, progress=False)
    first = run(model, 17, seed=4, differentiable=differentiable, progress=False)  # 17: mid-week, mid-order
    save_world(first.final_world, tmp_path / "snap")
    rest = run(model, 13, world=load_world(tmp_path / "snap"), differentiable=differentiable, progress=False)
    assert rest.steps == list(range(17, 31))
    assert float(whole["new_infections"].detach().sum()) > 50  # an epidemic, so equality means something
    for name in whole.names:
        assert torch.equal(whole[name][17:].detach(), rest[name].detach()), name
    assert_same_world(whole.final_world, rest.final_world)
