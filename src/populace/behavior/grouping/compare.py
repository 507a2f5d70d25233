r"""Groupings compared at equal call budgets, on held-out situations (the study of `docs/behaviour-clusters.md`).

A `Study` splits a `GroundTruth` in two ways: situations into probes (used to learn groupings) and held-out ones
(used to score them), and agents into probed ones (`train`: their probe answers are what the groupings learn from)
and evaluated ones (`test`). Every grouping is scored the same way: each group is asked through r representatives,
its members nearest the group's mean probe answer (probed members first, then the others in a seeded order), and
the mean of their own answers is broadcast to the group's evaluated agents; its cost is the number of
representatives asked per situation, sum over the groups present of min(r, members). Learned groupings also cost
their probes once: probed agents x probe situations. The error is `metrics`' MAE and Brier score against each
evaluated agent's own answers; with a prior (the heuristic's probabilities) the same estimate is also fused with
it (`fusion`) and the prior alone is scored too.

`compare` gives one row per grouping and setting: per agent (the reference), today's attributes, the automatic
attributes at each depth of the selection, behaviour clusters for each k, and optionally today's archetype prompts
(the archetype described in the prompt instead of representatives). `calls_at_error` reads off a curve the calls a
method needs to reach an error, `plot` draws error against calls.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from populace.behavior.grouping.clusters import BehaviourClusters
from populace.behavior.grouping.fusion import fit_prior_strength, fuse
from populace.behavior.grouping.groups import Groups, by_attributes, select_attributes
from populace.behavior.grouping.metrics import brier_score, draws, mean_absolute_error
from populace.behavior.grouping.truth import GroundTruth
from populace.core import rng

ORDER_STREAM = "grouping/representatives"
SPLIT_STREAM = "grouping/agents"


def split_agents(n: int, train_fraction: float = 0.5, *, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(train, test): positions 0..n-1 split at random (seeded) into round(train_fraction n) probed agents and the
    rest, each ascending."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must lie in (0, 1), got {train_fraction!r}")
    order = torch.argsort(rng.uniform(seed, 0, SPLIT_STREAM, torch.arange(n), dtype=torch.float64))
    cut = round(train_fraction * n)
    if not 0 < cut < n:
        raise ValueError(f"{n} agents are too few to split {train_fraction:g} / {1 - train_fraction:g}")
    return order[:cut].sort().values, order[cut:].sort().values


@dataclasses.dataclass(frozen=True)
class Study:
    """A ground truth split for a comparison (see the module docstring).

    Attributes:
        truth: every agent's answer in every situation.
        probes: the situations groupings learn from.
        held_out: the situations they are scored on (none of the probes).
        train: positions of the probed agents; test: of the evaluated agents (disjoint).
        prior: the heuristic's probabilities [N, S, K] for fusion, or None.
        seed: for the draws of the Brier score and the order of representatives.
    """

    truth: GroundTruth
    probes: tuple[str, ...]
    held_out: tuple[str, ...]
    train: Tensor
    test: Tensor
    prior: Tensor | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "probes", tuple(self.probes))
        object.__setattr__(self, "held_out", tuple(self.held_out))
        both = sorted(set(self.probes) & set(self.held_out))
        if both or not self.probes or not self.held_out:
            raise ValueError(f"probes and held-out situations must be non-empty and disjoint, got {list(self.probes)}"
                             f" and {list(self.held_out)}")
        self.truth.situation_index([*self.probes, *self.held_out])
        if bool(torch.isin(self.train, self.test).any()):
            raise ValueError("train and test agents overlap: score groupings on agents that were not probed")
        if self.prior is not None and self.prior.shape != self.truth.answers.shape:
            raise ValueError(f"prior must have the ground truth's shape {list(self.truth.answers.shape)}, got "
                             f"{list(self.prior.shape)}")

    def answers(self, rows: Tensor, situations: Sequence[str]) -> Tensor:
        """Q [rows, situations, K]."""
        return self.truth.answers[rows][:, self.truth.situation_index(situations)]

    @property
    def probe_answers(self) -> Tensor:
        """The probed agents' answers to the probes, [train, S_probe, K]."""
        return self.answers(self.train, self.probes)

    @property
    def probe_calls(self) -> int:
        """Questions the probes cost, once: probed agents x probe situations."""
        return int(self.train.numel()) * len(self.probes)


