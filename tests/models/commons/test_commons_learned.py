"""The learned harvester: its features, gradients reaching its weights through the simulator, and a short training
that survives 12 months in fast mode with the sustainable share's gain."""

import pytest
import torch

from populace.calibrate import CalibrationProblem
from populace.models.commons import Commons, CommonsRules, GroupView, HarvestPolicy
from populace.models.commons.learned import HarvestNetwork, HarvestTraining, train_policy
from populace.models.commons.metrics import group_metrics


def test_features_and_requests_on_a_hand_view():
    policy = HarvestNetwork()
    view = GroupView(month=6, resource=torch.tensor([80.0]), sustainable_share=torch.tensor([8.0]),
                     last_request=torch.tensor([[10.0, 10.0, 10.0, 10.0, 20.0]]),
                     last_catch=torch.tensor([[10.0, 10.0, 10.0, 10.0, 20.0]]),
                     active=torch.ones(1, 5, dtype=torch.bool))
    x = policy.features(view)
    assert x.shape == (1, 5, 5)
    # (h / C, f / u, c_i / u, mean c / u, t / T), u = 100 / 5 = 20
    assert x[0, 4].tolist() == pytest.approx([0.8, 0.4, 1.0, 0.6, 0.5])
    world = Commons(1, policy).initial_world(seed=0)
    w = policy.requests(view, world)
    assert torch.equal(w, w.round())
    assert bool(((w >= 0) & (w <= 16)).all())  # at most h / S = 80 / 5
    assert isinstance(policy, HarvestPolicy)
    with pytest.raises(ValueError, match="hidden must be an int >= 1"):
        HarvestNetwork(hidden=0)


def test_training_problem_sends_gradients_to_the_network():
    problem = HarvestTraining(HarvestNetwork(), n_groups=2)
    assert isinstance(problem, CalibrationProblem)
    terms = problem.loss_terms(0)
    assert set(terms) == {"gain", "collapse"}
    (terms["gain"] + problem.loss_weights["collapse"] * terms["collapse"]).backward()
    grads = [p.grad for p in problem.policy.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.slow
def test_a_trained_policy_survives_with_the_sustainable_gain():
    policy, history = train_policy()
    assert history["gain"].iloc[-1] < history["gain"].iloc[0]  # the fit raised the gain
    rules = CommonsRules()
    traj = Commons(20, policy, rules).run(12, seed=3, progress=False)
    metrics = group_metrics(traj, rules)
    assert metrics["survived"].tolist() == [1.0] * 20
    assert metrics["gain_per_agent"].min().item() >= 120  # the sustainable share's 12 x 10
