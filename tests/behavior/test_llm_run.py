"""The --behavior llm flags and the usage log: files written, terminal summary, a clean stop on a spent budget."""

import argparse
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
from llm_behavior_fixtures import five_borough_population, hashed_yes

from populace.behavior import LLMDecisions
from populace.behavior.llm_run import (
    STEPS_FILE,
    USAGE_FILE,
    add_llm_arguments,
    decision_model_from_args,
    llm_usage_report,
)
from populace.cli import main
from populace.llm import LLMError, ScriptedModel
from populace.models import CovidNYC
from populace.models.covid_nyc import CovidParams
from populace.models.covid_nyc.archetypes import covid_decisions
from populace.population import nyc
from populace.population.nyc import build_nyc


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_llm_arguments(parser)
    return parser.parse_args(argv)


def test_flags_default_to_the_heuristic_and_refuse_llm_flags_without_llm():
    args = parse()
    assert (args.behavior, args.llm_backend, args.dry_run, args.llm_max_calls) == ("heuristic", "embedded", False,
                                                                                   None)
    assert decision_model_from_args(args) is None
    with pytest.raises(ValueError, match="--llm-url, --dry-run only apply to --behavior llm"):
        decision_model_from_args(parse("--llm-url", "http://127.0.0.1:8000", "--dry-run"))
    with pytest.raises(ValueError, match="--llm-model only apply to --llm-backend openai"):
        decision_model_from_args(parse("--behavior", "llm", "--llm-backend", "scripted", "--llm-model", "m"),
                                 covid_decisions())
    with pytest.raises(SystemExit):
        parse("--llm-max-calls", "0")
    with pytest.raises(SystemExit):
        parse("--llm-price", "1")
    assert parse("--llm-price", "0.15,0.6").llm_price == (0.15, 0.6)


class StopAfter:
    """A scripted model whose budget of `max_queries` prompts runs out, as a budgeted backend's would."""

    backend, model = "scripted", "stop-after"

    def __init__(self, max_queries: int):
        self.inner, self.max_queries = ScriptedModel(hashed_yes), max_queries

    def settings(self):
        return {}

    def answer(self, queries):
        if self.inner.queries + len(queries) > self.max_queries:
            raise LLMError(f"the budget of {self.max_queries} calls is spent")
        return self.inner.answer(queries)


@pytest.fixture(scope="module")
def city():
    return five_borough_population(1500, seed=3)


def covid(city, model):
    decisions = LLMDecisions(model, covid_decisions(city.manifest["codes"]["region"]))
    return CovidNYC.from_population(city, CovidParams(beta_by_week=(0.25,) * 4), behaviour=decisions,
                                    initial_infected=30), decisions


def test_the_usage_log_is_written_and_summarised(city, tmp_path, capsys):
    model, decisions = covid(city, ScriptedModel(hashed_yes))
    with llm_usage_report(decisions, tmp_path):
        model.run(15, seed=1, progress=False)
    steps = pd.read_parquet(tmp_path / STEPS_FILE)
    assert steps["step"].tolist() == [0, 0, 7, 7, 14, 14]
    assert steps["prompts"].sum() == decisions.model.queries
    usage = json.loads((tmp_path / USAGE_FILE).read_text())
    assert usage["totals"]["calls"] == decisions.model.queries
    assert usage["backends"] == ["scripted:scripted"]
    printed = capsys.readouterr().out
    assert f"6 decision step(s), {decisions.model.queries:,} prompts" in printed
    assert printed.count("  step ") == 6


def test_a_spent_budget_stops_cleanly_with_the_log_written(city, tmp_path):
    model, decisions = covid(city, StopAfter(150))
    stop = r"stopped at step (\d+), asking '(isolate|go_to_work)': the budget of 150 calls is spent\n.*resumes"
    with pytest.raises(SystemExit, match=stop) as stopped, llm_usage_report(decisions, tmp_path):
        model.run(29, seed=1, progress=False)
    steps = pd.read_parquet(tmp_path / STEPS_FILE)
    assert 0 < steps["calls"].sum() <= 150
    assert int(re.search(stop, str(stopped.value)).group(1)) == decisions.asking[0] >= steps["step"].max()


def test_heuristic_runs_write_no_log(tmp_path):
    with llm_usage_report(None, tmp_path):
        torch.zeros(1)
    assert not (tmp_path / STEPS_FILE).exists()


@pytest.mark.needs_data
def test_cli_budget_stop_then_resume(tmp_path, capsys, monkeypatch):
    built = {}

    def build_once(**kwargs):  # the two runs share one city (building it is most of a small run's time)
        if not built:
            built["city"] = build_nyc(**kwargs)
        return built["city"]

    monkeypatch.setattr(nyc, "build_nyc", build_once)
    cache, out = tmp_path / "answers.sqlite", tmp_path / "run"
    argv = ["run", "covid-nyc", "--scale", "0.0002", "--days", "1", "--out", str(out), "--no-progress",
            "--behavior", "llm", "--llm-backend", "scripted", "--llm-cache", str(cache)]
    with pytest.raises(SystemExit, match=r"stopped at step 0, asking 'isolate': LLM budget reached"):
        main([*argv, "--llm-max-calls", "60"])
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
    assert main(argv) == 0
    usage = json.loads((out / USAGE_FILE).read_text())
    steps = pd.read_parquet(out / STEPS_FILE)
    assert steps["step"].tolist() == [0, 0]
    assert usage["totals"]["cache_hits"] >= 60  # the 60 answers paid for before the stop
    assert usage["totals"]["calls"] + usage["totals"]["cache_hits"] == usage["totals"]["prompts"]
    assert "LLM behaviour: 2 decision step(s)" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["results"]["llm"]["prompts"] == usage["totals"]["prompts"]
    assert {"llm_steps.parquet", "llm_usage.json"} <= {Path(o["path"]).name for o in manifest["outputs"]}
