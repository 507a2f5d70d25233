"""Ensemble runs: a policy run is the baseline up to its branch date and its own model after it, whether branched
from a snapshot or run from day 0; an unchanged policy reproduces the baseline exactly; a killed member resumes to
the same result; an earlier lockdown gives fewer infections in expectation, a later one more."""

import json
import math

import pandas as pd
import pytest
import torch

from populace.analysis import ensemble
from populace.analysis.ensemble import BASELINE, Member, baseline_run, policy_run
from populace.analysis.policy import slug
from populace.core.runner import run
from populace.models.covid_nyc.analysis.analyze import prepare
from populace.models.covid_nyc.analysis.build import baseline_models
from populace.models.covid_nyc.analysis.ensemble import branch_steps, run_member
from populace.models.covid_nyc.analysis.interventions import policy_model
from populace.models.covid_nyc.analysis.scenario import parse_scenario
from populace.population.synthetic import layered_synthetic_population

SCENARIO = {
    "name": "small", "kind": "counterfactual", "population": {"synthetic": {"agents": 1000, "seed": 1}},
    "start": "2020-03-01", "end": "2020-03-28", "checkpoint_days": 10,  # 28 days; PAUSE is day 21
    "model": {"initial_infected": 20, "beta_by_week": [0.3]}, "ensemble": {"seeds": 1, "first_seed": 3},
    "policies": [{"name": "lockdown a week earlier", "lockdown": {"shift_days": -7}},
                 {"name": "same lockdown", "lockdown": {"date": "2020-03-22"}},
                 {"name": "isolation as fitted", "from": "2020-03-25", "isolation_compliance": 1.0}],
}


def assert_same_records(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal values in every column (dates compared as dates: Parquet stores them in another unit)."""
    pd.testing.assert_frame_equal(got.drop(columns="date").reset_index(drop=True),
                                  expected.drop(columns="date").reset_index(drop=True))
    assert list(pd.to_datetime(got["date"])) == list(pd.to_datetime(expected["date"]))


@pytest.fixture(scope="module")
def setup():
    scenario = parse_scenario(SCENARIO)
    population = layered_synthetic_population(1000, seed=1)
    return scenario, population


def test_a_policy_run_is_the_baseline_until_its_branch_date_and_the_same_from_a_snapshot(setup, tmp_path):
    scenario, population = setup
    policy = scenario.policies[0]  # lockdown from 2020-03-15: day 14
    baseline_model, _ = baseline_models(scenario, population)
    base = run(baseline_model, scenario.days, seed=3, progress=False)
    alone_model, _ = baseline_models(scenario, population)
    alone = run(policy_model(alone_model, policy), scenario.days, seed=3, progress=False)  # from day 0, no snapshot
    branch = branch_steps(scenario, baseline_model)[policy.name]
    assert branch == 14
    for name in base.names:  # the record at step s is the state after day s - 1: equal through step 14
        assert torch.equal(base[name][:branch + 1], alone[name][:branch + 1]), name
    assert not torch.equal(base["new_infections"][branch + 1:], alone["new_infections"][branch + 1:])
    assert float(base["new_infections"].sum()) > 100  # an epidemic
    frame, _ = baseline_run(baseline_models(scenario, population)[0], scenario.days, tmp_path, 3, {branch},
                            scenario.checkpoint_days)
    assert_same_records(frame, base.to_pandas())  # chunked = one run
    branched, final = policy_run(policy_model(baseline_models(scenario, population)[0], policy), scenario.days, frame,
                                 branch, tmp_path)
    assert_same_records(branched, alone.to_pandas())  # from the day-14 snapshot = from day 0
    assert torch.equal(final.agents.stage, alone.final_world.agents.stage)


def member_files(folder):
    return {p.name: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The small scenario's one member, run without interruption."""
    out = tmp_path_factory.mktemp("uninterrupted")
    (out.parent / "small.yaml").write_text(json.dumps(SCENARIO))  # JSON is YAML
    prepare(out.parent / "small.yaml", out)
    run_member(str(out), Member(0, 3, None))
    return out


def test_an_unchanged_policy_reproduces_the_baseline_exactly(finished):
    files = member_files(finished / "members" / "m0000")
    for name in ("same lockdown", "isolation as fitted"):
        for kind in ("daily", "ages"):
            pd.testing.assert_frame_equal(files[f"{slug(name)}.{kind}.parquet"], files[f"{BASELINE}.{kind}.parquet"])
    earlier = files["lockdown-a-week-earlier.daily.parquet"]
    assert earlier["infections"].sum() < files["baseline.daily.parquet"]["infections"].sum()
    done = json.loads((finished / "members" / "m0000" / "done.json").read_text())
    assert done["branch_steps"] == {"lockdown a week earlier": 14, "same lockdown": 0, "isolation as fitted": 24}


def test_a_killed_member_resumes_to_the_same_result(finished, tmp_path, monkeypatch):
    (tmp_path / "small.yaml").write_text(json.dumps(SCENARIO))
    out = tmp_path / "run"
    prepare(tmp_path / "small.yaml", out)
    calls = {"n": 0}

    def dies_on_the_fourth_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")
        return run(*args, **kwargs)

    monkeypatch.setattr(ensemble, "run", dies_on_the_fourth_chunk)
    with pytest.raises(KeyboardInterrupt):
        run_member(str(out), Member(0, 3, None))
    folder = out / "members" / "m0000"
    assert not (folder / "done.json").exists()
    checkpoint = json.loads((folder / "baseline" / "checkpoint" / "world.json").read_text())
    assert checkpoint["step"] == 20  # chunks end on 10, 14, 20, then 24 is killed
    resumed_from = {}

    def records_its_start(model, days, **kwargs):
        resumed_from.setdefault("step", kwargs["world"].step)
        return run(model, days, **kwargs)

    monkeypatch.setattr(ensemble, "run", records_its_start)
    run_member(str(out), Member(0, 3, None))
    assert resumed_from["step"] == 20  # continued from the checkpoint, not from day 0
    assert (folder / "done.json").is_file()
    expected = member_files(finished / "members" / "m0000")
    got = member_files(folder)
    assert got.keys() == expected.keys()
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)


