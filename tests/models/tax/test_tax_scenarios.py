"""The generic ensemble runner on the tax model: a higher top rate from year 3 leaves years 0-3 exactly as the
baseline's and, after, lowers pre-tax income and raises revenue; top earners then earn their closed-form best
response n (1 - t)^e; bad rate changes are refused by name."""

import pandas as pd
import pytest
import torch

from populace.analysis.bands import bands, collect_runs
from populace.analysis.ensemble import Study, run_ensemble
from populace.analysis.policy import PolicyError
from populace.core.errors import InputError
from populace.core.runner import run
from populace.models.tax.scenarios import TAX_POLICIES, TaxScenarios
from populace.models.tax.schedule import US_FEDERAL_2018_RATES, US_FEDERAL_2018_THRESHOLDS_USD

YEAR = 3
TOP = {"name": "top rate 60%", "from": YEAR, "top_rate": 0.6}


def test_a_higher_top_rate_changes_nothing_before_its_year_and_lowers_income_after(tmp_path):
    spec = TaxScenarios(n_workers=3000, bounded=True)  # noisy choices, drawn anew each year
    study = Study("top rate", spec, steps=6, policies=(spec.policy(TOP),), seeds=2, checkpoint_steps=2)
    run_ensemble(tmp_path, study, progress=False)
    runs = collect_runs(tmp_path, study.policy_names, "records")
    for member in study.members:
        of = runs[runs["member"] == member.index]
        base = of[of["policy"] == "baseline"].drop(columns="policy").reset_index(drop=True)
        top = of[of["policy"] == TOP["name"]].drop(columns="policy").reset_index(drop=True)
        pd.testing.assert_frame_equal(top.iloc[:YEAR + 1], base.iloc[:YEAR + 1])  # years 0-3: draw for draw
        after = slice(YEAR + 1, None)
        assert (top["productivity_usd"][after] < base["productivity_usd"][after]).all()
        assert (top["revenue_usd"][after] > base["revenue_usd"][after]).all()  # 60% is below the Laffer peak
        assert (top["top_income_share"][after] < base["top_income_share"][after]).all()
        alone = run(spec.apply(spec.build(None), study.policies[0]), 6, seed=member.seed, progress=False).to_pandas()
        pd.testing.assert_frame_equal(top.drop(columns=["member", "seed"]), alone)  # branched = run from year 0
    table = bands(runs, ["policy", "step"], ["revenue_usd"]).set_index(["policy", "step"])
    low, high = sorted(runs[(runs["policy"] == "baseline") & (runs["step"] == 5)]["revenue_usd"])
    assert low < high
    # two members: quantile q is low + q (high - low)
    assert table.loc[("baseline", 5), ["q05", "median", "q95"]].tolist() == pytest.approx(
        [low + 0.05 * (high - low), (low + high) / 2, low + 0.95 * (high - low)])


def test_top_earners_respond_with_the_closed_form_from_the_policy_year_on():
    spec = TaxScenarios(n_workers=4000)  # rational workers
    model = spec.apply(spec.build(None), spec.policy(TOP))
    top_threshold = US_FEDERAL_2018_THRESHOLDS_USD[-1]
    for years, rate in ((YEAR, US_FEDERAL_2018_RATES[-1]), (YEAR + 1, 0.6)):
        a = run(model, years, seed=1, progress=False).final_world.agents
        best = a.skill_usd * (1 - rate) ** a.elasticity  # interior best response in the top bracket
        inside = best > top_threshold
        assert int(inside.sum()) >= 5  # about 0.2% of workers earn past 500,000 USD at 60%
        torch.testing.assert_close(a.income_usd[inside], best[inside], rtol=1e-12, atol=0)


def test_changes_compose_and_bad_ones_are_refused():
    spec = TaxScenarios(n_workers=100)
    rates = [0.1, 0.15, 0.25, 0.3, 0.35, 0.4, 0.45]
    both = spec.apply(spec.build(None), spec.policy({"name": "p", "from": 1, "rates": rates, "top_rate": 0.5}))
    assert both.schedule.rates.tolist() == [*rates[:-1], 0.5]  # in the order given
    assert both.economy.schedule.rates.tolist() == list(US_FEDERAL_2018_RATES)  # the baseline's before year 1
    with pytest.raises(PolicyError, match=r"policy 'p': top_rate must be a number >= 0 and <= 1, got 1.5"):
        TAX_POLICIES.policy({"name": "p", "from": 1, "top_rate": 1.5})
    with pytest.raises(PolicyError, match=r"rates must be a non-empty list of numbers, each >= 0 and <= 1, got "
                                          r"\[0.1, -0.2\]"):
        TAX_POLICIES.policy({"name": "p", "from": 1, "rates": [0.1, -0.2]})
    with pytest.raises(PolicyError, match=r"unknown change 'vat'; TaxPolicy accepts: top_rate, rates"):
        TAX_POLICIES.policy({"name": "p", "from": 1, "vat": 0.2})
    with pytest.raises(ValueError, match=r"need one marginal rate per bracket: 7 thresholds"):
        spec.apply(spec.build(None), spec.policy({"name": "p", "from": 1, "rates": [0.1, 0.2]}))


def test_wrong_length_rates_fail_before_any_worker_starts(tmp_path):
    spec = TaxScenarios(n_workers=100)
    study = Study("short", spec, steps=3, seeds=2, policies=(spec.policy({"name": "two rates", "from": 1,
                                                                          "rates": [0.1, 0.2]}),))
    with pytest.raises(InputError, match=r"policy 'two rates' cannot be applied to TaxPolicy: need one marginal rate "
                                         r"per bracket: 7 thresholds"):
        run_ensemble(tmp_path, study, workers=2, progress=False)
    assert not (tmp_path / "members").exists()
