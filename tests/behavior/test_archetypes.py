"""Levels, groupings and group_keys: bin edges, code tables, mixed-radix keys, dense and sorted grouping agree."""

import numpy as np
import pytest
import torch

from populace.behavior import Grouping, Levels, group_keys
from populace.behavior import archetypes as arch
from populace.models.covid_nyc import archetypes as covid
from populace.models.covid_nyc.archetypes import AGE_LEVELS, WORK_LEVELS, work_status


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


def level_inputs():
    """Values of every dtype the levels read: numbers around the default edges, codes, constants, one for all."""
    gen = torch.Generator().manual_seed(4)
    edges_hit = torch.tensor([-0.2, 0.2, 10, 50, 200, 0.5, 0.05, 0.95, 18, 30, 65, 0, 1, 2])
    numbers = torch.cat([edges_hit, torch.randn(500, generator=gen) * 100])
    inputs = [numbers.to(dtype) for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16)]
    inputs += [torch.randint(-60, 120, (500,), generator=gen).to(dtype) for dtype in (torch.int8, torch.int16,
                                                                                      torch.int32, torch.int64)]
    inputs += [torch.randint(0, 120, (500,), generator=gen, dtype=torch.uint8),
               torch.randint(0, 3, (500,), generator=gen, dtype=torch.uint8),
               torch.randint(0, 2, (500,), generator=gen).bool(), torch.randint(0, 5, (500,), generator=gen).float(),
               torch.full((500,), 7.0), torch.tensor(30.0).expand(500), torch.zeros(0),
               torch.randint(-2**40, 2**40, (500,), generator=gen)]
    return inputs


LEVELS_TO_CHECK = [
    Levels.bins("x", "x", (0.5,), ("low", "high")),
    Levels.bins("x", "x", (10, 50, 200), ("a", "b", "c", "d")),
    Levels.bins("x", "x", (-0.2, 0.2), ("a", "b", "c")),
    AGE_LEVELS,
    Levels.codes("x", "x", ["a", "b", "c"]),
    Levels.codes("x", "x", ["a", "b"], code_levels=[0, 1, 1, 0], other_label="none"),
    Levels.codes("x", "x", [f"c{i}" for i in range(300)], other_label="more"),
]


@pytest.mark.parametrize("lv", LEVELS_TO_CHECK, ids=lambda lv: f"{lv.name}{lv.edges or len(lv.labels)}")
def test_numpy_and_torch_levels_agree_values_and_errors(lv, monkeypatch):
    """The CPU path (NumPy: comparisons between min and max, tables over min..max) and the PyTorch path (bucketize,
    dtype-wide tables) give the same levels, and the same errors, for every input dtype."""
    compared = 0
    for values in level_inputs():
        results = []
        for numpy_on_cpu in (True, False):
            monkeypatch.setattr(arch, "NUMPY_ON_CPU", numpy_on_cpu)
            try:
                results.append(lv.levels(values))
            except ValueError as error:
                results.append(str(error))
        numpy_levels, torch_levels = results
        if isinstance(torch_levels, str):
            assert numpy_levels == torch_levels
        else:
            assert numpy_levels.dtype == torch_levels.dtype == torch.int32
            assert torch.equal(numpy_levels, torch_levels), values.dtype
            compared += 1
    assert compared >= 3  # inputs with levels (the others raise: the same message, compared above)


def test_level_values_are_ints_when_one_level_holds_everyone():
    assert AGE_LEVELS.level_values(torch.full((10,), 40, dtype=torch.uint8)) == 2
    assert covid.INCIDENCE_LEVELS.level_values(torch.tensor([60.0, 199.0, 50.0])) == 2
    assert covid.WORK_ORDER_LEVELS.level_values(torch.tensor(1.0).expand(5)) == 3
    region = torch.tensor([0, 3, 1, 4], dtype=torch.uint8)
    levels = covid.borough_levels().level_values(region)
    assert levels.tolist() == [0, 3, 1, 4]
    assert levels.dtype == np.uint8
    with pytest.raises(ValueError, match="has NaN or infinite values"):
        covid.GROWTH_LEVELS.level_values(torch.tensor([0.0, float("inf")]))


def test_key_values_combine_levels_in_the_narrowest_dtype():
    x = Levels.bins("x", "x", (10,), ("low", "high"))
    many = Levels.codes("y", "y", [f"y{i}" for i in range(200)])
    grouping = Grouping([x, many])  # 400 cells: uint16 keys
    key = grouping.key_values([np.array([0, 1, 1], dtype=np.uint8), np.array([199, 0, 5], dtype=np.uint8)])
    assert key.dtype == np.uint16
    assert key.tolist() == [199, 200, 205]
    assert grouping.key_values([1, 7]) == 207
    assert grouping.key_values([1, np.array([3, 4], dtype=np.uint8)]).tolist() == [203, 204]
    keep = np.array([True, False, True])
    assert arch.mask_keys(key, keep, 400).tolist() == [199, 400, 205]
    assert arch.count_keys(arch.mask_keys(key, keep, 400), 401, 3).nonzero().squeeze(1).tolist() == [199, 205, 400]
    table = torch.arange(401.0, requires_grad=True)
    taken = arch.take_keys(table, key, 3)
    taken.sum().backward()
    assert taken.tolist() == [199.0, 200.0, 205.0]
    assert table.grad.nonzero().squeeze(1).tolist() == [199, 200, 205]


def test_key_cache_finds_only_the_same_unchanged_tensors():
    cache = arch.KeyCache()
    age = torch.tensor([3, 40, 70], dtype=torch.uint8)
    cache.put("age", [age], "levels of age")
    assert cache.get("age", [age]) == "levels of age"
    assert cache.get("age", [age.clone()]) is None  # another tensor, even an equal one
    age.add_(1)  # an in-place change bumps the version counter
    assert cache.get("age", [age]) is None
    cache.put("age", [age], "new levels")
    del age
    assert len(cache) == 1
    assert all(ref() is None for ref, _ in cache._entries["age"][0])


def test_levels_reads_only_for_function_sources():
    assert covid.WORK_LEVELS.reads == ("is_employed", "industry")
    with pytest.raises(ValueError, match="reads names the agent columns a function source reads"):
        Levels.codes("region", "region", ["a"], reads=("region",))