def evaluate(study: Study, groups: Groups, *, reps: int = 1, setting: str = "", probe_calls: int = 0) -> dict:
    """The row of one grouping of all N agents: groups present among the evaluated agents, calls per situation,
    probe calls, MAE and Brier of the representatives' estimate, and with a prior: of the prior alone and fused."""
    order = representative_order(study, groups)
    test_group = groups.group[study.test]
    present = torch.unique(test_group).tolist()
    held = study.truth.answers[:, study.truth.situation_index(study.held_out)]  # [N, S_h, K]
    k = held.shape[-1]
    evidence = torch.zeros(groups.n_groups, len(study.held_out), k, dtype=torch.float64)
    count = torch.zeros(groups.n_groups, dtype=torch.int64)
    for g in present:
        chosen = order[g][:reps]
        evidence[g] = held[torch.tensor(chosen)].sum(0)
        count[g] = len(chosen)
    q = held[study.test]
    estimate = evidence[test_group] / count[test_group].view(-1, 1, 1)
    y = _draws(study, q)
    row = {"method": groups.method, "setting": setting, "groups": len(present), "reps": reps,
           "calls_per_situation": int(count.sum()), "probe_calls": probe_calls,
           "mae": mean_absolute_error(estimate, q), "brier": brier_score(estimate, y)}
    if study.prior is not None:
        prior = study.prior[:, study.truth.situation_index(study.held_out)][study.test]
        fitted = fit_prior_strength(study.prior[study.train][:, study.truth.situation_index(study.probes)],
                                    study.probe_answers, groups.group[study.train])
        fused = fuse(prior, evidence[test_group], count[test_group].unsqueeze(-1).expand(-1, len(study.held_out)),
                     fitted.prior_strength)
        row.update(prior_strength=fitted.prior_strength, mae_prior=mean_absolute_error(prior, q),
                   brier_prior=brier_score(prior, y), mae_fused=mean_absolute_error(fused, q),
                   brier_fused=brier_score(fused, y))
    return row


def representative_order(study: Study, groups: Groups) -> list[list[int]]:
    """For each group, its members (positions in the ground truth) in the order they are asked: probed members
    nearest the group's mean probe answer first, then the others in a seeded random order."""
    probe = study.probe_answers.reshape(study.train.numel(), -1)  # [train, S_probe K]
    train_group = groups.group[study.train]
    g = groups.n_groups
    sums = torch.zeros(g, probe.shape[1], dtype=torch.float64).index_add_(0, train_group, probe)
    centre = sums / torch.bincount(train_group, minlength=g).clamp(min=1).unsqueeze(1)
    distance = (probe - centre[train_group]).pow(2).sum(1)
    probed = torch.argsort(distance, stable=True)
    u = rng.uniform(study.seed, 0, ORDER_STREAM, study.test, dtype=torch.float64)
    others = torch.argsort(u)
    order: list[list[int]] = [[] for _ in range(g)]
    for position in probed.tolist():
        order[int(train_group[position])].append(int(study.train[position]))
    test_group = groups.group[study.test]
    for position in others.tolist():
        order[int(test_group[position])].append(int(study.test[position]))
    return order


