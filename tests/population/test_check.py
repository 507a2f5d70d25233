"""check_population: a valid population passes; each departure from the schema gives its specific message."""

import json
import re
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from populace.core.errors import PopulationFileError
from populace.network import ContactLayer
from populace.population.check import check_population, validate_population
from populace.population.synthetic import synthetic_population

N = 3000


@pytest.fixture(scope="module")
def valid_dir(tmp_path_factory):
    population = synthetic_population(N, contacts_per_agent=8, agents_per_zone=500, seed=2)
    work = ContactLayer.from_groups(population.agents["workplace"], 0.5, name="work")
    population.layers = population.layers.with_layer("work", work)
    return population.save(tmp_path_factory.mktemp("valid") / "pop")


@pytest.fixture
def pop(tmp_path, valid_dir):
    """A fresh copy of the valid population to break."""
    return shutil.copytree(valid_dir, tmp_path / "pop")


def edit_parquet(path, edit):
    """Rewrite a Parquet file with `edit(columns)` applied to its {name: numpy array} columns (numpy dtypes kept)."""
    table = pq.read_table(path)
    columns = {name: table.column(name).to_numpy(zero_copy_only=False).copy() for name in table.column_names}
    edit(columns)
    pq.write_table(pa.table({k: pa.array(v) for k, v in columns.items()}), path)


def edit_manifest(path, edit):
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def problem_texts(path):
    return [str(p) for p in check_population(path)]


def assert_problem(path, pattern):
    texts = problem_texts(path)
    assert any(re.search(pattern, t) for t in texts), f"no problem matches {pattern!r} in:\n" + "\n".join(texts)


def test_valid_population_has_no_problems(valid_dir):
    assert check_population(valid_dir) == []
    validate_population(valid_dir)


def test_validate_raises_with_every_problem(pop):
    (pop / "households.parquet").unlink()
    with pytest.raises(PopulationFileError, match=r"is not a valid population \(1 problem\(s\)\):\n  households"):
        validate_population(pop)


def test_missing_directory(tmp_path):
    assert problem_texts(tmp_path / "nope") == [
        f"{tmp_path / 'nope'}: directory does not exist; build a population with `populace population build` or "
        "pass the folder that holds manifest.json"]


def test_missing_files(pop):
    (pop / "zones.parquet").unlink()
    (pop / "manifest.json").unlink()
    (pop / "layers" / "work.parquet").unlink()
    texts = problem_texts(pop)
    assert "zones.parquet: missing; every population has agents.parquet, zones.parquet and households.parquet " \
           "(docs/population-schema.md)" in texts
    assert any(t.startswith("manifest.json: missing; write one with Population.save") for t in texts)
    (pop / "agents.parquet").write_text("not parquet")
    assert_problem(pop, r"^agents.parquet: cannot be read as Parquet")


def test_layer_listed_but_missing_or_present_but_unlisted(pop):
    shutil.copy(pop / "layers" / "work.parquet", pop / "layers" / "school.parquet")
    (pop / "layers" / "random.parquet").unlink()
    assert_problem(pop, r"^layers/school.parquet: is not listed under \"layers\" in manifest.json")
    assert_problem(pop, r"^layers/random.parquet: missing, but manifest.json lists the layer")


