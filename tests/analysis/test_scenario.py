"""Scenario files: valid YAML and TOML parse; each kind of mistake gets an error naming the field and the fix."""

import datetime as dt
from pathlib import Path

import pytest

from populace.models.covid_nyc.analysis.scenario import DATA_COVERAGE, ScenarioError, load_scenario, parse_scenario

VALID = {"name": "timing", "kind": "counterfactual", "population": {"synthetic": {"agents": 500}},
         "start": "2020-03-01", "end": "2020-05-31",
         "policies": [{"name": "earlier", "lockdown": {"shift_days": -7}}, {"name": "none", "lockdown": "never"},
                      {"name": "mix", "from": "2020-04-01", "schools": "open", "work_from_home": 0.5,
                       "isolation_compliance": 1.5, "stimulus": {"job_loss_factor": 0.5}}]}


def with_policy(**policy):
    return {**VALID, "policies": [{"name": "p", **policy}]}


def test_a_valid_scenario_reads_from_yaml_and_toml_alike(tmp_path):
    (tmp_path / "s.yaml").write_text("""
name: timing
kind: prospective
population: {nyc: {scale: 0.001, seed: 2}}
end: 2020-06-30
weeks_ahead: 4
ensemble: {seeds: 3, first_seed: 5}
parameters: fitted.json
policies:
  - {name: schools open, from: 2020-07-15, schools: open}
""")
    (tmp_path / "s.toml").write_text("""
name = "timing"
kind = "prospective"
end = 2020-06-30
weeks_ahead = 4
parameters = "fitted.json"
[population.nyc]
scale = 0.001
seed = 2
[ensemble]
seeds = 3
first_seed = 5
[[policies]]
name = "schools open"
from = 2020-07-15
schools = "open"
""")
    yaml_scenario, toml_scenario = load_scenario(tmp_path / "s.yaml"), load_scenario(tmp_path / "s.toml")
    assert yaml_scenario == toml_scenario
    assert yaml_scenario.last_day == dt.date(2020, 7, 28)
    assert yaml_scenario.days == 150  # 2020-03-01 .. 2020-07-28
    assert yaml_scenario.parameters == tmp_path / "fitted.json"  # relative to the scenario file
    assert yaml_scenario.policies[0].start == dt.date(2020, 7, 15)
    parsed = parse_scenario(VALID)
    assert parsed.policies[1].lockdown.never
    assert parsed.policies[2].stimulus.job_loss_factor == 0.5


@pytest.mark.parametrize(("data", "message"), [
    (with_policy(curfew={"hours": 8}), r"policies\[0\]: unknown policy 'curfew'; a policy can change: lockdown, "),
    (with_policy(**{"from": "2020-04-01", "isolation_compliance": -0.5}),
     r"policies\[0\]\.isolation_compliance: Input should be greater than or equal to 0 \(got -0\.5\)"),
    (with_policy(**{"from": "2020-02-01", "schools": "closed"}),
     r"policies\[0\] \('p'\): from 2020-02-01 is outside the simulated window 2020-03-01 to 2020-05-31"),
    (with_policy(lockdown={"date": "2020-07-01"}), r"lockdown\.date 2020-07-01 is outside the simulated window"),
    ({**VALID, "end": "2021-09-01"}, r"end 2021-09-01 is past the data \(DOHMH cases end on 2021-06-30\); to "
                                     "simulate later days use kind: prospective"),
    ({**VALID, "start": "2020-01-15"}, r"start 2020-01-15 must be on or after 2020-02-29"),
    ({**VALID, "seeds": 8}, r"scenario: unknown field 'seeds'"),
    ({**VALID, "ensemble": {"seed": 8}}, r"ensemble: unknown field 'seed'"),
    (with_policy(isolation_compliance=1.2), r"isolation_compliance need\(s\) a start date, from: YYYY-MM-DD"),
    (with_policy(lockdown={"shift_days": -7, "never": True}), r"give exactly one of date, shift_days, never"),
    (with_policy(**{"from": "2020-04-01", "schools": "half"}), r"schools: Input should be 'open' or 'closed'"),
    (with_policy(**{"from": "2020-04-01", "stimulus": {"job_loss_factor": 1.5}}),
     r"stimulus\.job_loss_factor: Input should be less than or equal to 1"),
    (with_policy(name="p"), r"policy 'p' changes nothing"),
    ({**VALID, "policies": [*VALID["policies"], {"name": "Earlier!", "lockdown": "never"}]},
     r"policy names must differ in their letters or digits \(they name files\)"),
    ({**VALID, "kind": "retrospective"}, r"a retrospective scenario replays the past and takes no policies"),
    ({**VALID, "policies": []}, r"a counterfactual scenario needs at least one policy"),
    ({**VALID, "kind": "prospective"}, r"needs weeks_ahead >= 1"),
    ({**VALID, "kind": "forecast"}, r"kind: Input should be 'retrospective', 'counterfactual' or 'prospective'"),
    ({**VALID, "population": {}}, r"population: give exactly one of nyc, path, synthetic \(got none\)"),
    ({k: v for k, v in VALID.items() if k != "end"}, r"end: missing \(required\)"),
])
def test_bad_scenarios_name_the_field_and_the_fix(data, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(data)


def test_bad_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_scenario(tmp_path / "missing.yaml")
    (tmp_path / "s.json").write_text("{}")
    with pytest.raises(ScenarioError, match=r"scenario files are \.yaml, \.yml or \.toml"):
        load_scenario(tmp_path / "s.json")
    (tmp_path / "s.yaml").write_text("name: [unclosed")
    with pytest.raises(ScenarioError, match="is not valid YAML"):
        load_scenario(tmp_path / "s.yaml")
    (tmp_path / "s.yaml").write_text("- a list")
    with pytest.raises(ScenarioError, match="expected a mapping of fields"):
        load_scenario(tmp_path / "s.yaml")


@pytest.mark.needs_data
def test_the_data_coverage_is_that_of_the_dohmh_table():
    from populace.data.dohmh import dohmh_daily

    dates = dohmh_daily(by_borough=True)["date"]
    assert (dates.min().date(), dates.max().date()) == DATA_COVERAGE


def test_the_documented_example_is_valid():
    example = load_scenario(Path(__file__).resolve().parents[2] / "examples" / "nyc_lockdown_timing.yaml")
    assert example.kind == "counterfactual"
    assert [p.name for p in example.policies][:3] == ["PAUSE one week earlier", "PAUSE one week later", "no PAUSE"]
    assert example.population.nyc.scale == 0.002