def compare(study: Study, *, today: Sequence[str], cluster_counts: Sequence[int] = (2, 4, 8, 16, 32),
            reps: Sequence[int] = (1,), max_cells: int | None = None,
            archetype_prompts: Tensor | None = None, archetype_calls: int | None = None) -> pd.DataFrame:
    """One row per grouping and setting (see the module docstring).

    Args:
        today: the attributes of today's hand-made archetypes.
        cluster_counts: the k of the behaviour clusters (those above the number of probed agents are left out).
        reps: representatives per group.
        max_cells: the automatic selection's limit on possible cells.
        archetype_prompts: today's archetype prompts' answers broadcast to every agent, [N, S, K] (optional), with
            `archetype_calls`, the prompts asked per situation.
    """
    truth, rows = study.truth, []
    attributes = truth.attributes
    q = study.answers(study.test, study.held_out)
    rows.append({"method": "per agent", "setting": "", "groups": int(study.test.numel()), "reps": 1,
                 "calls_per_situation": int(study.test.numel()), "probe_calls": 0, "mae": 0.0,
                 "brier": brier_score(q, _draws(study, q))})
    train_attributes = attributes.take(study.train)
    selection = select_attributes(train_attributes, study.probe_answers, max_cells=max_cells, seed=study.seed)
    for r in reps:
        rows.append(evaluate(study, by_attributes(attributes, today), reps=r, setting=" x ".join(today)))
        for names in selection.prefixes():
            rows.append(evaluate(study, by_attributes(attributes, names, method="auto"), reps=r,
                                 setting=" x ".join(names) or "everyone", probe_calls=study.probe_calls))
        for k in cluster_counts:
            if k <= study.train.numel():
                clusters = BehaviourClusters.fit(train_attributes, study.probe_answers, k, seed=study.seed)
                rows.append(evaluate(study, clusters.groups(attributes), reps=r, setting=f"k={k}",
                                     probe_calls=study.probe_calls))
    if archetype_prompts is not None:
        p = archetype_prompts[study.test][:, truth.situation_index(study.held_out)]
        rows.append({"method": "attributes (archetype prompt)", "setting": " x ".join(today),
                     "groups": archetype_calls, "reps": 1, "calls_per_situation": archetype_calls, "probe_calls": 0,
                     "mae": mean_absolute_error(p, q), "brier": brier_score(p, _draws(study, q))})
    return pd.DataFrame(rows)


def calls_at_error(table: pd.DataFrame, method: str, mae: float, *, reps: int = 1) -> float:
    """The calls per situation at which `method`'s curve (rows with `reps`, by calls) first reaches `mae`, linear
    in log calls between the points that bracket it; NaN if it never does."""
    rows = table[(table["method"] == method) & (table["reps"] == reps)].sort_values("calls_per_situation")
    calls, errors = rows["calls_per_situation"].to_numpy(float), rows["mae"].to_numpy(float)
    for i, (c, e) in enumerate(zip(calls, errors, strict=True)):
        if e <= mae:
            if i == 0 or errors[i - 1] == e:
                return float(c)
            t = (errors[i - 1] - mae) / (errors[i - 1] - e)
            return float(math.exp(math.log(calls[i - 1]) + t * (math.log(c) - math.log(calls[i - 1]))))
    return math.nan


def plot(table: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Error (MAE and Brier) against calls per situation, one curve per method (dashed: fused with the prior)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    figure.suptitle(title, fontsize=10)
    for ax, metric in zip(axes, ("mae", "brier"), strict=True):
        for i, (method, rows) in enumerate(table.groupby("method", sort=False)):
            rows = rows.sort_values("calls_per_situation")
            color = f"C{i}"
            style, size = ("o-", 6) if len(rows) > 1 else ("*", 12)
            ax.plot(rows["calls_per_situation"], rows[metric], style, color=color, label=method, markersize=size)
            if f"{metric}_fused" in rows and rows[f"{metric}_fused"].notna().any():
                ax.plot(rows["calls_per_situation"], rows[f"{metric}_fused"], "--", color=color, alpha=0.7)
        prior = table[f"{metric}_prior"].dropna() if f"{metric}_prior" in table else pd.Series(dtype=float)
        if len(prior):
            ax.axhline(float(np.mean(prior)), color="0.5", linestyle=":", label="prior (heuristic) alone")
        ax.set(xscale="log", xlabel="LLM calls per situation", ylabel="MAE" if metric == "mae" else "Brier score")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _draws(study: Study, q: Tensor) -> Tensor:
    """The options drawn from the evaluated agents' own answers (the same for every grouping)."""
    situations = torch.tensor(study.truth.situation_index(study.held_out))
    return draws(q, study.test, study.seed, situations)
