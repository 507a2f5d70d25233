"""The generic ensemble runner on SIR: a policy run branched from the baseline's snapshot equals the baseline exactly up
to its step and the same policy run from step 0 after it; lower beta gives fewer infections; bands are the
interpolated quantiles over members; a killed ensemble resumes to identical files without redoing finished work;
members with parameter draws run with them, a fit's draws among them; a process pool gives what inline runs give."""

import dataclasses
import json
import math

import pandas as pd
import pytest
import torch
from torch import nn

from populace.analysis import ensemble
from populace.analysis.bands import bands, collect_runs
from populace.analysis.ensemble import Study, run_ensemble
from populace.analysis.policy import Change, Number, PolicyError, Vocabulary
from populace.core.errors import InputError
from populace.core.runner import run
from populace.models.sir.scenarios import SIR_POLICIES, SIRScenarios

SPEC = SIRScenarios(n_agents=2000, contacts_per_agent=8.0, network_seed=4, beta_per_day=0.05, initial_infected=20)
BRANCH = 15
POLICIES = (SPEC.policy({"name": "distancing", "from": BRANCH, "beta_factor": 0.3}),
            SPEC.policy({"name": "more contact", "from": BRANCH, "beta_per_day": 0.08}))


def draws():
    """Two parameter draws taken from models built with other betas (no parameter name is written out)."""
    return tuple({name: value.detach().clone() for name, value in
                  SIRScenarios(2000, 8.0, 4, beta_per_day=beta).build(None).named_parameters()}
                 for beta in (0.05, 0.06))


def study(**changes):
    fields = {"name": "sir", "model": SPEC, "steps": 40, "policies": POLICIES, "seeds": 3, "first_seed": 1,
              "draws": draws(), "parameter_draws": 2, "checkpoint_steps": 10, **changes}
    return Study(**fields)


def records(folder):
    """{file name: frame} of every run table of a run folder."""
    return {str(p.relative_to(folder)): pd.read_parquet(p) for p in sorted(folder.glob("members/*/*.parquet"))}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("sir-ensemble")
    run_ensemble(out, study(), progress=False)
    return out


def test_a_branch_is_the_baseline_until_its_step_and_the_policy_run_from_step_0_after(finished):
    for member in study().members:
        folder = finished / "members" / member.name
        base = pd.read_parquet(folder / "baseline.records.parquet")
        low = pd.read_parquet(folder / "distancing.records.parquet")
        high = pd.read_parquet(folder / "more-contact.records.parquet")
        for frame in (low, high):
            pd.testing.assert_frame_equal(frame.iloc[:BRANCH + 1], base.iloc[:BRANCH + 1])  # draw for draw
        alone = run(SPEC.apply(SPEC.build(study().draws[member.draw]), POLICIES[0]), 40, seed=member.seed,
                    progress=False).to_pandas()  # no snapshot: from step 0
        pd.testing.assert_frame_equal(low, alone)
        # day 15 starts from the same world with the same uniforms, so a lower beta infects a subset of the
        # baseline's new infections (a strict one: dozens are infected that day), and the change acts on day 15
        assert low["new_infections"][BRANCH + 1] < base["new_infections"][BRANCH + 1]
        after = slice(BRANCH + 1, None)
        assert low["new_infections"][after].sum() < base["new_infections"][after].sum()
        assert high["new_infections"][after].sum() > base["new_infections"][after].sum()
        assert base["new_infections"].sum() > 200  # an epidemic to change
    done = json.loads((finished / "members" / "m0000" / "done.json").read_text())
    assert done == {"member": 0, "seed": 1, "draw": 0, "branch_steps": {"distancing": 15, "more contact": 15}}


