"""Population.save / Population.load: exact round trips, the manifest, atomic writes and refusals."""

import dataclasses
import itertools
import json
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from populace.core.errors import PopulationFileError
from populace.manifest import sha256_of
from populace.network import ContactLayer
from populace.population import storage
from populace.population.check import check_population
from populace.population.storage import Population
from populace.population.synthetic import synthetic_population


def small_population(seed: int = 2) -> Population:
    """3,000 agents in 6 zones: household and random layers, plus a weighted work layer (0.5 per contact)."""
    population = synthetic_population(3000, contacts_per_agent=8, agents_per_zone=500, seed=seed)
    work = ContactLayer.from_groups(population.agents["workplace"], 0.5, name="work")
    population.layers = population.layers.with_layer("work", work)
    return population


@pytest.fixture(scope="module")
def population() -> Population:
    return small_population()


def assert_same_population(a: Population, b: Population) -> None:
    assert a.agents.columns == b.agents.columns
    for name in a.agents.columns:
        assert b.agents[name].dtype == a.agents[name].dtype, name
        assert torch.equal(b.agents[name], a.agents[name]), name
    pd.testing.assert_frame_equal(b.zones, a.zones)
    pd.testing.assert_frame_equal(b.households, a.households)
    assert b.layers.names == a.layers.names
    for name in a.layers.names:
        x, y = a.layers[name], b.layers[name]
        assert (y.crow.dtype, y.col.dtype) == (torch.int32, torch.int32)
        assert torch.equal(y.crow, x.crow), name
        assert torch.equal(y.col, x.col), name
        assert (x.weight is None and y.weight is None) or torch.equal(y.weight, x.weight), name
        assert y.is_symmetric


def test_round_trip_is_exact(tmp_path, population):
    population.save(tmp_path / "pop")
    loaded = Population.load(tmp_path / "pop")
    assert_same_population(population, loaded)
    assert loaded.layers["work"].weight.dtype == torch.float32
    assert torch.equal(loaded.layers.aggregate(torch.ones(3000)), population.layers.aggregate(torch.ones(3000)))


def test_manifest_has_counts_sources_codes_and_file_hashes(tmp_path, population, monkeypatch):
    monkeypatch.setenv("POPULACE_DATA", str(tmp_path))
    source = tmp_path / "census.csv"
    source.write_text("zone,people\n0,500\n")
    population.manifest = {**population.manifest, "sources": [source], "seed": 7, "scale": 0.25}
    population.save(tmp_path / "pop")
    manifest = json.loads((tmp_path / "pop" / "manifest.json").read_text())
    assert manifest["schema_version"] == storage.SCHEMA_VERSION
    assert (manifest["seed"], manifest["scale"]) == (7, 0.25)
    assert manifest["counts"] == {"agents": 3000, "zones": 6, "households": len(population.households)}
    assert manifest["layers"]["work"] == {"edges": population.layers["work"].n_edges, "weighted": True}
    assert manifest["layers"]["household"]["weighted"] is False
    assert manifest["sources"] == [{"path": "census.csv", "bytes": source.stat().st_size, "sha256": sha256_of(source)}]
    assert manifest["data_dir"] == str(tmp_path.resolve())
    assert manifest["codes"]["race_ethnicity"][0] == "hispanic"
    files = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    assert files["layers/work.parquet"] == sha256_of(tmp_path / "pop" / "layers" / "work.parquet")
    assert Population.load(tmp_path / "pop").manifest == manifest


def source_paths(population: Population, directory) -> tuple[list[str], str | None]:
    """The source paths and data directory that `save` records in the manifest."""
    population.save(directory, overwrite=True)
    manifest = json.loads((directory / "manifest.json").read_text())
    return [entry["path"] for entry in manifest["sources"]], manifest["data_dir"]


def test_sources_are_recorded_relative_to_the_data_directory(tmp_path, population, monkeypatch):
    data, out = tmp_path / "data", tmp_path / "pop"
    inside, outside = data / "nyc" / "census" / "county.csv", tmp_path / "elsewhere.csv"
    inside.parent.mkdir(parents=True)
    for path in (inside, outside):
        path.write_text("zone,people\n0,500\n")
    monkeypatch.setenv("POPULACE_DATA", str(data))
    population = dataclasses.replace(population, manifest={**population.manifest, "sources": [inside, str(outside)]})
    assert source_paths(population, out) == (["nyc/census/county.csv", str(outside.resolve())], str(data.resolve()))
    assert check_population(out) == []
    moved = out.rename(tmp_path / "moved")  # the manifest still names the same inputs
    assert check_population(moved) == []
    assert Population.load(moved).manifest["sources"][0]["path"] == "nyc/census/county.csv"

    population.manifest["data_dir"] = tmp_path  # the builder's data directory comes first
    assert source_paths(population, out) == (["data/nyc/census/county.csv", "elsewhere.csv"], str(tmp_path.resolve()))
    loaded = Population.load(out)  # saved again: the recorded entries and data directory are kept
    assert source_paths(loaded, tmp_path / "again") == (["data/nyc/census/county.csv", "elsewhere.csv"],
                                                        str(tmp_path.resolve()))

    del population.manifest["data_dir"]
    monkeypatch.setenv("POPULACE_DATA", str(tmp_path / "absent"))  # no data directory: absolute paths
    assert source_paths(population, out) == ([str(inside.resolve()), str(outside.resolve())], None)
    population.manifest["sources"] = []
    assert source_paths(population, out) == ([], None)


