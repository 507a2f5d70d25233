"""Parameter files: draws read from JSON, loaded into the model and the observation model by state_dict key, handed
to ensemble members in turn; unknown keys, wrong shapes and too few draws are refused by name."""

import json
import math
from pathlib import Path

import pytest
import torch
from analysis_fixtures import BETA, DRAWS

from populace.core.parameters import unconstrained
from populace.models.covid_nyc.analysis.build import baseline_models, read_parameter_draws
from populace.models.covid_nyc.analysis.ensemble import ensemble_members
from populace.models.covid_nyc.analysis.scenario import parse_scenario
from populace.models.covid_nyc.calibration import load_draw
from populace.population.synthetic import layered_synthetic_population

SCENARIO = {"name": "p", "kind": "retrospective", "population": {"synthetic": {"agents": 300}}, "end": "2020-04-01",
            "ensemble": {"seeds": 5, "first_seed": 10, "parameter_draws": 2}}


def test_each_member_runs_with_its_draw(tiny_run):
    _, out = tiny_run
    for k, draw in enumerate(DRAWS):
        stored = json.loads((out / "members" / f"m{k:04d}" / "parameters.json").read_text())
        assert stored["draw"] == k
        assert stored["seed"] == 1 + k
        assert stored["values"][BETA] == pytest.approx(draw[BETA], abs=1e-7)
        # the draws name the ascertainment by its former key (a logit); it loads as the same unconstrained value
        assert stored["values"]["observation.parametrizations.reference_ascertainment.original"] == pytest.approx(
            [draw["observation.logit_ascertainment"]], abs=1e-7)


def test_draws_are_read_loaded_and_assigned(tmp_path):
    scenario = parse_scenario(SCENARIO)
    members = ensemble_members(scenario, n_draws=3)
    assert [(m.seed, m.draw) for m in members] == [(10, 0), (11, 1), (12, 0), (13, 1), (14, 0)]
    assert [m.draw for m in ensemble_members(scenario.model_copy(update={"ensemble": scenario.ensemble.model_copy(
        update={"parameter_draws": 0})}), n_draws=0)] == [None] * 5
    with pytest.raises(ValueError, match=r"ensemble.parameter_draws is 2 but the parameters file has 1 draw"):
        ensemble_members(scenario, n_draws=1)
    (tmp_path / "one.json").write_text(json.dumps({"labour.parametrizations.rehire_per_week.original": math.log(0.2)}))
    (draw,) = read_parameter_draws(tmp_path / "one.json")
    model, observation = baseline_models(scenario, layered_synthetic_population(300, seed=1), draw)
    assert float(model.labour.rehire_per_week.detach()) == pytest.approx(0.2)
    assert float(observation.reference_ascertainment.detach()) == pytest.approx(0.1)  # left at its default
    with pytest.raises(KeyError, match=r"parameters \['transmission.log_betta'\] are not in CovidNYC"):
        load_draw({"transmission.log_betta": torch.zeros(1)}, model, observation)
    with pytest.raises(KeyError, match=r"\['observation.slope'\] are not in Observation"):
        load_draw({"observation.slope": torch.zeros(())}, model, observation)
    with pytest.raises(ValueError, match=rf"{BETA} has shape \[3\], the model's \[1\]"):
        load_draw({BETA: torch.zeros(3)}, model, observation)
    (tmp_path / "bad.json").write_text(json.dumps({"draws": []}))
    with pytest.raises(ValueError, match="with at least one draw"):
        read_parameter_draws(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text(json.dumps({"draws": [{BETA: "high"}]}))
    with pytest.raises(ValueError, match="draw 0 has a value that is not a number"):
        read_parameter_draws(tmp_path / "bad.json")


def test_draws_written_by_calibration_load_into_the_baseline(tmp_path):
    from populace.calibrate import save_parameter_draws

    weeks, regions = 4, 5
    draw = {"model." + BETA: torch.log(torch.tensor([0.3, 0.2, 0.1, 0.15])),
            "model.behaviour.decision_model.isolate_logit_by_week": torch.full((weeks, regions), 0.5),
            "model.labour.parametrizations.rehire_per_week.original": torch.tensor(math.log(0.25)),
            "observation.logit_ascertainment": torch.tensor(-1.0)}  # its former key: still loads
    path = save_parameter_draws(tmp_path / "draws.parquet", [draw])
    (loaded,) = read_parameter_draws(path)
    assert BETA in loaded
    model, observation = baseline_models(parse_scenario(SCENARIO), layered_synthetic_population(300, seed=1), loaded)
    assert torch.allclose(model.transmission.beta_by_week.detach(), torch.tensor([0.3, 0.2, 0.1, 0.15]))
    assert torch.equal(model.behaviour.decision_model.isolate_logit_by_week.detach(), torch.full((weeks, regions), 0.5))
    assert float(model.labour.rehire_per_week.detach()) == pytest.approx(0.25)
    assert float(unconstrained(observation, "reference_ascertainment").detach()) == pytest.approx(-1.0)


@pytest.mark.parametrize("name", ["calibration-spring-draws", "calibration-2020-draws"])
def test_the_committed_calibration_draws_load_into_the_baseline(name):
    path = Path(__file__).resolve().parents[2] / "docs" / f"{name}.parquet"
    draws = read_parameter_draws(path)
    assert len(draws) == 3
    for draw in draws:
        model, observation = baseline_models(parse_scenario(SCENARIO), layered_synthetic_population(300, seed=1), draw)
        weeks = draw[BETA].numel()
        assert model.transmission.beta_by_week.shape == (weeks,)
        torch.testing.assert_close(model.transmission.beta_by_week.detach(), draw[BETA].exp())
        torch.testing.assert_close(model.behaviour.decision_model.isolate_logit_by_week.detach(),
                                   draw["behaviour.decision_model.isolate_logit_by_week"])
        assert float(unconstrained(observation, "reference_ascertainment").detach()) == float(
            draw["observation.logit_ascertainment"])  # the former key of the same unconstrained value
        assert float(model.labour.rehire_per_week.detach()) == pytest.approx(
            math.exp(float(draw["labour.parametrizations.rehire_per_week.original"])), rel=1e-6)
