r"""A learned harvester: a small network over the group's state, trained by gradient through the differentiable
simulator to maximise the gain subject to survival (`populace.calibrate.fit` on a `HarvestTraining` problem).

`HarvestNetwork` (a `HarvestPolicy`): for seat i of a group, features x_i = (h / C, f / u, c_i / u, mean_j c_j / u,
t / T) (u = C / N, c last month's catches, t the month), a two-layer perceptron z_i = MLP(x_i) (tanh, `hidden`
units), and the request

    w_i = (h / S) sigmoid(z_i)       (S seats: a seat asks for at most an equal split of the pool)

rounded to whole units in fast mode. One network serves every seat, so groups are symmetric. (Training on the
continuous requests and rounding afterwards works better than a straight-through rounding, whose forward pass is
piecewise constant: Adam then oscillates between the two whole amounts around the sustainable share.)

`HarvestTraining` is a `populace.calibrate.CalibrationProblem`: one differentiable run of `n_groups` groups, with
loss terms

    gain     = - mean_i R_i / (T f0 / N)        (minus the gain per agent, 1 for the sustainable share's gain)
    collapse = 1 - mean_g s_g(T)                (the soft probability of collapse, `Commons`' survival s)

weighted (1, `collapse_weight`). The relaxed run is deterministic, so the seed does not change it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import torch
from torch import Tensor, nn

from populace.calibrate import FitSettings, fit
from populace.core.world import World
from populace.models.commons.metrics import GOVSIM_F0
from populace.models.commons.model import GROUPS, Commons
from populace.models.commons.policy import GroupView
from populace.models.commons.rules import CommonsRules

N_FEATURES = 5


class HarvestNetwork(nn.Module):
    """w_i = round((h / S) sigmoid(MLP(x_i))) for every seat (module docstring).

    Shape: features [G, S, 5] -> requests [G, S].
    """

    def __init__(self, rules: CommonsRules | None = None, *, hidden: int = 16, seed: int = 0):
        super().__init__()
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be an int >= 1 (units of the hidden layer), got {hidden!r}")
        self.rules = rules or CommonsRules()
        self.hidden = hidden
        generator = torch.Generator().manual_seed(seed)
        self.layers = nn.Sequential(nn.Linear(N_FEATURES, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        with torch.no_grad():
            for p in self.layers.parameters():
                p.copy_(torch.empty_like(p).uniform_(-0.5, 0.5, generator=generator))

    def extra_repr(self) -> str:
        return f"hidden={self.hidden}"

    def features(self, view: GroupView) -> Tensor:
        """x [G, S, 5] = (h / C, f / u, c_i / u, mean_j c_j / u, t / T), u = C / N."""
        rules = self.rules
        unit = rules.capacity / rules.agents_per_group
        g, s = view.active.shape
        dtype = self.layers[0].weight.dtype
        catch = view.last_catch.to(dtype) / unit
        per_group = torch.stack([view.resource.to(dtype) / rules.capacity, view.sustainable_share.to(dtype) / unit,
                                 torch.full((g,), view.month / rules.months, dtype=dtype,
                                            device=view.resource.device)], dim=1)
        return torch.cat([per_group[:, :2].unsqueeze(1).expand(g, s, 2), catch.unsqueeze(2),
                          catch.mean(dim=1, keepdim=True).expand(g, s).unsqueeze(2),
                          per_group[:, 2:].unsqueeze(1).expand(g, s, 1)], dim=2)

    def requests(self, view: GroupView, world: World) -> Tensor:
        z = self.layers(self.features(view)).squeeze(2)
        w = view.resource.to(z.dtype).unsqueeze(1) / view.active.shape[1] * torch.sigmoid(z)
        return w if world.differentiable else torch.round(w)


class HarvestTraining(nn.Module):
    """The `CalibrationProblem` of a learned harvester (module docstring)."""

    def __init__(self, policy: HarvestNetwork, *, n_groups: int = 1, collapse_weight: float = 10.0,
                 collapse_temperature: float = 1.0):
        super().__init__()
        if not collapse_weight >= 0:
            raise ValueError(f"collapse_weight must be >= 0 (the penalty on the collapse probability), got "
                             f"{collapse_weight}")
        self.policy = policy
        self.collapse_weight = float(collapse_weight)
        self.model = Commons(n_groups, policy, policy.rules, collapse_temperature=collapse_temperature)

    @property
    def loss_weights(self) -> Mapping[str, float]:
        return {"gain": 1.0, "collapse": self.collapse_weight}

    def loss_terms(self, seed: int, *, differentiable: bool = True) -> Mapping[str, Tensor]:
        rules = self.policy.rules
        final = self.model.run(rules.months, seed=seed, differentiable=differentiable, progress=False).final_world
        sustainable_gain = rules.months * GOVSIM_F0 / rules.agents_per_group
        return {"gain": -final.agents.gain.mean() / sustainable_gain,
                "collapse": 1 - final.table(GROUPS).alive.to(final.agents.gain.dtype).mean()}


def train_policy(rules: CommonsRules | None = None, *, iterations: int = 150, learning_rate: float = 0.05,
                 learning_rate_decay: float = 0.98,
                 collapse_weight: float = 10.0, hidden: int = 16, seed: int = 0) -> tuple[HarvestNetwork, pd.DataFrame]:
    """A `HarvestNetwork` trained by `populace.calibrate.fit` (Adam) on `HarvestTraining`; returns it and the fit's
    history (one row per iteration: loss, gain, collapse, ...)."""
    policy = HarvestNetwork(rules, hidden=hidden, seed=seed)
    problem = HarvestTraining(policy, collapse_weight=collapse_weight)
    history = fit(problem, FitSettings(iterations=iterations, learning_rate=learning_rate, seed=seed,
                                       learning_rate_decay=learning_rate_decay,
                                       checkpoint_every=iterations), progress=False)
    return policy, history
