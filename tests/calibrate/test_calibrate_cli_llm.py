"""`populace calibrate covid-nyc --behavior llm`: the language-model flags, their checks, and a small end-to-end fit on
the scripted backend (usage log, learned logit offsets, draws, the gradient-free baseline, a cached rerun)."""

import json

import pandas as pd
import pytest

from populace.behavior.llm_run import STEPS_FILE, USAGE_FILE
from populace.calibrate import load_parameter_draws
from populace.calibrate.uncertainty import draws_metadata
from populace.cli import build_parser, main
from populace.population import nyc
from populace.population.nyc import build_nyc

OFFSETS = "model.behaviour.decision_model.logit_offset."


def test_the_llm_flags_are_parsed_and_checked():
    parser = build_parser()
    args = parser.parse_args(["calibrate", "covid-nyc", "--behavior", "llm", "--llm-backend", "scripted",
                              "--llm-max-calls", "10"])
    assert (args.behavior, args.llm_backend, args.llm_max_calls) == ("llm", "scripted", 10)
    assert parser.parse_args(["calibrate", "covid-nyc"]).behavior == "heuristic"
    network = parser.parse_args(["calibrate", "covid-nyc", "--behavior", "llm", "--mode", "network"])
    with pytest.raises(SystemExit, match="with --behavior llm use --mode free"):
        network.handler(network)
    stray = parser.parse_args(["calibrate", "covid-nyc", "--llm-url", "http://127.0.0.1:1"])
    with pytest.raises(ValueError, match="--llm-url only apply to --behavior llm"):
        stray.handler(stray)


@pytest.mark.needs_data
def test_calibrate_with_llm_behaviour_end_to_end(tmp_path, monkeypatch, capsys):
    built = {}

    def build_once(**kwargs):  # the two runs share one city
        if not built:
            built["city"] = build_nyc(**kwargs)
        return built["city"]

    monkeypatch.setattr(nyc, "build_nyc", build_once)
    cache = tmp_path / "answers.sqlite"
    argv = ["calibrate", "covid-nyc", "--train", "2020-03-01:2020-03-07", "--scale", "0.0002", "--iterations", "2",
            "--no-progress", "--threads", "1", "--behavior", "llm", "--llm-backend", "scripted",
            "--llm-cache", str(cache)]
    first = tmp_path / "first"
    assert main([*argv, "--out", str(first), "--test", "2020-03-08:2020-03-14", "--baseline", "--forecast-seeds", "1",
                 "--ensemble", "2", "--ensemble-iterations", "1"]) == 0
    assert "behaviour llm" in capsys.readouterr().out
    usage = json.loads((first / USAGE_FILE).read_text())["totals"]
    assert usage["calls"] > 0
    assert usage["calls"] + usage["cache_hits"] == usage["prompts"]
    steps = pd.read_parquet(first / STEPS_FILE)
    assert set(steps["decision"]) == {"isolate", "go_to_work"}
    fitted = json.loads((first / "parameters.json").read_text())
    assert len(fitted["logit_offset.isolate"]) == len(fitted["logit_offset.go_to_work"]) == 75  # 5 x 5 x 3
    assert any(v != 0 for v in fitted["logit_offset.isolate"])  # learned
    assert "isolate_logit_by_week" not in fitted
    draws = load_parameter_draws(first / "draws.parquet")
    assert len(draws) == 2
    assert {OFFSETS + "isolate", OFFSETS + "go_to_work"} <= set(draws[0])
    assert draws_metadata(first / "draws.parquet")["behaviour"] == "llm"
    evaluation = pd.read_parquet(first / "evaluation.parquet")
    assert {"gradient", "gradient_anchored", "naive", "gradient_free", "gradient_free_anchored"} == set(
        evaluation["method"])
    for method, series in (("gradient", {"cases", "deaths", "deaths_expected", "deaths_sampled", "unemployment"}),
                           ("naive", {"cases", "deaths", "unemployment"})):  # the fits report both kinds of deaths
        assert set(evaluation.loc[evaluation["method"] == method, "series"]) == series, method
    fit_rows = evaluation[evaluation["method"] == "gradient"].set_index(["series", "region"])
    assert fit_rows.loc[("deaths", "all"), "mae"] == fit_rows.loc[("deaths_expected", "all"), "mae"]  # the default
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["results"]["llm"]["prompts"] == usage["prompts"]

    again = tmp_path / "again"  # the same fit again: every answer comes from the cache
    assert main([*argv, "--out", str(again)]) == 0
    rerun = json.loads((again / USAGE_FILE).read_text())["totals"]
    assert rerun["calls"] == 0
    assert rerun["cache_hits"] == rerun["prompts"] > 0
    assert json.loads((again / "parameters.json").read_text())["logit_offset.isolate"] == pytest.approx(
        json.loads((first / "parameters.json").read_text())["logit_offset.isolate"])