def test_bands_are_the_interpolated_quantiles_over_members(finished):
    runs = collect_runs(finished, study().policy_names, "records")
    assert len(runs) == 3 * 3 * 41  # members x runs x records
    table = bands(runs, ["policy", "step"], ["infectious"]).set_index(["policy", "step"])
    a, b, c = sorted(runs[(runs["policy"] == "baseline") & (runs["step"] == 25)]["infectious"])
    assert a < c  # the members differ
    # 3 members: quantile q sits at rank 2q, between the sorted values
    expected = [a + 0.1 * (b - a), (a + b) / 2, b, (b + c) / 2, b + 0.9 * (c - b)]
    got = table.loc[("baseline", 25)]
    assert got[["q05", "q25", "median", "q75", "q95"]].tolist() == pytest.approx(expected)


def test_members_take_their_draws(finished):
    beta = [float(SPEC.build(d).transmission.beta_per_day.detach()) for d in draws()]
    assert beta == pytest.approx([0.05, 0.06])
    for member in study().members:
        stored = json.loads((finished / "members" / member.name / "parameters.json").read_text())
        assert (stored["seed"], stored["draw"]) == (member.seed, member.index % 2)
        u = draws()[member.draw]  # stored units: beta = exp(u), p_recovery = sigmoid(u); reported in natural units
        expected = {"transmission.beta_per_day": [math.exp(u["transmission.parametrizations.beta_per_day.original"])],
                    "recovery.p_recovery": [1 / (1 + math.exp(-u["recovery.parametrizations.p_recovery.original"]))]}
        assert stored["values"].keys() == expected.keys()
        for name, value in expected.items():
            assert stored["values"][name] == pytest.approx(value, rel=1e-6), name
        assert stored["values"]["transmission.beta_per_day"] == pytest.approx([[0.05, 0.06][member.draw]])
    with pytest.raises(KeyError, match=r"parameters \['transmission.betta'\] are not in SIR"):
        SPEC.build({"transmission.betta": torch.zeros(())})
    with pytest.raises(ValueError, match="parameter_draws is 3 but there are 2 draw"):
        study(parameter_draws=3)


def test_a_killed_ensemble_resumes_to_the_same_files_without_redoing_finished_work(finished, tmp_path, monkeypatch):
    calls, kill = [], {"at": 10}

    def killed_on_the_tenth_run(model, steps, **kwargs):
        calls.append((kwargs["world"].seed, kwargs["world"].step))
        if len(calls) == kill["at"]:  # member 0: 5 baseline chunks (10, 15, 20, 30, 40), 2 policies; member 1 15-20
            raise KeyboardInterrupt("killed")
        return run(model, steps, **kwargs)

    monkeypatch.setattr(ensemble, "run", killed_on_the_tenth_run)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(tmp_path, study(), progress=False)
    with pytest.raises(FileExistsError, match="pass --resume"):
        run_ensemble(tmp_path, study(), progress=False)
    calls.clear()
    kill["at"] = None
    run_ensemble(tmp_path, study(), resume=True, progress=False)
    seeds = [seed for seed, _ in calls]
    assert 1 not in seeds  # member 0 finished: not run again
    assert calls[0] == (2, 15)  # member 1's baseline continues from its checkpoint at step 15
    assert calls[seeds.index(3)] == (3, 0)  # member 2 starts from step 0
    expected, got = records(finished), records(tmp_path)
    assert got.keys() == expected.keys()
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)


@pytest.mark.slow
def test_a_process_pool_gives_what_inline_runs_give(finished, tmp_path):
    run_ensemble(tmp_path, study(seeds=2), workers=2, progress=False)  # spawned workers get the pickled Study
    expected = {k: v for k, v in records(finished).items() if not k.startswith("members/m0002")}
    got = records(tmp_path)
    assert got.keys() == expected.keys()
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)


def test_a_dask_cluster_gives_what_inline_runs_give(finished, tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'populace[dask]'")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        run_ensemble(tmp_path, study(seeds=2), executor=cluster.scheduler_address.replace("tcp://", "dask://"),
                     progress=False)
    expected = {k: v for k, v in records(finished).items() if not k.startswith("members/m0002")}
    got = records(tmp_path)
    assert got.keys() == expected.keys()
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)


