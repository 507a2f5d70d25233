"""docs/scripts/behaviour_study.py at a tiny scale: several windows in one invocation (scripted backend) and the
OpenAI-compatible backend against a local server, both behaviours fitted at equal effort and scored on held-out
days with persistence alongside."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from populace.calibrate import DateWindow
from populace.models.covid_nyc.targets import load_targets, observed_smoothed
from populace.population.nyc import build_nyc

pytestmark = [pytest.mark.needs_data, pytest.mark.usefixtures("one_thread")]

WINDOWS = ("2020-03-01:2020-03-07,2020-03-08:2020-03-10", "2020-03-01:2020-03-09,2020-03-10:2020-03-12")
BOROUGHS = {"Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island", "all"}


@pytest.fixture(scope="module")
def city():
    return build_nyc(scale=0.0001, seed=1)


def run(module, monkeypatch, city, out, *flags: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    monkeypatch.setattr(module, "build_nyc", lambda **kwargs: city)
    module.main(["--scale", "0.0001", "--iterations", "2", "--forecast-seeds", "1", "--threads", "1",
                 "--out", str(out), "--name", "study", "--llm-cache", str(out / "answers.sqlite"), *flags])
    return (pd.read_csv(out / "study.csv"), pd.read_csv(out / "study-evaluation.csv"),
            json.loads((out / "study.json").read_text()))


def test_window_flag_is_train_then_the_days_after(behaviour_study):
    window = behaviour_study.study_window("2020-03-01:2020-12-31,2021-01-01:2021-02-28")
    assert (str(window.train), str(window.test)) == ("2020-03-01:2020-12-31", "2021-01-01:2021-02-28")
    with pytest.raises(argparse.ArgumentTypeError, match="the day after training ends"):
        behaviour_study.study_window("2020-03-01:2020-12-31,2021-01-02:2021-02-28")
    defaults = behaviour_study.parse_args([]).window
    assert [str(w) for w in defaults] == list(behaviour_study.WINDOWS_2021)


def test_two_windows_scripted(behaviour_study, monkeypatch, city, tmp_path):
    summary, evaluation, about = run(behaviour_study, monkeypatch, city, tmp_path, "--llm-backend", "scripted",
                                     *(f for w in WINDOWS for f in ("--window", w)))
    assert list(zip(summary["train"] + "," + summary["test"], summary["method"], strict=True)) == [
        (w, m) for w in WINDOWS for m in ("heuristic", "llm", "naive")]
    assert set(evaluation["method"]) == {"heuristic", "heuristic_anchored", "llm", "llm_anchored", "naive"}
    assert set(evaluation["region"]) == BOROUGHS
    assert list(about["windows"]) == list(WINDOWS)
    for window in about["windows"].values():  # equal effort: as many iterations each
        assert [len(window["loss_history"][b]) for b in ("heuristic", "llm")] == [2, 2]
        answers = window["fits"]["llm"]["answers_by_situation"]
        for decision in ("isolate", "go_to_work"):  # the scripted backend answers every prompt 50/50
            cells = {k: v for k, v in answers[decision].items() if not k.startswith("fitted")}
            assert cells
            assert set(cells.values()) == {0.5}
    llm = summary[summary["method"] == "llm"]
    assert (llm["llm_calls_all"] <= llm["llm_prompts_all"]).all()
    assert (llm["llm_calls_fit"] > 0).all()
    assert (tmp_path / "img" / "study-1.png").exists()
    assert (tmp_path / "img" / "study-2.png").exists()

    # persistence by hand: the last training week's mean of cases, over the city, against the held-out days
    full = load_targets(DateWindow.parse("2020-03-01:2020-03-12"))
    smoothed = observed_smoothed(full)["cases"]
    observed, last = smoothed[9:], smoothed[8]
    nd = float((observed - last).abs().sum() / observed.abs().sum())
    naive = summary[(summary["method"] == "naive") & (summary["test"] == "2020-03-10:2020-03-12")]
    assert naive["cases_nd"].item() == pytest.approx(nd, rel=1e-3)


def test_openai_server(behaviour_study, monkeypatch, city, tmp_path, server):
    summary, _, about = run(behaviour_study, monkeypatch, city, tmp_path, "--window", WINDOWS[0],
                            "--llm-backend", "openai", "--llm-url", server.url, "--llm-model", "test-model")
    assert about["language_model"] == "openai:test-model"
    assert server.requests
    assert {r["model"] for r in server.requests} == {"test-model"}
    llm = summary[summary["method"] == "llm"].iloc[0]
    prompts = {r["messages"][-1]["content"] for r in server.requests}
    assert llm["llm_calls_all"] == len(server.requests) == len(prompts)  # each distinct prompt asked once, cached
    answers = about["windows"][WINDOWS[0]]["fits"]["llm"]["answers_by_situation"]
    for decision in ("isolate", "go_to_work"):  # the server's next-token mass: yes 0.6, no 0.2 -> P(yes) 0.75
        cells = {k: v for k, v in answers[decision].items() if not k.startswith("fitted")}
        assert cells
        assert set(cells.values()) == {0.75}
