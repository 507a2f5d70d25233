"""CovidNYC with LLMDecisions on the scripted backend: end to end, both modes, answers that matter, cached reruns."""

import pytest
import torch
from llm_behavior_fixtures import five_borough_population, hashed_yes

from populace.behavior import LLMDecisions
from populace.llm import ScriptedModel, make_model
from populace.llm.usage import Budget, BudgetExceeded
from populace.models import CovidNYC
from populace.models.covid_nyc import STAGE_OBSERVABLES, CovidParams
from populace.models.covid_nyc.archetypes import covid_decisions
from populace.models.covid_nyc.decisions import GO_TO_WORK, ISOLATE

DAYS = 29  # decision steps 0, 7, 14, 21, 28; PAUSE (work-from-home orders) from day 21
PARAMS = CovidParams(beta_by_week=(0.25,) * 5)


@pytest.fixture(scope="module")
def city():
    return five_borough_population(2000, seed=2)


def llm_model(city, answers):
    scripted = ScriptedModel(answers)
    decisions = LLMDecisions(scripted, covid_decisions(city.manifest["codes"]["region"]))
    return CovidNYC.from_population(city, PARAMS, behaviour=decisions, initial_infected=40), decisions, scripted


def stage_counts(traj) -> torch.Tensor:
    return torch.stack([traj[name] for name in STAGE_OBSERVABLES.values()], dim=-1)


def test_runs_end_to_end_in_both_modes_with_one_batch_per_decision_step(city):
    model, decisions, scripted = llm_model(city, hashed_yes)
    fast = model.run(DAYS, seed=4, progress=False)
    smooth = model.run(DAYS, seed=4, differentiable=True, progress=False)
    assert torch.equal(stage_counts(fast), stage_counts(smooth).detach())  # same decisions, same epidemic
    assert float(fast["recovered"][-1] + fast["symptomatic"][-1]) > 40  # an epidemic to decide about

    usage = decisions.usage_frame()
    fast_rows = usage.iloc[: len(usage) // 2]
    assert fast_rows["step"].tolist() == [0, 0, 7, 7, 14, 14, 21, 21, 28, 28]
    assert fast_rows["decision"].tolist() == [ISOLATE, GO_TO_WORK] * 5
    assert scripted.calls == 20  # one batch per decision step, in each of the two runs
    # each batch holds distinct prompts: calls per step = distinct (archetype, situation) pairs
    start = 0
    for prompts in usage["prompts"]:
        batch = scripted.asked[start:start + prompts]
        assert len({q.prompt for q in batch}) == prompts
        start += prompts
    assert start == scripted.queries
    assert set(usage.loc[usage["decision"] == GO_TO_WORK, "archetypes"]) <= set(range(1, 51))  # employed only

    smooth["new_infections"].sum().backward()  # gradients reach the per-archetype offsets through the decisions
    assert bool((decisions.logit_offset[ISOLATE].grad != 0).any())


def test_isolation_answers_change_the_epidemic(city):
    def isolate_with(p):
        return lambda q: (p, 1 - p) if "isolate" in q.prompt else (0.9, 0.1)

    mostly, _, _ = llm_model(city, isolate_with(0.9))
    rarely, _, _ = llm_model(city, isolate_with(0.02))
    infected_mostly = mostly.run(DAYS, seed=4, progress=False)["new_infections"].sum()
    infected_rarely = rarely.run(DAYS, seed=4, progress=False)["new_infections"].sum()
    assert infected_mostly < 0.8 * infected_rarely


def test_a_rerun_is_all_cache_hits(city, tmp_path):
    cache = tmp_path / "answers.sqlite"

    def run_with_cache():
        scripted = ScriptedModel(hashed_yes)
        decisions = LLMDecisions(make_model("scripted", answers=hashed_yes, cache=cache),
                                 covid_decisions(city.manifest["codes"]["region"]))
        decisions.model.inner.inner = scripted  # count what reaches the scripted backend under cache and meter
        CovidNYC.from_population(city, PARAMS, behaviour=decisions, initial_infected=40).run(DAYS, seed=4,
                                                                                                progress=False)
        return decisions, scripted

    first, asked_first = run_with_cache()
    second, asked_second = run_with_cache()
    assert asked_first.queries == first.usage_totals()["calls"] > 0
    assert asked_second.queries == 0  # the rerun asked the model nothing
    totals = second.usage_totals()
    assert totals["calls"] == 0
    assert totals["cache_hits"] == totals["prompts"] == first.usage_totals()["prompts"]
    assert totals["prompt_tokens"] == 0


def test_a_budget_stops_the_run_and_a_rerun_resumes_from_the_cache(city, tmp_path):
    cache = tmp_path / "answers.sqlite"
    limited = LLMDecisions(make_model("scripted", answers=hashed_yes, cache=cache, budget=Budget(max_calls=100)),
                           covid_decisions(city.manifest["codes"]["region"]))
    with pytest.raises(BudgetExceeded):
        CovidNYC.from_population(city, PARAMS, behaviour=limited, initial_infected=40).run(DAYS, seed=4,
                                                                                           progress=False)
    resumed = LLMDecisions(make_model("scripted", answers=hashed_yes, cache=cache),
                           covid_decisions(city.manifest["codes"]["region"]))
    CovidNYC.from_population(city, PARAMS, behaviour=resumed, initial_infected=40).run(DAYS, seed=4, progress=False)
    fresh = LLMDecisions(make_model("scripted", answers=hashed_yes, cache=tmp_path / "uncapped.sqlite"),
                         covid_decisions(city.manifest["codes"]["region"]))  # the same run with no budget
    CovidNYC.from_population(city, PARAMS, behaviour=fresh, initial_infected=40).run(DAYS, seed=4, progress=False)
    totals = resumed.usage_totals()
    assert totals["cache_hits"] >= 100  # every answer the budget paid for was kept ...
    assert totals["calls"] == fresh.usage_totals()["calls"] - 100  # ... and only the rest was asked
    assert resumed.usage_frame()[["step", "decision", "prompts"]].equals(fresh.usage_frame()[["step", "decision",
                                                                                              "prompts"]])


def test_a_dry_run_counts_calls_without_asking_or_caching(city, tmp_path):
    cache = tmp_path / "answers.sqlite"
    dry = LLMDecisions(make_model("scripted", answers=hashed_yes, cache=cache, dry_run=True),
                       covid_decisions(city.manifest["codes"]["region"]))
    CovidNYC.from_population(city, PARAMS, behaviour=dry, initial_infected=40).run(DAYS, seed=4, progress=False)
    frame = dry.usage_frame()
    assert frame["calls"].sum() == frame["prompts"].sum() > 0
    assert (frame["option_mass_mean"] == 0).all()  # placeholder answers
    real = LLMDecisions(make_model("scripted", answers=hashed_yes, cache=cache),
                        covid_decisions(city.manifest["codes"]["region"]))
    CovidNYC.from_population(city, PARAMS, behaviour=real, initial_infected=40).run(1, seed=4, progress=False)
    assert real.usage_totals()["cache_hits"] == 0  # the dry run stored nothing