@pytest.mark.parametrize(("spec", "message"), [
    ({"name": "p", "from": 3, "beta_factr": 0.5},
     r"policy 'p': unknown change 'beta_factr'; SIR accepts: beta_per_day, beta_factor"),
    ({"name": "p", "from": 3, "beta_factor": -0.5}, r"policy 'p': beta_factor must be a number > 0, got -0.5"),
    ({"name": "p", "from": 3, "beta_per_day": "high"}, r"policy 'p': beta_per_day must be a number > 0, got 'high'"),
    ({"name": "p", "from": 3, "beta_factor": True}, r"beta_factor must be a number > 0, got True"),
    ({"name": "p", "from": 3}, r"policy 'p' changes nothing; give at least one of: beta_per_day, beta_factor"),
    ({"name": "p", "from": -1, "beta_factor": 0.5}, r"policy 'p': from must be the step \(an int >= 0\)"),
    ({"name": "Baseline", "from": 1, "beta_factor": 0.5}, r"a policy needs a name \(text other than 'baseline'\)"),
])
def test_bad_policies_name_the_value_and_what_is_accepted(spec, message):
    with pytest.raises(PolicyError, match=message):
        SIR_POLICIES.policy(spec)


def test_bad_studies_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"policy names must differ in their letters or digits"):
        study(policies=(POLICIES[0], SPEC.policy({"name": "Distancing!", "from": 3, "beta_factor": 0.5})))
    with pytest.raises(ValueError, match=r"steps must be an int >= 1, got 0"):
        study(steps=0)
    late = Study("late", SPEC, 10, (SPEC.policy({"name": "late", "from": 11, "beta_factor": 0.5}),), seeds=1)
    with pytest.raises(ValueError, match=r"policy 'late' branches off the baseline at step 11, outside the study's"):
        ensemble.run_member(str(tmp_path), late, late.members[0])


def test_a_run_folder_is_never_reused_by_accident(tmp_path):
    first = study(seeds=1, steps=12, policies=())
    run_ensemble(tmp_path, first, progress=False)
    with pytest.raises(FileExistsError, match="already holds runs"):
        run_ensemble(tmp_path, first, progress=False)  # without --resume
    other = study(seeds=1, steps=12, policies=(), draws=tuple(reversed(draws())))
    with pytest.raises(ValueError, match=r"holds runs of a different study \(changed: draws\)"):
        run_ensemble(tmp_path, other, resume=True, progress=False)
    assert run_ensemble(tmp_path, first, resume=True, progress=False) == first.members  # the same study resumes
    unfinished = tmp_path / "unfinished"
    (unfinished / "members" / "m0000" / "baseline").mkdir(parents=True)  # a killed run's leftovers
    with pytest.raises(FileExistsError, match="finished or not"):
        run_ensemble(unfinished, first, progress=False)


class SIRFit(nn.Module):
    """A tiny `CalibrationProblem` on SPEC's model (held as `model`, so its draws are keyed `model.<name>`): squared
    error of prevalence against a flat series."""

    def __init__(self):
        super().__init__()
        self.model = SPEC.build(None)
        self.model.recovery.requires_grad_(False)

    @property
    def loss_weights(self) -> dict[str, float]:
        return {"infectious": 1.0}

    def loss_terms(self, seed: int, *, differentiable: bool = True) -> dict[str, torch.Tensor]:
        infectious = run(self.model, 8, seed=seed, differentiable=differentiable, progress=False)["infectious"]
        return {"infectious": ((infectious - 100.0) ** 2).mean() / 1e4}


