"""`populace population check DIR` and `populace population build nyc`, with build_nyc replaced by a small builder."""

import json
import sys
import types

import pytest

from populace.cli import main
from populace.population.check import check_population
from populace.population.storage import Population
from populace.population.synthetic import synthetic_population


@pytest.fixture
def fake_nyc(monkeypatch):
    """Install a `populace.population.nyc` whose build_nyc makes 20,000 * scale synthetic agents; records calls."""
    calls = []

    def build_nyc(scale: float, seed: int, data_dir: str | None) -> Population:
        calls.append({"scale": scale, "seed": seed, "data_dir": data_dir})
        return synthetic_population(round(20_000 * scale), contacts_per_agent=6, agents_per_zone=400, seed=seed)

    module = types.ModuleType("populace.population.nyc")
    module.build_nyc = build_nyc
    monkeypatch.setitem(sys.modules, "populace.population.nyc", module)
    return calls


def test_build_writes_a_valid_population_with_its_manifest(tmp_path, capsys, fake_nyc):
    out = tmp_path / "nyc"
    argv = ["population", "build", "nyc", "--out", str(out), "--scale", "0.1", "--seed", "3", "--data-dir", "d"]
    assert main(argv) == 0
    assert fake_nyc == [{"scale": 0.1, "seed": 3, "data_dir": "d"}]
    printed = capsys.readouterr().out
    assert printed.startswith("nyc at scale 0.1, seed 3: 2,000 agents, 5 zones, ")
    assert f"to {out}" in printed
    assert check_population(out) == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["seed"], manifest["scale"], manifest["counts"]["agents"]) == (3, 0.1, 2000)
    assert manifest["command"] == ["populace", *argv]
    assert manifest["arguments"]["data_dir"] == "d"
    assert manifest["build_seconds"] >= 0


def test_build_defaults_to_one_percent(tmp_path, fake_nyc):
    assert main(["population", "build", "nyc", "--out", str(tmp_path / "nyc")]) == 0
    assert fake_nyc == [{"scale": 0.01, "seed": 1, "data_dir": None}]


def test_build_refuses_an_existing_folder_unless_overwrite(tmp_path, fake_nyc):
    out = tmp_path / "nyc"
    out.mkdir()
    with pytest.raises(SystemExit, match="already exists; choose another --out or pass --overwrite"):
        main(["population", "build", "nyc", "--out", str(out)])
    assert fake_nyc == []  # refused before building
    assert main(["population", "build", "nyc", "--out", str(out), "--overwrite", "--scale", "0.05"]) == 0
    assert Population.load(out).n_agents == 1000


def test_failed_build_writes_nothing(tmp_path, capsys, monkeypatch, fake_nyc):
    def broken(scale: float, seed: int, data_dir: str | None) -> Population:
        raise FileNotFoundError("no census tables in d")

    monkeypatch.setattr(sys.modules["populace.population.nyc"], "build_nyc", broken)
    assert main(["population", "build", "nyc", "--out", str(tmp_path / "nyc"), "--data-dir", "d"]) == 2
    assert "populace: error: no census tables in d" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nyc", "--out", "x", "--scale", "0"], "must be a fraction in (0, 1], e.g. 0.01 for 1%, got 0"),
        (["nyc", "--out", "x", "--scale", "1.5"], "must be a fraction in (0, 1], e.g. 0.01 for 1%, got 1.5"),
        (["boston", "--out", "x"], "argument place: invalid choice: 'boston'"),
        (["nyc"], "the following arguments are required: --out"),
    ],
)
def test_build_argument_errors(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["population", "build", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_check_a_valid_population(tmp_path, capsys):
    population = synthetic_population(2000, contacts_per_agent=6, agents_per_zone=400, seed=1)
    population.save(tmp_path / "pop")
    assert main(["population", "check", str(tmp_path / "pop")]) == 0
    assert capsys.readouterr().out == (
        f"{tmp_path / 'pop'}: valid population: 2,000 agents, 5 zones, {len(population.households):,} households; "
        f"contacts (directed) by layer: household {population.layers['household'].n_edges:,}, "
        f"random {population.layers['random'].n_edges:,}\n"
    )


def test_check_prints_each_problem_and_exits_1(tmp_path, capsys):
    synthetic_population(2000, contacts_per_agent=6, agents_per_zone=400, seed=1).save(tmp_path / "pop")
    (tmp_path / "pop" / "zones.parquet").unlink()
    (tmp_path / "pop" / "layers" / "random.parquet").unlink()
    assert main(["population", "check", str(tmp_path / "pop")]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "zones.parquet: missing; every population has agents.parquet, zones.parquet and households.parquet "
        "(docs/population-schema.md)",
        "layers/random.parquet: missing, but manifest.json lists the layer; write the layer or remove it from the "
        "manifest",
    ]
    assert captured.err == f"{tmp_path / 'pop'}: 2 problem(s); see docs/population-schema.md\n"
    assert main(["population", "check", str(tmp_path / "absent")]) == 1