def test_an_earlier_lockdown_gives_fewer_infections_in_expectation_and_a_later_one_more(setup):
    """Paired by seed (same seed: same draws until the branch), over 4 seeds: the mean infections averted by a lockdown
    7 days earlier exceeds 2 standard errors of the mean (measured: 45 +- 7), and so does the mean added by one 7 days
    later (20 +- 3.5). Were there no effect, a false alarm at that margin has probability 7% (one-sided t, 3 degrees
    of freedom); the measured effects are 6 standard errors away."""
    scenario, population = setup
    scenario = scenario.model_copy(update={"policies": (
        parse_scenario({**SCENARIO, "policies": [{"name": "earlier", "lockdown": {"shift_days": -7}},
                                                 {"name": "later", "lockdown": {"shift_days": 7}}]}).policies)})
    earlier, later = scenario.policies
    model, _ = baseline_models(scenario, population)
    averted, added = [], []
    for seed in range(4):  # the baseline in three pieces: days 0-13, 14-20, 21-end; the policies branch off it
        first = run(model, 14, seed=seed, progress=False)
        middle = run(model, 7, world=first.final_world, progress=False)
        rest = run(model, scenario.days - 21, world=middle.final_world, progress=False)
        before_14 = float(first["new_infections"].sum())
        before_21 = before_14 + float(middle["new_infections"][1:].sum())
        base = before_21 + float(rest["new_infections"][1:].sum())
        early = run(policy_model(baseline_models(scenario, population)[0], earlier), scenario.days - 14,
                    world=first.final_world, progress=False)
        late = run(policy_model(baseline_models(scenario, population)[0], later), scenario.days - 21,
                   world=middle.final_world, progress=False)
        averted.append(base - before_14 - float(early["new_infections"][1:].sum()))
        added.append(before_21 + float(late["new_infections"][1:].sum()) - base)
    for values in (averted, added):
        mean = sum(values) / len(values)
        se = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))
        assert mean > 2 * se, values
