"""`populace run covid-nyc --behavior llm --grouping ...`: the learned archetypes, `grouping.json`, the personas."""

import contextlib
import io
import json

import pytest
import torch

from populace.behavior.llm_run import refuse_llm_flags
from populace.cli import build_parser, main
from populace.core.errors import InputError
from populace.models.covid_nyc.personas import grouping_levels, household_size, persona_texts
from populace.population.nyc import build_nyc

SCALE = 0.0002


@pytest.fixture(scope="module")
def city():
    return build_nyc(scale=SCALE, seed=1)


@pytest.mark.needs_data
def test_clusters_are_learned_and_written_with_the_run(city, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("populace.population.nyc.build_nyc", lambda **_: city)  # built once for the module
    out = tmp_path / "run"
    argv = ["run", "covid-nyc", "--scale", str(SCALE), "--days", "1", "--out", str(out), "--no-progress",
            "--behavior", "llm", "--llm-backend", "scripted", "--llm-cache", str(tmp_path / "cache.sqlite"),
            "--grouping", "clusters", "--grouping-probes", "30", "--grouping-clusters", "4"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    report = json.loads((out / "grouping.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    agents = manifest["results"]["agents"]
    assert report["method"] == "clusters"
    assert report["probe_agents"] == 30
    assert report["probe_prompts"] == 30 * 6  # 6 of the 24 isolation situation cells
    assert report["probe_calls"] == 30 * 6  # a fresh cache
    assert sum(g["agents"] for g in report["groups"]) == agents
    # the scripted backend answers every prompt 50/50: one behaviour, so everyone lands in one cluster
    assert report["groups_present"] == 1
    assert manifest["results"]["grouping"]["probe_calls"] == 180
    steps = json.loads((out / "llm_usage.json").read_text())
    assert steps["totals"]["prompts"] <= 24 + 4  # isolation: 1 cluster x situations present; work: 1 x 4 orders


def test_grouping_needs_llm_behaviour() -> None:
    args = build_parser().parse_args(["run", "covid-nyc", "--grouping", "auto"])
    assert (args.grouping_probes, args.grouping_clusters) == (200, 16)
    with pytest.raises(InputError, match="--grouping only apply to --behavior llm"):
        refuse_llm_flags(args)


@pytest.mark.needs_data
def test_personas_name_every_attribute(city) -> None:
    agents, boroughs = city.agents, city.manifest["codes"]["region"]
    neighbourhoods = list(city.zones["name"])
    worker = int(agents["is_employed"].nonzero()[0])
    text = persona_texts(agents, torch.tensor([worker]), boroughs, neighbourhoods)[0]
    age, size = int(agents["age"][worker]), int(household_size(agents)[worker])
    assert f"{age}-year-old" in text
    assert f"{neighbourhoods[int(agents['zone'][worker])]}, {boroughs[int(agents['region'][worker])]}" in text
    assert ("living alone" if size == 1 else f"living with {size - 1} other") in text
    assert "working in " in text
    levels = grouping_levels(boroughs, neighbourhoods)
    assert [lv.name for lv in levels] == ["age", "sex", "race_ethnicity", "household", "borough", "neighbourhood",
                                          "work", "industry"]
    industry = levels[-1].levels(levels[-1].source(agents))
    assert int(industry[worker]) == int(agents["industry"][worker])
    assert bool((industry[~agents["is_employed"].bool()] == 13).all())  # not in work
