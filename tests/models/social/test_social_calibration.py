"""The heuristic's repost weight fitted by gradient (the generic `populace.calibrate.fit`) to a synthetic
cascade-size curve made with a known weight; differentiable runs make the fast runs' decisions."""

import pytest
import torch

from populace.calibrate import FitSettings, fit
from populace.models.social import HeuristicActions, SocialMedia, synthetic_follows, synthetic_users
from populace.models.social.calibration import CascadeCalibration, synthetic_target

USERS, GRAPH = synthetic_users(250, seed=2), synthetic_follows(250, 6, seed=2)
TRUE_REPOST_BIAS = -1.2


def social(repost_bias: float) -> SocialMedia:
    return SocialMedia(USERS, GRAPH, HeuristicActions({"repost": (repost_bias, 2.0, 0.3, 0.3)}), n_seed_posts=40)


def test_differentiable_runs_make_the_same_decisions_with_gradients():
    model = social(-2.6)
    fast = model.run(4, seed=5, progress=False)
    relaxed = model.run(4, seed=5, differentiable=True, progress=False)
    assert torch.equal(fast["actions"], relaxed["actions"].detach())
    assert fast["cascade_size"].tolist() == pytest.approx(relaxed["cascade_size"].detach().tolist())
    relaxed["cascade_size"][-1].backward()
    assert model.policy.bias["repost"].grad > 0  # a larger repost bias, larger cascades
    assert model.policy.bias["post"].grad < 0  # the options share one softmax: more posts, fewer reposts


def test_fit_recovers_the_repost_bias_of_a_synthetic_curve():
    target = synthetic_target(social(TRUE_REPOST_BIAS), 6, seeds=[11, 12, 13, 14])
    model = social(-2.6)
    problem = CascadeCalibration(model, target)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["policy.bias.repost"]
    history = fit(problem, FitSettings(iterations=20, learning_rate=0.15, seeds_per_step=1, seed=3), progress=False)
    assert history["loss"].iloc[-5:].mean() < history["loss"].iloc[0] / 4
    # seed noise of one run a step and the straight-through gradient: within 0.35 of the truth, from 1.4 away
    assert float(model.policy.bias["repost"].detach()) == pytest.approx(TRUE_REPOST_BIAS, abs=0.35)


def test_unknown_parameters_are_refused():
    with pytest.raises(ValueError, match=r"train names \['policy.bias.share'\]"):
        CascadeCalibration(social(-2.6), torch.ones(3), train=["policy.bias.share"])
