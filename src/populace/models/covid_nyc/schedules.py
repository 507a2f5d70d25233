r"""COVID-NYC's time-varying calibrated quantities: weekly isolation propensity per borough, the calibration network.

Two are calibrated per week: the transmission rate beta(w) (`Transmission.beta_by_week`, citywide, [W]) and an
isolation propensity o(w, r) per borough (`WeeklyIsolationDecisions.isolate_logit_by_week`, [W, R], a shift of
the log-odds of isolating). Either they are free parameters (one `nn.Parameter` each, the model's own), or both are
the outputs of a `CalibrationNetwork` whose weights are learned instead: `attach_network` turns the two model
parameters into functions of the network (`torch.nn.utils.parametrize`), so the simulator and its gradients are
the same either way.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from populace.behavior.interface import Situation
from populace.core.clock import DAYS_PER_WEEK
from populace.core.world import World
from populace.models.covid_nyc.decisions import ISOLATE, HeuristicDecisions
from populace.models.covid_nyc.policy import PolicySchedule

FEATURES = ("week", "log_recent_cases_per_100k", "lockdown", "work_from_home_fraction")
"""Inputs of the calibration network for week w and borough r, in this order (see `network_features`)."""


class WeeklyIsolationDecisions(HeuristicDecisions):
    r"""`HeuristicDecisions` with a calibrated shift of the isolation log-odds per week and region.

    p_iso_i(w) = sigmoid(logit(p_heuristic_i) + o[min(w, W - 1), r_i]): o = `isolate_logit_by_week` [W, R]
    (nn.Parameter, 0 by default: the plain heuristic), w = step // 7 the week of the run, r_i the agent's region
    (column `region`). Past the last week the last week's shift holds. Going to work is the heuristic's.
    """

    def __init__(self, n_weeks: int, n_regions: int, **heuristic: object):
        super().__init__(**heuristic)  # type: ignore[arg-type]
        if not (isinstance(n_weeks, int) and n_weeks >= 1 and isinstance(n_regions, int) and n_regions >= 1):
            raise ValueError(f"n_weeks and n_regions must be ints >= 1, got {n_weeks!r} and {n_regions!r}")
        self.isolate_logit_by_week = nn.Parameter(torch.zeros(n_weeks, n_regions))

    def probability_of_yes(self, decision: str, world: World, situation: Situation) -> Tensor:
        p = super().probability_of_yes(decision, world, situation)
        if decision != ISOLATE:
            return p
        shift = self.isolate_logit_by_week  # [W, R]
        week = min(world.step // DAYS_PER_WEEK, shift.shape[0] - 1)
        region = world.agents.region.long()  # [N]
        if int(region.max()) >= shift.shape[1]:
            raise ValueError(f"agents have region codes up to {int(region.max())} but isolate_logit_by_week has "
                             f"{shift.shape[1]} regions; build it with n_regions = the number of regions")
        return torch.sigmoid(torch.logit(p, eps=1e-6) + shift[week][region])


def network_features(start: dt.date, n_weeks: int, observed_cases: Tensor, schedule: PolicySchedule, *,
                     residents_by_region: Sequence[float], last_observed_day: int | None = None) -> Tensor:
    """Features [W, R, 4] of the calibration network, in the order of `FEATURES`:

    week w / W; log(1 + cases per 100,000 residents of region r reported in the week before week w) (DOHMH,
    city scale; 0 for the first week; frozen at the last full week before `last_observed_day` so a held-out
    window never sees its own data); the lockdown intensity and work-from-home fraction of the orders in force on
    the first day of week w. `observed_cases` is [T, R] from day 0 of the run.
    """
    n_regions = observed_cases.shape[1]
    if len(residents_by_region) != n_regions:
        raise ValueError(f"residents_by_region needs {n_regions} values (one per region of observed_cases), got "
                         f"{len(residents_by_region)}")
    residents = torch.tensor([float(x) for x in residents_by_region], dtype=torch.float64).clamp(min=1)
    last = observed_cases.shape[0] if last_observed_day is None else min(last_observed_day, observed_cases.shape[0])
    rows = []
    for w in range(n_weeks):
        end = min(w * DAYS_PER_WEEK, last)
        begin = max(end - DAYS_PER_WEEK, 0)
        weekly = observed_cases[begin:end].double().sum(0) if end > begin else torch.zeros(n_regions)
        state = schedule.state_on(start + dt.timedelta(days=w * DAYS_PER_WEEK))
        rows.append(torch.stack([torch.full((n_regions,), w / n_weeks, dtype=torch.float64),
                                 torch.log1p(1e5 * weekly / residents),
                                 torch.full((n_regions,), state.lockdown, dtype=torch.float64),
                                 torch.full((n_regions,), state.work_from_home_fraction, dtype=torch.float64)], -1))
    return torch.stack(rows).float()  # [W, R, 4]


class CalibrationNetwork(nn.Module):
    r"""An MLP from week-and-borough features to the weekly log beta and the isolation shifts.

    h(w, r) = MLP(x(w, r)) in R^2 (2 hidden layers of `hidden` units, tanh); then
    log_beta(w) = log_beta_0 + sum_r pi_r h_0(w, r) (pi: each borough's share of residents; beta is citywide),
    o(w, r) = h_1(w, r). Features x: `network_features`, a buffer [W, R, F]. The last layer starts small (std
    0.01), so the network starts near beta_0 and no shift, with every weight reached by gradients.
    """

    def __init__(self, features: Tensor, *, log_beta_0: float, resident_share_by_region: Sequence[float],
                 hidden: int = 16, seed: int = 0):
        super().__init__()
        if features.dim() != 3:
            raise ValueError(f"features must be [weeks, regions, features], got {list(features.shape)}")
        share = torch.tensor([float(x) for x in resident_share_by_region])
        if share.shape != (features.shape[1],) or not math.isclose(float(share.sum()), 1, abs_tol=1e-4):
            raise ValueError(f"resident_share_by_region needs {features.shape[1]} shares summing to 1, got "
                             f"{share.tolist()}")
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("features", features.float())
        self.register_buffer("resident_share", share)
        self.log_beta_0 = float(log_beta_0)
        self.layers = nn.Sequential(nn.Linear(features.shape[2], hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                                    nn.Tanh(), nn.Linear(hidden, 2))
        with torch.no_grad():
            for layer in self.layers:
                if isinstance(layer, nn.Linear):
                    bound = 1 / math.sqrt(layer.in_features)
                    layer.weight.uniform_(-bound, bound, generator=generator)
                    layer.bias.uniform_(-bound, bound, generator=generator)
            self.layers[-1].weight.normal_(0, 0.01, generator=generator)
            self.layers[-1].bias.zero_()

    def forward(self) -> tuple[Tensor, Tensor]:
        """(log_beta [W], isolation shifts [W, R])."""
        h = self.layers(self.features)  # [W, R, 2]
        return self.log_beta_0 + h[..., 0] @ self.resident_share, h[..., 1]


class _Output(nn.Module):
    """Parametrization: replace a model parameter by `natural(output index)` of the network (input ignored)."""

    def __init__(self, network: CalibrationNetwork, index: int, natural: Callable[[Tensor], Tensor] | None = None):
        super().__init__()
        self.network = network
        self.index = index
        self.natural = natural

    def forward(self, original: Tensor) -> Tensor:
        output = self.network()[self.index].to(original.dtype)
        return output if self.natural is None else self.natural(output)


def attach_network(model: nn.Module, network: CalibrationNetwork) -> None:
    """Make `model.transmission.beta_by_week` (exp of the network's log beta) and its isolation shifts outputs of
    `network` (weights then learned).

    The model's behaviour must use `WeeklyIsolationDecisions` with as many weeks and regions as the network.
    """
    decisions = model.behaviour.decision_model
    if not isinstance(decisions, WeeklyIsolationDecisions):
        raise TypeError(f"the model's decision model is {type(decisions).__name__}; the calibration network drives "
                        "WeeklyIsolationDecisions (build the model with "
                        "populace.models.covid_nyc.calibration.calibration_model)")
    weeks, regions = network.features.shape[:2]
    if model.transmission.beta_by_week.shape != (weeks,) or decisions.isolate_logit_by_week.shape != (weeks, regions):
        raise ValueError(f"the network has {weeks} weeks x {regions} regions but the model has "
                         f"beta_by_week {list(model.transmission.beta_by_week.shape)} and isolate_logit_by_week "
                         f"{list(decisions.isolate_logit_by_week.shape)}")
    beta = _Output(network, 0, torch.exp)  # chained after Positive: exp(network log beta), the input ignored
    parametrize.register_parametrization(model.transmission, "beta_by_week", beta, unsafe=True)
    parametrize.register_parametrization(decisions, "isolate_logit_by_week", _Output(network, 1), unsafe=True)


def network_outputs(model: nn.Module) -> dict[str, Tensor]:
    """The tensors of `model` that a `CalibrationNetwork` computes (after `attach_network`): the network's output,
    keyed as a model without the network stores it (`state_dict` key: the tensor's own name, or its
    parametrization's `original` where the network replaced a later step); empty without a network."""
    out = {}
    for path, module in model.named_modules():
        if not parametrize.is_parametrized(module):
            continue
        for name, chain in module.parametrizations.items():
            steps = list(chain)
            for k, step in enumerate(steps):
                if isinstance(step, _Output):
                    key = name if k == 0 else f"parametrizations.{name}.original"
                    out[f"{path}.{key}" if path else key] = step.network()[step.index].detach().clone()
    return out
