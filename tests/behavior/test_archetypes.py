"""Levels, groupings and group_keys: bin edges, code tables, mixed-radix keys, dense and sorted grouping agree."""

import pytest
import torch

from populace.behavior import Grouping, Levels, group_keys
from populace.behavior import archetypes as arch
from populace.behavior.archetypes import AGE_LEVELS, WORK_LEVELS, work_status


def test_bins_put_an_edge_value_in_the_upper_level():
    ages = torch.tensor([0, 17, 18, 29, 30, 64, 65, 99], dtype=torch.uint8)
    assert AGE_LEVELS.levels(ages).tolist() == [0, 0, 1, 1, 2, 3, 4, 4]


def test_codes_with_a_table_and_an_other_level():
    lv = Levels.codes("kind", "code", ["a", "b"], code_levels=[0, 1, 1, 0], other_label="none")
    assert lv.labels == ("a", "b", "none")
    assert lv.levels(torch.tensor([0, 1, 2, 3, 4, 255])).tolist() == [0, 1, 1, 0, 2, 2]
    strict = Levels.codes("region", "region", ["x", "y"])
    with pytest.raises(ValueError, match=r"'region' \(levels 'region'\) has codes \[2, 7\] outside 0..1"):
        strict.levels(torch.tensor([0, 2, 7, 1]))
    with pytest.raises(ValueError, match="must hold integer codes"):
        strict.levels(torch.tensor([0.5]))


@pytest.mark.parametrize(("build", "match"), [
    (lambda: Levels.bins("x", "x", (1, 1), ("a", "b", "c")), "finite and increasing"),
    (lambda: Levels.bins("x", "x", (1,), ("a", "b", "c")), "3 labels need 2 bin edges"),
    (lambda: Levels.bins("x", "x", (1,), ("a", "a")), "repeated labels"),
    (lambda: Levels.bins("not a name", "x", (1,), ("a", "b")), "must be an identifier"),
    (lambda: Levels.codes("x", "x", ["a"], code_levels=[0, 3]), r"code levels must lie in 0..0, got \[3\]"),
    (lambda: Levels("x", "x", ("a",)), "needs bin edges or a code table"),
    (lambda: Grouping([AGE_LEVELS, AGE_LEVELS]), r"names the attribute\(s\) \['age'\] more than once"),
])
def test_bad_levels_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_grouping_keys_are_mixed_radix_and_decode_back():
    x = Levels.bins("x", "x", (10,), ("low", "high"))
    y = Levels.codes("y", "y", ["r", "g", "b"])
    grouping = Grouping([x, y])
    assert (grouping.n_cells, grouping.strides) == (6, (3, 1))
    columns = {"x": torch.tensor([1.0, 20.0, 20.0, 5.0]), "y": torch.tensor([2, 0, 1, 1])}
    keys = grouping.keys(columns.__getitem__, 4, torch.device("cpu"))
    assert keys.tolist() == [0 * 3 + 2, 1 * 3 + 0, 1 * 3 + 1, 0 * 3 + 1]
    assert grouping.labels(5) == {"x": "high", "y": "b"}
    assert Grouping([]).n_cells == 1


def test_group_keys_dense_and_sorted_paths_agree(monkeypatch):
    keys = torch.randint(0, 50, (1000,), generator=torch.Generator().manual_seed(3)) * 7
    dense = group_keys(keys, 350)
    monkeypatch.setattr(arch, "DENSE_KEY_LIMIT", 10)
    sorted_ = group_keys(keys, 350)
    for a, b in zip(dense, sorted_, strict=True):
        assert torch.equal(a, b)
    cells, group = dense
    assert torch.equal(cells[group], keys)  # each agent's group holds its key
    assert torch.equal(cells, torch.unique(keys))


def test_work_status_reads_employment_and_industry():
    agents = {"is_employed": torch.tensor([True, True, True, False, True]),
              "industry": torch.tensor([6, 4, 255, 6, 7], dtype=torch.uint8)}
    # information (6) and finance (7) can mostly telework (0.533, 0.574 >= 0.4); retail (4) cannot (0.165)
    assert work_status(agents).tolist() == [2, 1, 1, 0, 2]
    assert WORK_LEVELS.levels(work_status(agents)).tolist() == [2, 1, 1, 0, 2]
    with pytest.raises(KeyError, match="no column 'industry'"):
        work_status({"is_employed": agents["is_employed"]})
