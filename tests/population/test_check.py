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
        r"^agents.parquet \[zone\]: 1 rows refer to no row of zones.parquet \(e.g. row 5 has 6\); zone must be in "
        r"\[0, 6\): zones.parquet has 6 rows$"),
    "household out of range": (
        "agents.parquet", lambda c: c["household"].__setitem__(7, -1),
        r"^agents.parquet \[household\]: 1 rows refer to no row of households.parquet \(e.g. row 7 has -1\)"),
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
        r"codes\['race_ethnicity'\], which has 8 labels \(e.g. row 3 has 9\); add the labels or fix the codes$"),
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
        r"^layers/work.parquet \[weight\]: 2 contacts weigh other than their reverse, so the layer is not symmetric "
        r"\(e.g. 0 -> (\d+): 0.7, back: 0.5, \1 -> 0: 0.5, back: 0.7\); give both directions one weight$"),
    "not sorted": (
        "layers/random.parquet", lambda c: [c.update({k: v[::-1].copy()}) for k, v in list(c.items())],
        r"^layers/random.parquet: \d+ rows are out of \(src, dst\) order \(e.g. row 1: \(2999, \d+\) after "
        r"\(2999, \d+\)"),
    "not symmetric": (
        "layers/random.parquet", lambda c: [c.update({k: v[1:]}) for k, v in list(c.items())],
        r"^layers/random.parquet: 1 contacts have no reverse, so the layer is not symmetric \(e.g. (\d+) -> 0 but "
        r"no 0 -> \1\); add each contact in both directions"),
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
    assert_problem(pop, r"^layers/household.parquet: 1 self contacts, src == dst \(e.g. row 0: agent 0\); drop them$")
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


def problems_but_changed_files(path):
    """The problems, less the "changed since the manifest was written" that every edit of a file also causes."""
    return [t for t in problem_texts(path) if not t.startswith("manifest.json [files]")]


def first(mask):
    return int(np.flatnonzero(mask)[0])


@pytest.mark.parametrize("column", ["school_class", "workplace"])
def test_group_numbers_are_minus_one_or_in_range(pop, column):
    rows = {}

    def edit(c):
        member = first(c[column] >= 0)
        rows.update(below=member, above=first((c[column] >= 0) & (np.arange(N) > member)))
        c[column][rows["below"]], c[column][rows["above"]] = -2, N

    edit_parquet(pop / "agents.parquet", edit)
    assert problems_but_changed_files(pop) == [
        f"agents.parquet [{column}]: 2 agents have a {column} that is neither -1 (none) nor a group number in "
        f"[0, {N}) (e.g. row {rows['below']} has -2, row {rows['above']} has {N}); number the groups 0, 1, ... "
        f"(at most one per agent) and set {column} = -1 for agents in none"]


def test_group_numbers_may_have_gaps(pop):
    def renumber(c):  # workplace w becomes 2w + 5: every other number unused
        c["workplace"] = np.where(c["workplace"] >= 0, 2 * c["workplace"] + 5, -1).astype(np.int32)

    edit_parquet(pop / "agents.parquet", renumber)
    assert problems_but_changed_files(pop) == []


def test_only_employed_agents_have_an_industry_and_a_workplace(pop):
    rows = {}

    def edit(c):
        employed, idle = np.flatnonzero(c["is_employed"]), np.flatnonzero(~c["is_employed"])
        rows.update(employed=int(employed[0]), idle=int(idle[0]), idle_worker=int(idle[1]))
        c["industry"][rows["employed"]] = 255
        c["industry"][rows["idle"]] = 4
        c["workplace"][rows["idle_worker"]] = 0

    edit_parquet(pop / "agents.parquet", edit)
    assert problems_but_changed_files(pop) == [
        f"agents.parquet [industry]: 1 employed agents have no industry (255) (e.g. row {rows['employed']}); give "
        "each employed agent its industry code (labels in manifest.json codes['industry']), or set is_employed = false",
        f"agents.parquet [industry]: 1 agents not employed have an industry (e.g. row {rows['idle']} has 4); set "
        "industry = 255 (none) where is_employed is false, or set is_employed = true",
        f"agents.parquet [workplace]: 1 agents not employed have a workplace (e.g. row {rows['idle_worker']} has 0); "
        "set workplace = -1 where is_employed is false, or set is_employed = true",
    ]


