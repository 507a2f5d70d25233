"""Parameters that became natural parameters (issue 14) keep loading under their former keys: the committed draws of
docs/ and state dicts name `log_initial_infected`, `logit_ascertainment` and the heuristic's logits."""

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from populace.core.parameters import unconstrained
from populace.models.covid_nyc import CovidNYC
from populace.models.covid_nyc.analysis.build import read_parameter_draws
from populace.models.covid_nyc.calibration import load_draw
from populace.models.covid_nyc.decisions import FORMER_KEYS, HeuristicDecisions
from populace.models.covid_nyc.observe import Observation
from populace.population.synthetic import layered_synthetic_population

DOCS = Path(__file__).parents[3] / "docs"
FORMER = ("model.log_initial_infected", "observation.logit_ascertainment")  # as the files name them
READ = ("log_initial_infected", "observation.logit_ascertainment")  # as read_parameter_draws gives them


@pytest.mark.parametrize("fit", ["2020", "spring"])
def test_the_committed_draws_load_their_former_keys_as_the_same_unconstrained_values(fit):
    path = DOCS / f"calibration-{fit}-draws.parquet"
    stored = pd.read_parquet(path)
    assert set(FORMER) <= set(stored["name"])  # the files do name the former keys
    draws = read_parameter_draws(path)
    population = layered_synthetic_population(300, seed=1)
    for k in (0, len(draws) - 1):
        model, observation = CovidNYC.from_population(population), Observation()
        load_draw({name: draws[k][name] for name in READ}, model, observation)
        rows = stored[stored["draw"] == k].set_index("name")["value"]
        log_n0, alpha = float(rows[FORMER[0]]), float(rows[FORMER[1]])
        assert float(unconstrained(model, "initial_infections").detach()) == pytest.approx(log_n0, abs=1e-6)
        assert float(model.initial_infections.detach()) == pytest.approx(math.exp(log_n0), rel=1e-6)
        ascertainment = float(observation.reference_ascertainment.detach())
        assert ascertainment == pytest.approx(1 / (1 + math.exp(-alpha)), rel=1e-6)


def test_state_dicts_with_the_heuristics_former_logits_load():
    old = {"logit_isolate_baseline": torch.tensor(-3.0), "logit_isolate_if_symptomatic": torch.tensor(0.5),
           "isolate_logit_per_log_incidence": torch.tensor(1.0), "isolate_logit_per_growth": torch.tensor(0.5),
           "logit_at_work": torch.tensor(2.0), "logit_teleworkable": torch.zeros(13)}
    assert set(FORMER_KEYS) <= set(old)
    decisions = HeuristicDecisions()
    decisions.load_state_dict(old, strict=True)
    assert float(decisions.p_isolate_baseline.detach()) == pytest.approx(1 / (1 + math.exp(3.0)))
    assert float(unconstrained(decisions, "p_at_work").detach()) == 2.0
    assert torch.equal(decisions.teleworkable_fraction_by_industry.detach(), torch.full((13,), 0.5))
    observation = Observation()
    state = observation.state_dict()
    state.pop("parametrizations.reference_ascertainment.original")
    observation.load_state_dict({**state, "logit_ascertainment": torch.tensor(-1.0)}, strict=True)
    assert float(unconstrained(observation, "reference_ascertainment").detach()) == -1.0