CASES = {
    "missing column": (
        "agents.parquet", lambda c: c.pop("age"),
        r"^agents.parquet: lacks column\(s\) \['age'\] \(it has: id, zone, region, household, age_band"),
    "wrong dtype": (
        "agents.parquet", lambda c: c.update(zone=c["zone"].astype(np.int64)),
        r"^agents.parquet \[zone\]: has type int64, the schema says int16; cast it"),
    "ids out of row order": (
        "agents.parquet", lambda c: c["id"].__setitem__(slice(0, 2), [1, 0]),
        r"^agents.parquet \[id\]: 2 rows have id != row number \(e.g. row 0 has 1, row 1 has 0\); id must be "
        r"0..2999 in row order"),
    "zone out of range": (
        "agents.parquet", lambda c: c["zone"].__setitem__(5, 6),
        r"^agents.parquet \[zone\]: 1 rows refer to no row of zones.parquet \(it has 6 rows, so zone must be in "
        r"\[0, 6\)\): e.g. row 5 has 6"),
    "household out of range": (
        "agents.parquet", lambda c: c["household"].__setitem__(7, -1),
        r"^agents.parquet \[household\]: 1 rows refer to no row of households.parquet .* e.g. row 7 has -1"),
    "household split across zones": (
        "agents.parquet", lambda c: c["zone"].__setitem__(1, 1),
        r"^agents.parquet \[zone\]: 1 households have members in different zones \(e.g. household 0 in zones "
        r"0..1\); all members of a household live in its zone"),
    "region disagrees with zone": (
        "agents.parquet", lambda c: c["region"].__setitem__(0, 4),
        r"^agents.parquet \[region\]: 1 agents have a region other than their zone's .* agent 0: region 4, zone 0"),
    "codes without labels": (
        "agents.parquet", lambda c: c["race_ethnicity"].__setitem__(3, 9),
        r"^agents.parquet \[race_ethnicity\]: 1 agents have codes without a label in manifest.json "
        r"codes\['race_ethnicity'\] \(8 labels; e.g. row 3 has 9\)"),
    "missing values": (
        "zones.parquet", lambda c: c.update(name=np.array([None, *c["name"][1:]], dtype=object)),
        r"^zones.parquet \[name\]: 1 of 6 rows are missing \(null\)"),
    "zone population": (
        "zones.parquet", lambda c: c["population"].__setitem__(2, 1),
        r"^zones.parquet \[population\]: 1 zones have a population other than their number of agents "
        r"\(e.g. zone 2: 1, \d+ agents\)"),
    "household size": (
        "households.parquet", lambda c: c["size"].__setitem__(3, c["size"][3] + 1),
        r"^households.parquet \[size\]: 1 households have a size other than their number of members in "
        r"agents.parquet \(e.g. household 3: size \d, \d members\); set size to the member count"),
    "household zone": (
        "households.parquet", lambda c: c["zone"].__setitem__(0, 3),
        r"^households.parquet \[zone\]: 1 households have a zone other than their members' \(e.g. household 0: "
        r"zone 3, members in 0\)"),
    "layer id out of range": (
        "layers/work.parquet", lambda c: c["dst"].__setitem__(-1, N),
        r"^layers/work.parquet \[dst\]: 1 agent ids out of range \[0, 3000\) \(e.g. row \d+ has 3000\)"),
    "negative or NaN weight": (
        "layers/work.parquet", lambda c: c["weight"].__setitem__(slice(0, 2), [-1.0, np.nan]),
        r"^layers/work.parquet \[weight\]: 2 weights are negative, infinite or NaN \(e.g. row 0: -1, row 1: nan\)"),
    "weights not symmetric": (
        "layers/work.parquet", lambda c: c["weight"].__setitem__(0, 0.7),
        r"^layers/work.parquet \[weight\]: layer not symmetric: 2 contacts weigh other than their reverse \(e.g. "
        r"0 -> (\d+): 0.7, back: 0.5, \1 -> 0: 0.5, back: 0.7\); give both directions one weight"),
    "not sorted": (
        "layers/random.parquet", lambda c: [c.update({k: v[::-1].copy()}) for k, v in list(c.items())],
        r"^layers/random.parquet: \d+ rows are out of \(src, dst\) order \(e.g. row 1: \(2999, \d+\) after "
        r"\(2999, \d+\)"),
    "not symmetric": (
        "layers/random.parquet", lambda c: [c.update({k: v[1:]}) for k, v in list(c.items())],
        r"^layers/random.parquet: layer not symmetric: 1 contacts have no reverse \(e.g. (\d+) -> 0 but no 0 -> \1\)"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_problem_has_its_message(pop, case):
    file, edit, pattern = CASES[case]
    edit_parquet(pop / file, edit)
    assert_problem(pop, pattern)


def test_self_contacts_and_duplicates(pop):
    def add_self_contact(c):
        for k, v in c.items():
            c[k] = np.insert(v, 0, {"src": 0, "dst": 0}.get(k, 1.0))

    edit_parquet(pop / "layers" / "household.parquet", add_self_contact)
    assert_problem(pop, r"^layers/household.parquet: 1 self contacts \(src == dst, e.g. row 0: agent 0\); drop them")
    edit_parquet(pop / "layers" / "household.parquet", lambda c: [c.update({k: v[1:]}) for k, v in list(c.items())])
    edit_parquet(pop / "layers" / "household.parquet", lambda c: [c.update({k: np.insert(v, 0, v[0])})
                                                                   for k, v in list(c.items())])
    assert_problem(pop, r"^layers/household.parquet: 1 contacts are listed more than once \(e.g. 0 -> \d+\); merge")


def test_manifest_disagreeing_with_the_files(pop):
    edit_manifest(pop, lambda m: (m["counts"].update(agents=N + 1), m["layers"]["work"].update(edges=5),
                                  m.pop("seed"), m.update(schema_version=2)))
    assert_problem(pop, r"^manifest.json \[counts\]: says 3001 agents but agents.parquet has 3000 rows")
    assert_problem(pop, r"^manifest.json \[layers\]: says layers/work.parquet has 5 edges but it has \d+ rows")
    assert_problem(pop, r"^manifest.json: lacks key\(s\) \['seed'\]")
    assert_problem(pop, r"^manifest.json \[schema_version\]: is 2, expected 1; rebuild")


def test_file_changed_since_the_manifest(pop):
    edit_parquet(pop / "zones.parquet", lambda c: c["code"].__setitem__(0, "XX0000"))
    assert problem_texts(pop) == ["manifest.json [files]: zones.parquet has changed since the manifest was written "
                                  "(size or SHA-256 differ); rebuild it, or copy it again if it came from elsewhere"]


def test_sources_need_paths_and_hashes(pop):
    edit_manifest(pop, lambda m: m.update(sources=[{"path": "census.csv", "sha256": "abc"}]))
    assert_problem(pop, r"^manifest.json \[sources\]: 1 source entries lack a path or a 64-hex-digit sha256 "
                        r"\(entries \[0\]\)")
