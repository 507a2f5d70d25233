r"""The heuristic's action weights fitted by gradient to a cascade-size curve: `CascadeCalibration`, a
`populace.calibrate.CalibrationProblem` for `populace.calibrate.fit`.

Loss of one seeded differentiable run of T steps: L = mean_t (c(t) - c*(t))^2, with c(t) the seed cascades' mean
size after step t (`SocialMedia`'s observable `cascade_size`; its gradient comes through the straight-through
one-hot of every repost decision) and c* the target curve [T + 1]. What is trained is named by `train` (names of
`model.named_parameters()`, e.g. "policy.bias.repost"); every other parameter is frozen with `requires_grad_`.
`synthetic_target` makes c* from a run with known weights, the check that a fit recovers them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from populace.models.social.model import SocialMedia


class CascadeCalibration(nn.Module):
    """Fit `train` (parameter names of `model`) so its cascade-size curve meets `target` [steps + 1]."""

    def __init__(self, model: SocialMedia, target: Tensor, *, train: Sequence[str] = ("policy.bias.repost",)):
        super().__init__()
        names = dict(model.named_parameters())
        unknown = sorted(set(train) - set(names))
        if unknown:
            raise ValueError(f"train names {unknown}, which are not parameters of the model (they are: "
                             f"{', '.join(names)})")
        target = torch.as_tensor(target, dtype=torch.float32)
        if target.dim() != 1 or target.numel() < 2 or not bool(torch.isfinite(target).all()):
            raise ValueError(f"target must be a finite cascade-size curve [steps + 1] (steps >= 1), got "
                             f"{list(target.shape)}")
        for name, parameter in names.items():
            parameter.requires_grad_(name in train)
        self.model = model
        self.register_buffer("target", target)

    @property
    def steps(self) -> int:
        return self.target.numel() - 1

    @property
    def loss_weights(self) -> Mapping[str, float]:
        return {}

    def loss_terms(self, seed: int, *, differentiable: bool = True) -> dict[str, Tensor]:
        curve = self.model.run(self.steps, seed=seed, differentiable=differentiable, progress=False)["cascade_size"]
        return {"cascade_size": ((curve - self.target) ** 2).mean()}


def synthetic_target(model: SocialMedia, steps: int, seeds: Sequence[int]) -> Tensor:
    """c* [steps + 1]: the mean over `seeds` of the model's cascade-size curve in fast mode."""
    curves = [model.run(steps, seed=seed, progress=False)["cascade_size"] for seed in seeds]
    return torch.stack(curves).mean(0)