def test_the_draws_of_a_fit_load_into_the_build_and_run_in_the_ensemble(tmp_path):
    from populace.calibrate import FitSettings, ensemble, load_parameter_draws, save_parameter_draws

    fitted = ensemble(SIRFit(), FitSettings(learning_rate=0.2), members=2, iterations=3)
    draws = load_parameter_draws(save_parameter_draws(tmp_path / "draws.parquet", fitted))  # as `calibrate` writes
    key = "model.transmission.parametrizations.beta_per_day.original"
    assert sorted(draws[0]) == [key]
    betas = [math.exp(float(d[key])) for d in draws]
    assert betas[0] != pytest.approx(0.05)  # the fit moved beta away from its start
    assert betas[0] != pytest.approx(betas[1])  # two members, two seeds
    for draw, beta in zip(draws, betas, strict=True):
        assert float(SPEC.build(draw).transmission.beta_per_day.detach()) == pytest.approx(beta, rel=1e-6)
    fit_study = Study("fit", SPEC, steps=6, seeds=2, draws=tuple(draws), parameter_draws=2, checkpoint_steps=3)
    run_ensemble(tmp_path / "runs", fit_study, progress=False)
    for member, beta in zip(fit_study.members, betas, strict=True):
        stored = json.loads((tmp_path / "runs" / "members" / member.name / "parameters.json").read_text())
        assert stored["values"]["transmission.beta_per_day"] == pytest.approx([beta], rel=1e-6)
        assert stored["values"]["recovery.p_recovery"] == pytest.approx([0.2], rel=1e-6)  # 1 / infectious_days


def test_changes_of_one_policy_compose_in_the_order_given():
    set_then_scale = SPEC.apply(SPEC.build(None), SPEC.policy(
        {"name": "p", "from": 5, "beta_per_day": 0.08, "beta_factor": 0.5}))
    scale_then_set = SPEC.apply(SPEC.build(None), SPEC.policy(
        {"name": "p", "from": 5, "beta_factor": 0.5, "beta_per_day": 0.08}))
    assert float(set_then_scale.transmission.before.beta_per_day.detach()) == pytest.approx(0.05)  # to step 5
    assert float(set_then_scale.transmission.after.beta_per_day.detach()) == pytest.approx(0.04)  # 0.08 x 0.5
    assert float(scale_then_set.transmission.after.beta_per_day.detach()) == pytest.approx(0.08)  # then 0.08
    alone = SPEC.apply(SPEC.build(None), SPEC.policy({"name": "p", "from": 5, "beta_per_day": 0.04}))
    pd.testing.assert_frame_equal(run(set_then_scale, 12, seed=2, progress=False).to_pandas(),
                                  run(alone, 12, seed=2, progress=False).to_pandas())


def test_a_policy_that_cannot_be_applied_fails_before_any_member_starts(tmp_path, monkeypatch):
    def broken(model, value, step):
        raise ValueError(f"no such contacts: {value}")

    spec = dataclasses.replace(SPEC)
    monkeypatch.setattr(type(spec), "vocabulary", Vocabulary("SIR", [*SIR_POLICIES.changes.values(),
                                                                      Change("broken", Number(), broken)]))
    bad = Study("bad", spec, 10, (spec.policy({"name": "fine", "from": 2, "beta_factor": 0.5}),
                                  spec.policy({"name": "broken one", "from": 2, "broken": 3})), seeds=2)
    with pytest.raises(InputError, match=r"policy 'broken one' cannot be applied to SIR: no such contacts: 3"):
        run_ensemble(tmp_path, bad, workers=2, progress=False)
    assert not (tmp_path / "members").exists()  # nothing ran
    late = Study("late", SPEC, 10, (SPEC.policy({"name": "late", "from": 11, "beta_factor": 0.5}),), seeds=1)
    with pytest.raises(InputError, match=r"policy 'late' cannot be applied to SIR: policy 'late' branches off the "
                                         r"baseline at step 11, outside the study's steps 0 to 10"):
        run_ensemble(tmp_path, late, progress=False)