def test_sorted_id_columns_are_delta_encoded(tmp_path, population):
    population.save(tmp_path / "pop")
    meta = pq.ParquetFile(tmp_path / "pop" / "layers" / "random.parquet").metadata
    names = [meta.row_group(0).column(i).path_in_schema for i in range(meta.num_columns)]
    encodings = {name: meta.row_group(0).column(i).encodings for i, name in enumerate(names)}
    assert "DELTA_BINARY_PACKED" in encodings["src"]
    assert "DELTA_BINARY_PACKED" in encodings["dst"]
    assert meta.row_group(0).column(0).compression == "ZSTD"


def row_groups(path) -> list[tuple[int, int, int]]:
    """(rows, min, max of the first column) of each row group."""
    meta = pq.ParquetFile(path).metadata
    return [(g.num_rows, g.column(0).statistics.min, g.column(0).statistics.max)
            for g in (meta.row_group(i) for i in range(meta.num_row_groups))]


def test_row_groups_follow_regions_and_cut_a_large_region(tmp_path, population, monkeypatch):
    monkeypatch.setattr(storage, "ROW_GROUP_SIZE", 400)  # each region (~600 agents) in two groups
    population.save(tmp_path / "pop")
    runs = storage.region_runs(population.agents["region"])
    starts = torch.tensor([0, *runs]).cumsum(0).tolist()
    expected = [(lo, min(lo + 400, hi)) for lo, hi in itertools.pairwise(starts) for lo in range(lo, hi, 400)]
    assert [(lo, hi + 1) for _, lo, hi in row_groups(tmp_path / "pop" / "agents.parquet")] == expected
    crow = population.layers["random"].crow.tolist()
    edge_groups = row_groups(tmp_path / "pop" / "layers" / "random.parquet")
    assert [rows for rows, _, _ in edge_groups] == [
        min(400, crow[hi] - crow[lo] - k) for lo, hi in itertools.pairwise(starts)
        for k in range(0, crow[hi] - crow[lo], 400)]
    first_src = torch.tensor([0] + [rows for rows, _, _ in edge_groups]).cumsum(0)[:-1]
    src = torch.repeat_interleave(torch.arange(3000), torch.tensor(crow).diff())
    region = population.agents["region"].long()
    for (rows, _, _), first in zip(edge_groups, first_src.tolist(), strict=True):
        assert region[src[first:first + rows]].unique().numel() == 1  # one region's contacts per group
    assert_same_population(population, Population.load(tmp_path / "pop"))


def test_row_groups_are_fixed_size_when_a_region_is_not_one_run(tmp_path, population, monkeypatch):
    monkeypatch.setattr(storage, "ROW_GROUP_SIZE", 1000)
    region = population.agents["region"].clone()
    region[0] = region[-1]  # region 4 in two runs
    mixed = dataclasses.replace(population, agents=population.agents.with_columns(region=region))
    mixed.save(tmp_path / "pop")
    assert [rows for rows, _, _ in row_groups(tmp_path / "pop" / "agents.parquet")] == [1000, 1000, 1000]


def test_load_chosen_layers(tmp_path, population):
    population.save(tmp_path / "pop")
    assert Population.load(tmp_path / "pop", layers=["work"]).layers.names == ("work",)
    assert Population.load(tmp_path / "pop", layers=[]).layers.names == ()
    with pytest.raises(KeyError, match=r"has no layer\(s\) \['school'\] \(its manifest lists: household, random"):
        Population.load(tmp_path / "pop", layers=["school"])