def test_age_inside_its_band_the_last_one_open_ended(pop):
    ages, bands = [0, 4, 5, 84, 85, 94, 120, 33], [0, 0, 0, 17, 17, 17, 17, 7]  # rows 2, 3 and 7 are wrong

    def edit(c):
        c["age"][:8], c["age_band"][:8] = ages, bands

    edit_parquet(pop / "agents.parquet", edit)
    assert problems_but_changed_files(pop) == [
        "agents.parquet [age_band]: 3 agents have an age outside their age_band (e.g. row 2: age 5, age_band 0, "
        "row 3: age 84, age_band 17, row 7: age 33, age_band 7); band b holds ages 5b..5b+4 and band 17 ages 85 and "
        "over: set age_band = min(age // 5, 17)"]


def test_rows_ordered_by_zone_then_household(pop):
    def swap_first_and_last_agent(c):  # every column but id: the rows stay consistent, only their order is wrong
        for name, values in c.items():
            if name != "id":
                values[[0, -1]] = values[[-1, 0]]

    edit_parquet(pop / "agents.parquet", swap_first_and_last_agent)
    texts = problems_but_changed_files(pop)
    assert len(texts) == 1
    assert re.fullmatch(
        r"agents.parquet \[zone, household\]: 2 rows are out of \(zone, household\) order \(e.g. row 1: \(0, 0\) "
        r"after \(5, (\d+)\), row 2999: \(0, 0\) after \(5, \1\)\); the schema orders agents by zone then household "
        r"so that the members of a household and of a zone are neighbours in memory .*: sort the rows by \(zone, "
        r"household\), then renumber id and the layers' src and dst", texts[0])


@pytest.mark.parametrize("size", [0, 2])
def test_households_without_members(pop, size):
    households = pq.read_table(pop / "households.parquet")
    n = households.num_rows

    def add_empty_household(c):
        for name, value in {"household": n, "zone": 5, "size": size}.items():
            c[name] = np.append(c[name], np.array([value], c[name].dtype))

    edit_parquet(pop / "households.parquet", add_empty_household)
    edit_manifest(pop, lambda m: m["counts"].update(households=n + 1))
    texts = problems_but_changed_files(pop)
    assert texts[0] == (f"households.parquet: 1 households have no members in agents.parquet (e.g. household {n} of "
                        f"size {size}); every household has at least one member: drop the empty households and "
                        "renumber `household` in both files")
    assert texts[1:] == ([] if size == 0 else [
        f"households.parquet [size]: 1 households have a size other than their number of members in agents.parquet "
        f"(e.g. household {n}: size 2, 0 members); set size to the member count"])


def test_relative_source_paths_need_the_data_directory(pop):
    source = {"path": "nyc/census/county.csv", "bytes": 10, "sha256": "0" * 64}
    edit_manifest(pop, lambda m: m.update(sources=[source], data_dir=None))
    assert problem_texts(pop) == [
        "manifest.json [data_dir]: is missing, but 1 source paths are relative to it (e.g. nyc/census/county.csv); "
        "record the data directory they were read from as \"data_dir\" (Population.save does)"]
    edit_manifest(pop, lambda m: m.update(data_dir="shared/data"))
    assert_problem(pop, r"^manifest.json \[data_dir\]: is 'shared/data'; it must be the absolute path")
    edit_manifest(pop, lambda m: m.update(data_dir="/data", sources=[{**source, "path": "/elsewhere/county.csv"}]))
    assert problem_texts(pop) == []
