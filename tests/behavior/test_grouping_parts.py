"""The parts of populace.behavior.grouping on hand-made cases: metrics, k-means, the tree, fusion, attributes."""

import pytest
import torch

from populace.behavior.grouping import (
    AgentAttributes,
    DecisionTree,
    brier_score,
    by_attributes,
    draws,
    fit_prior_strength,
    fuse,
    kmeans,
    mean_absolute_error,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_metrics_by_hand() -> None:
    p = torch.tensor([[[0.2, 0.8]], [[0.6, 0.4]]], dtype=torch.float64)  # [N=2, S=1, K=2]
    q = torch.tensor([[[0.5, 0.5]], [[0.6, 0.4]]], dtype=torch.float64)
    assert mean_absolute_error(p, q) == pytest.approx((0.3 + 0.0) / 2)
    y = torch.tensor([[0], [1]])
    assert brier_score(p, y) == pytest.approx(((0.2 - 1) ** 2 + 0.6**2) / 2)  # the binary (p - y)^2
    three = torch.tensor([[[0.2, 0.3, 0.5]]], dtype=torch.float64)
    assert brier_score(three, torch.tensor([[2]])) == pytest.approx(0.5 * (0.04 + 0.09 + 0.25))


def test_draws_follow_the_answers() -> None:
    q = torch.tensor([[0.3, 0.7]], dtype=torch.float64).expand(40_000, 1, 2)
    y = draws(q, torch.arange(40_000), seed=1)
    share = float((y == 0).double().mean())
    assert share == pytest.approx(0.3, abs=4 * (0.3 * 0.7 / 40_000) ** 0.5)  # 4 standard errors
    assert torch.equal(y, draws(q, torch.arange(40_000), seed=1))


def test_kmeans_recovers_separated_blobs() -> None:
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    truth = torch.arange(3).repeat_interleave(50)
    x = centres[truth] + 0.3 * torch.randn(150, 2, generator=generator)
    fit = kmeans(x, 3, seed=1)
    pairs = set(zip(truth.tolist(), fit.assignment.tolist(), strict=True))
    assert len(pairs) == 3  # a one-to-one map between blobs and clusters
    for blob in range(3):
        cluster = fit.assignment[truth == blob][0]
        assert torch.allclose(fit.centres[cluster].float(), x[truth == blob].mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="k must be between 1"):
        kmeans(x, 151)


def test_tree_learns_a_planted_rule_exactly() -> None:
    a, b, c = torch.meshgrid(torch.arange(4), torch.arange(3), torch.arange(2), indexing="ij")
    codes = torch.stack([a.flatten(), b.flatten(), c.flatten()], dim=1)  # all 24 combinations
    label = ((codes[:, 0] == 2) & (codes[:, 1] == 0)).long() + 2 * (codes[:, 0] == 3).long()
    tree = DecisionTree(codes, label, (4, 3, 2), 3)
    assert torch.equal(tree.predict(codes), label)
    assert tree.n_leaves == 4  # a == 3 | a == 2, b == 0 | a == 2, b != 0 | the rest: the fewest equality splits
    stump = DecisionTree(codes, label, (4, 3, 2), 3, max_depth=0)
    assert torch.equal(stump.predict(codes), torch.zeros(24, dtype=torch.long))  # the majority class


def test_fusion_reduces_to_the_prior_and_to_the_evidence() -> None:
    prior = torch.tensor([[0.2, 0.8]], dtype=torch.float64)
    assert torch.equal(fuse(prior, torch.zeros(1, 2, dtype=torch.float64), torch.tensor([0]), 3.0), prior)
    many = torch.tensor([1e7])
    evidence = torch.tensor([[0.7, 0.3]], dtype=torch.float64) * many
    assert torch.allclose(fuse(prior, evidence, many, 3.0), torch.tensor([[0.7, 0.3]], dtype=torch.float64),
                          atol=1e-6)
    two = torch.tensor([[0.5 + 0.7, 0.5 + 0.3]], dtype=torch.float64)  # representatives answering 0.5 and 0.7
    assert torch.allclose(fuse(prior, two, torch.tensor([2]), 2.0),
                          torch.tensor([[(2 * 0.2 + 1.2) / 4, (2 * 0.8 + 0.8) / 4]], dtype=torch.float64))
    with pytest.raises(ValueError, match="prior_strength must be >= 0"):
        fuse(prior, two, torch.tensor([2]), -1.0)


def test_prior_strength_by_moments_and_fusion_beats_either_alone() -> None:
    generator = torch.Generator().manual_seed(4)
    groups, members, situations, tau, sigma = 400, 20, 3, 0.1, 0.05
    prior = torch.full((groups * members, situations), 0.5, dtype=torch.float64)
    theta = 0.5 + tau * torch.randn(groups, 1, situations, generator=generator, dtype=torch.float64)
    q = (theta + sigma * torch.randn(groups, members, situations, generator=generator, dtype=torch.float64))
    q = q.reshape(-1, situations)
    group = torch.arange(groups).repeat_interleave(members)
    yes_no = lambda p: torch.stack([p, 1 - p], dim=-1)  # noqa: E731
    fitted = fit_prior_strength(yes_no(prior), yes_no(q), group)
    assert fitted.prior_strength == pytest.approx(sigma**2 / tau**2, rel=0.15)  # n0 = 0.25
    # predict each agent from one other member (the first of its group) and the prior
    rep = q.reshape(groups, members, situations)[:, 0].repeat_interleave(members, 0)
    target = q.reshape(groups, members, situations)[:, 1:].reshape(-1, situations)
    rep, p0 = rep.reshape(groups, members, situations)[:, 1:].reshape(-1, situations), prior[: target.shape[0]]
    fused = fuse(yes_no(p0), yes_no(rep), torch.ones(target.shape[0], situations), fitted.prior_strength)[..., 0]
    error = {name: float((x - target).pow(2).mean()) for name, x in (("prior", p0), ("evidence", rep),
                                                                     ("fused", fused))}
    assert error["fused"] < error["evidence"] < error["prior"]


def test_attributes_cells_and_errors() -> None:
    codes = torch.tensor([[0, 1], [1, 1], [0, 1], [1, 0]])
    attributes = AgentAttributes(("a", "b"), codes, (("a0", "a1"), ("b0", "b1")))
    groups = by_attributes(attributes, ["a", "b"])
    assert groups.group.tolist() == [0, 2, 0, 1]  # keys a * 2 + b: 1, 3, 1, 2
    assert groups.labels == ("a0, b1", "a1, b0", "a1, b1")
    assert by_attributes(attributes, []).labels == ("everyone",)
    with pytest.raises(ValueError, match=r"attribute 'b' has codes outside 0\.\.1"):
        AgentAttributes(("a", "b"), codes + 1, (("a0", "a1", "a2"), ("b0", "b1")))
    with pytest.raises(KeyError, match="no attribute 'c'"):
        by_attributes(attributes, ["c"])
