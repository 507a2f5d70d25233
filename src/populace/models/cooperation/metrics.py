r"""The published metric from a `Cooperation` trajectory: mean final resources per agent, per generation.

Generation g (0-based) ends with the world after step (g + 1) rounds (clock (g + 1) rounds), whose
`mean_resources` [S] is each society's mean final resources (selection comes at the start of the next step,
`populace.models.cooperation.model`). Every society has n agents, so the mean over agents is the mean over
societies.
"""

from __future__ import annotations

import torch
from torch import Tensor

from populace.core.trajectory import Trajectory
from populace.models.cooperation.rules import DonorGameRules


def final_resources(trajectory: Trajectory, rules: DonorGameRules) -> Tensor:
    """[G', S]: each society's mean final resources in each generation the run finished (G' of them)."""
    rows = {step: i for i, step in enumerate(trajectory.steps)}
    ends = [step for step in range(rules.rounds, max(rows, default=0) + 1, rules.rounds)]
    missing = [step for step in ends if step not in rows]
    if not ends or missing:
        raise ValueError(f"final_resources needs a run of whole generations ({rules.rounds} steps each) recorded at "
                         f"every generation's end (record_every dividing {rules.rounds}), got records at steps "
                         f"{trajectory.steps[:5]}...")
    return trajectory["mean_resources"][[rows[step] for step in ends]]


def mean_final_resources(trajectory: Trajectory, rules: DonorGameRules) -> Tensor:
    """[G'] float64: the mean final resources per agent of each finished generation, over all societies."""
    return final_resources(trajectory, rules).to(torch.float64).mean(dim=1)