def test_load_sorts_an_unsorted_layer_file(tmp_path, population):
    population.save(tmp_path / "pop")
    path = tmp_path / "pop" / "layers" / "work.parquet"
    table = pq.read_table(path)
    pq.write_table(table.take(torch.randperm(table.num_rows, generator=torch.Generator().manual_seed(0)).numpy()),
                   path)
    assert_same_population(population, Population.load(tmp_path / "pop"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.set_column(1, "dst", pa.array([*t["dst"].to_pylist()[:-1], 3000], pa.int32())),
         r"src and dst must be agent ids in \[0, 3000\)"),
        (lambda t: pa.concat_tables([t, t.slice(0, 1)]), "some contacts are listed twice"),
        (lambda t: t.set_column(2, "weight", pa.array([-1.0] * t.num_rows, pa.float32())),
         "weights must be finite and >= 0"),
        (lambda t: t.drop_columns(["dst"]), r"needs a column 'dst' of int32"),
    ],
)
def test_load_refuses_a_broken_layer(tmp_path, population, edit, message):
    population.save(tmp_path / "pop")
    path = tmp_path / "pop" / "layers" / "work.parquet"
    pq.write_table(edit(pq.read_table(path)), path)
    with pytest.raises(PopulationFileError, match=message):
        Population.load(tmp_path / "pop")


def test_load_refuses_ids_that_are_not_row_numbers(tmp_path, population):
    population.save(tmp_path / "pop")
    path = tmp_path / "pop" / "agents.parquet"
    table = pq.read_table(path)
    pq.write_table(table.set_column(0, "id", pa.array(range(1, 3001), pa.int32())), path)
    with pytest.raises(PopulationFileError, match=r"column 'id' must be int32 and equal to the row number"):
        Population.load(tmp_path / "pop")


def test_load_refuses_a_folder_without_manifest_or_of_another_version(tmp_path, population):
    with pytest.raises(FileNotFoundError, match=r"population directory .* does not exist"):
        Population.load(tmp_path / "nothing")
    population.save(tmp_path / "pop")
    manifest_path = tmp_path / "pop" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "schema_version": 99}))
    with pytest.raises(PopulationFileError, match="has schema_version 99; this Populace reads version 1"):
        Population.load(tmp_path / "pop")
    manifest_path.unlink()
    with pytest.raises(FileNotFoundError, match=r"has no manifest\.json; is it a population folder"):
        Population.load(tmp_path / "pop")


def test_save_refuses_an_existing_directory_unless_overwrite(tmp_path, population):
    population.save(tmp_path / "pop")
    with pytest.raises(FileExistsError, match="already exists; choose another directory or pass overwrite=True"):
        population.save(tmp_path / "pop")
    other = small_population(seed=5)
    other.save(tmp_path / "pop", overwrite=True)
    assert_same_population(other, Population.load(tmp_path / "pop"))
    assert sorted(os.listdir(tmp_path)) == ["pop"]


def test_failed_save_leaves_the_target_untouched(tmp_path, population, monkeypatch):
    population.save(tmp_path / "pop")
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "pop").rglob("*") if p.is_file()}
    layers_written = []

    def fail_on_second_layer(layer):
        if layers_written:
            raise OSError("disk full")
        layers_written.append(layer)
        return storage_layer_arrow(layer)

    storage_layer_arrow = storage._layer_arrow
    monkeypatch.setattr(storage, "_layer_arrow", fail_on_second_layer)
    with pytest.raises(OSError, match="disk full"):
        small_population(seed=5).save(tmp_path / "pop", overwrite=True)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "pop").rglob("*") if p.is_file()}
    assert after == before
    layers_written.clear()
    with pytest.raises(OSError, match="disk full"):
        population.save(tmp_path / "new")
    assert sorted(os.listdir(tmp_path)) == ["pop"]  # no new folder, no half-written staging folder


def test_save_refuses_columns_against_the_schema(tmp_path, population):
    broken = Population(
        population.agents.with_columns(zone=population.agents["zone"].long()).drop("age"),
        population.zones.drop(columns=["name"]),
        population.households.astype({"size": "int64"}),
        population.layers.with_layer("one-way", ContactLayer.from_edges(3000, [0], [1], symmetric=False)),
    )
    message = (r"cannot save this population:\n  agents lacks column\(s\) \['age'\].*\n"
               r"  agents.zone has type int64, the schema says int16\n"
               r"  zones lacks column\(s\) \['name'\].*\n"
               r"  households.size has type int64, the schema says int16\n"
               r"  layer 'one-way' is not symmetric")
    with pytest.raises(ValueError, match=message):
        broken.save(tmp_path / "pop")
    assert not (tmp_path / "pop").exists()


def test_save_refuses_a_manifest_that_is_not_json(tmp_path, population):
    odd = Population(population.agents, population.zones, population.households, population.layers,
                     {"seed": torch.tensor(1)})
    with pytest.raises(TypeError, match=r"population\.manifest must hold JSON-ready values"):
        odd.save(tmp_path / "pop")


def test_save_refuses_ids_that_are_not_row_numbers(tmp_path, population):
    shuffled = population.agents.take(torch.randperm(3000, generator=torch.Generator().manual_seed(1)))
    odd = Population(shuffled, population.zones, population.households, population.layers)
    with pytest.raises(ValueError, match=r"agents\.id must be the row number 0\.\.N-1: reorder the rows by id"):
        odd.save(tmp_path / "pop")
