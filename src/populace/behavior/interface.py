r"""The behaviour interface: a `DecisionModel` gives, per agent, the probability of each option of a named decision.

A decision (any name a model knows, e.g. "isolate" or "harvest") offers K >= 2 options in a fixed order (for a
yes/no decision `YES_NO`, K = 2) and is asked of every agent at once. The caller (a model's behaviour substep) passes
the world, for the agents' fixed attributes (age, region, industry, ...), and the *situation*: named per-agent
features of what the agent sees this time ([N] tensors, e.g. its symptoms and its region's recent cases; each model
defines its own). The decision model returns probabilities P [N, K], each row on the simplex; `decide` checks them
and draws each agent's option by inverse CDF,

    x_i = min{k : u_i < c_ik},    c_ik = P_i0 + ... + P_ik,

with u_i from the engine's counter-based RNG, keyed on (seed, step, "decision/<name>", agent id), so the same seed
gives the same decisions in any agent order and in both modes:

- fast: x int64 [N], the option indices, no autograd graph;
- differentiable: x float [N, K], the one-hot of the same options with the straight-through gradient dx/dP = I
  (`populace.sampling.categorical`), so gradients reach the decision model's parameters.

For K = 2 the inverse CDF is x_i = 0 iff u_i < P_i0: the Bernoulli draw 1[u < p_yes] of a yes/no decision, which
`decide` computes as such (`World.bernoulli` on P[:, 0], dx_0/dP_0 = 1), so it does not depend on the rounding of
P_0 + P_1; other K go through `World.categorical`. `chosen(x, k)` reads whether each agent took option k from
either mode's draws.

Implementations: `LLMDecisions` (`populace.behavior.llm_decisions`, any options, from a language model) and a
model's own (e.g. `populace.models.covid_nyc.decisions.HeuristicDecisions`). Decisions are made weekly by
convention, or every step when a step is a week or longer: `is_decision_step`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from populace import sampling
from populace.behavior.archetypes import LevelValues, take_keys
from populace.core.clock import DAYS_PER_WEEK, StepLength
from populace.core.rng import FLOAT32_UNIFORMS, float32_uniform
from populace.core.world import World

YES_NO = ("yes", "no")
"""The options of a yes/no decision, in order: option 0 is "yes"."""


Situation = Mapping[str, Tensor]
"""Feature name -> per-agent values [N] (float or bool)."""


class DecisionError(ValueError):
    """A decision model was asked something it cannot answer, or answered with a bad probability tensor."""


@runtime_checkable
class DecisionModel(Protocol):
    """What a behaviour backend provides: per agent, the probability of each option of each decision it knows.

    Attributes:
        decisions: {decision name: its options, in order}, e.g. {"isolate": ("yes", "no"),
            "harvest": ("low", "medium", "high")}.
    """

    decisions: Mapping[str, tuple[str, ...]]

    def probabilities(self, decision: str, world: World, situation: Situation) -> Tensor:
        """P [N, K] float, rows in [0, 1] summing to 1: P_ik, the probability that agent i picks option k of
        `decision` (K = len(decisions[decision])) in `situation`."""
        ...


def yes_no(p_yes: Tensor) -> Tensor:
    """The probabilities [N, 2] of a yes/no decision (`YES_NO`) from p_yes [N]: rows (p_yes, 1 - p_yes).

    Each row sums to exactly 1 in floating point (1 - p is exact for p >= 1/2, and otherwise p + fl(1 - p) rounds to
    1), so the inverse-CDF draw of option 0 is exactly 1[u < p_yes].
    """
    return torch.stack([p_yes, 1 - p_yes], dim=-1)


def is_decision_step(world: World, *, day_of_week: int = 0) -> bool:
    """Whether weekly decisions are made at the world's step, by its `step_length`: with day steps on the steps t with
    t % 7 == day_of_week (day 0 by default), so once a week; with steps of a week, a month or a year at every step
    (a decision lasts one step)."""
    if day_of_week not in range(DAYS_PER_WEEK):
        raise ValueError(f"day_of_week must be an int in 0..{DAYS_PER_WEEK - 1}, got {day_of_week!r}")
    if world.step_length is StepLength.DAY:
        return world.step % DAYS_PER_WEEK == day_of_week
    return True


def decision_stream(decision: str) -> str:
    """The counter-based RNG stream of a decision's draws."""
    return f"decision/{decision}"


def options_of(model: DecisionModel, decision: str) -> tuple[str, ...]:
    """The options of `decision` in `model`; a `DecisionError` listing the decisions it makes if it has none."""
    if decision not in model.decisions:
        raise DecisionError(f"{type(model).__name__} does not make the decision {decision!r} (it makes: "
                            f"{', '.join(model.decisions)})")
    options = tuple(model.decisions[decision])
    if len(options) < 2:
        raise DecisionError(f"{type(model).__name__}'s decision {decision!r} needs at least two options, got "
                            f"{list(options)}; a yes/no decision has populace.behavior.YES_NO")
    return options


def check_situation(situation: Situation, n_agents: int) -> None:
    """Refuse a situation unless it maps names to float or bool tensors of shape [N]."""
    if not isinstance(situation, Mapping):
        raise TypeError(f"situation must be a mapping of feature name -> [N] tensor, got {type(situation).__name__}")
    for name, value in situation.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"situation feature {name!r} must be a tensor of shape [{n_agents}], got "
                            f"{type(value).__name__}")
        if value.shape != (n_agents,):
            raise ValueError(f"situation feature {name!r} must have shape [{n_agents}] (one value per agent), got "
                             f"{list(value.shape)}; broadcast a shared value with value.expand({n_agents})")
        if not (value.is_floating_point() or value.dtype == torch.bool):
            raise TypeError(f"situation feature {name!r} must be float or bool, got {value.dtype}")


def check_probabilities(decision: str, probs: object, options: Sequence[str], n_agents: int) -> Tensor:
    """probs itself when it is a float tensor [N, K] (K = len(options)) with values in [0, 1] and rows summing to 1
    within sqrt(eps) of its dtype; a `DecisionError` naming the fix if not."""
    k = len(options)
    if not isinstance(probs, Tensor) or not probs.is_floating_point():
        what = probs.dtype if isinstance(probs, Tensor) else type(probs).__name__
        raise DecisionError(f"the probabilities of {decision!r} must be a float tensor [{n_agents}, {k}], got {what}")
    if probs.shape != (n_agents, k):
        raise DecisionError(f"the probabilities of {decision!r} must have shape [{n_agents}, {k}] (one row per agent, "
                            f"one column per option of {list(options)}), got {list(probs.shape)}")
    values = probs.detach()
    tolerance = math.sqrt(torch.finfo(probs.dtype).eps)
    total = values.sum(-1)  # [N]
    if values.numel() and _within(values, 0, 1) and _within(total, 1 - tolerance, 1 + tolerance):
        return probs  # the common case, checked in two passes; the messages below find what is wrong
    ok = (values >= 0) & (values <= 1)  # False for NaN
    if not bool(ok.all()):
        bad = values[~ok]
        raise DecisionError(f"the probabilities of {decision!r} must lie in [0, 1]; {bad.numel()} of {probs.numel()} "
                            f"values do not, e.g. {bad[:3].tolist()}. Build them with logits.softmax(-1), or "
                            f"populace.behavior.yes_no(torch.sigmoid(logit)) for a yes/no decision")
    off = (total - 1).abs() > tolerance
    if bool(off.any()):
        raise DecisionError(f"the probabilities of {decision!r} must sum to 1 over the options {list(options)} "
                            f"(within {tolerance:.2g}); {int(off.sum())} of {n_agents} rows do not, e.g. sums "
                            f"{total[off][:3].tolist()}. Normalise them: probs / probs.sum(-1, keepdim=True)")
    return probs


def _within(x: Tensor, low: float, high: float) -> bool:
    """Whether every value of x (non-empty) lies in [low, high], in one pass (False if any is NaN)."""
    smallest, largest = torch.aminmax(x)
    return bool(smallest >= low) and bool(largest <= high)


def draw_options(world: World, stream: str, probs: Tensor) -> Tensor:
    """The inverse-CDF option of each agent from probs [N, K] on this step's uniforms of `stream`
    (`World.categorical`): int64 [N] in fast mode, the straight-through one-hot float [N, K] in differentiable mode.
    K = 2: option 0 iff u < P_0, the Bernoulli draw of `World.bernoulli` (dx_0/dP_0 = 1)."""
    if probs.shape[-1] != 2:
        return world.categorical(stream, probs)
    first = world.bernoulli(stream, probs[:, 0])  # [N]: bool | float 0/1
    return torch.stack([first, 1 - first], dim=-1) if first.is_floating_point() else (~first).long()


BIN_BITS = 8
"""`draw_from_table` on the CPU reads each agent's option from its row's 2**8 bins of u first; only agents whose bin
holds a threshold (about (K - 1) / 2**8 of them) are compared with the thresholds."""
SPLIT_BIN = 255
"""The option read from a bin that holds a threshold (so K <= 255 options for the bins)."""


def option_thresholds(probs: Tensor) -> Tensor:
    """t [R, K - 1] float32 for probability rows probs [R, K]: t_rk is the smallest float32 uniform u (the values
    `World.uniform` gives, `populace.core.rng.float32_uniform`) with which `draw_options` picks an option after k
    from row r, inf where none does; so the option drawn from row r with u is #{k : u >= t_rk}, exactly."""
    return _uniforms_at(threshold_steps(probs))


def threshold_steps(probs: Tensor) -> Tensor:
    """`option_thresholds` as the integers m of u = (m + 0.5) 2**-23 (int64 [R, K - 1]; 2**23 where no u picks a
    later option).

    Found by bisection over the 2**23 values of u, 24 halvings on the comparisons `draw_options` makes (for K = 2
    u >= P_0; else the inverse CDF's c_k <= min(u c_{K-1}, below c_{K-1}) in the same dtype), both monotone in u.
    """
    probs = probs.detach()
    rows, k = probs.shape
    if k == 2:
        first = probs[:, :1]

        def later(u: Tensor) -> Tensor:
            return ~(u < first)  # `World.bernoulli`: option 0 iff u < P_0
    else:
        dtype = torch.promote_types(probs.dtype, torch.float32)
        cdf = probs.to(dtype).cumsum(-1)  # as `populace.sampling.categorical` computes it
        total = cdf[:, -1:]
        below = torch.nextafter(total, torch.zeros_like(total))

        def later(u: Tensor) -> Tensor:
            return cdf[:, :-1] <= torch.minimum(u.to(dtype) * total, below)

    low = torch.zeros((rows, k - 1), dtype=torch.int64, device=probs.device)  # no u below low picks a later option
    high = torch.full_like(low, FLOAT32_UNIFORMS)  # every u from high on does (FLOAT32_UNIFORMS: none does)
    for _ in range(FLOAT32_UNIFORMS.bit_length()):
        searching = low < high
        mid = (low + high) // 2
        picks = later(float32_uniform(mid.clamp(max=FLOAT32_UNIFORMS - 1)))
        high = torch.where(searching & picks, mid, high)
        low = torch.where(searching & ~picks, mid + 1, low)
    return high


def bin_options(steps: Tensor) -> Tensor:
    """uint8 [R, 2**BIN_BITS]: the option drawn from row r by every u of bin b (the u with m >> (23 - BIN_BITS)
    = b), from the rows' `threshold_steps` [R, K - 1]; `SPLIT_BIN` where a threshold falls inside the bin."""
    width = FLOAT32_UNIFORMS >> BIN_BITS
    start = torch.arange(1 << BIN_BITS, device=steps.device) * width  # the bin's first m
    t = steps.unsqueeze(-1)  # [R, K - 1, 1]
    option = (t <= start).sum(dim=1)  # [R, bins]
    split = ((t > start) & (t < start + width)).any(dim=1)
    return torch.where(split, SPLIT_BIN, option).to(torch.uint8)


def draw_from_table(model: DecisionModel, decision: str, world: World, table: Tensor, keys: LevelValues,
                    rows: Tensor | None = None) -> Tensor:
    """The options `decide` draws when agent i's probabilities are row keys_i of table [R, K], without building
    the [N, K] rows: int64 [N] (fast), the straight-through one-hot [N, K] (differentiable).

    `keys` are `LevelValues` (e.g. `LLMDecisions.pair_keys`) in `rows` (int64, the rows any agent has; default
    all). In fast mode each agent's uniform is compared with its row's `option_thresholds`; on the CPU (NumPy
    keys) the option is first read from the row's bins (`bin_options`: one lookup), and only agents whose bin
    holds a threshold are compared. In differentiable mode and in a stochastic-derivative run the rows are taken
    and drawn by `draw_options`. Either way the options are those of `decide` with P = table[keys]. The table is
    checked as `check_probabilities` checks P.
    """
    options = options_of(model, decision)
    check_probabilities(decision, table, options, table.shape[0])
    n, stream = world.agents.n, decision_stream(decision)
    if world.differentiable or sampling.active_coupling() is not None:
        return draw_options(world, stream, take_keys(table, keys, n))
    used = torch.arange(table.shape[0], device=table.device) if rows is None else rows.to(table.device)
    steps = torch.full((table.shape[0], len(options) - 1), FLOAT32_UNIFORMS, dtype=torch.int64, device=table.device)
    steps[used] = threshold_steps(table[used])
    thresholds = _uniforms_at(steps)
    u = world.uniform(stream)  # [N] float32
    if isinstance(keys, int):
        return (u.unsqueeze(1) >= thresholds[keys]).sum(dim=1)
    if not isinstance(keys, np.ndarray):
        return (u.unsqueeze(1) >= thresholds.index_select(0, keys.to(torch.int64))).sum(dim=1)
    values, columns = u.numpy(), thresholds.T.contiguous().numpy()  # [K - 1, R]

    def count_above(at: np.ndarray | slice) -> np.ndarray:
        drawn = np.zeros(values[at].shape, dtype=np.uint8)
        for column in columns:
            drawn += values[at] >= column[keys[at]]
        return drawn

    if len(options) > SPLIT_BIN:
        return torch.from_numpy(count_above(slice(None))).to(torch.int64)
    bins = np.empty((table.shape[0], 1 << BIN_BITS), dtype=np.uint8)  # rows no agent has stay unwritten
    bins[used.cpu().numpy()] = bin_options(steps[used]).cpu().numpy()
    index = keys.astype(np.int32)
    index <<= BIN_BITS
    index += (values * (1 << BIN_BITS)).astype(np.int32)  # the bin: m >> (23 - BIN_BITS), exactly
    drawn = bins.reshape(-1)[index]
    split = np.flatnonzero(drawn == SPLIT_BIN)
    drawn[split] = count_above(split)
    return torch.from_numpy(drawn).to(torch.int64)


def _uniforms_at(steps: Tensor) -> Tensor:
    """The float32 uniforms of `threshold_steps` (inf for 2**23)."""
    found = float32_uniform(steps.clamp(max=FLOAT32_UNIFORMS - 1))
    return torch.where(steps < FLOAT32_UNIFORMS, found, torch.full_like(found, math.inf))


def chosen(draws: Tensor, option: int) -> Tensor:
    """Whether each agent drew option `option`: bool [N] from fast-mode indices (int64 [N]), float [N] with the
    straight-through gradient from differentiable-mode one-hot draws ([N, K])."""
    return draws[:, option] if draws.is_floating_point() else draws == option


def decide(model: DecisionModel, decision: str, world: World, situation: Situation) -> Tensor:
    """Ask `model` for P [N, K] and draw each agent's option: int64 [N] (fast) or straight-through one-hot [N, K].

    Raises:
        DecisionError: the model does not know `decision`, or returns a bad probability tensor.
        TypeError, ValueError: a situation feature is not a float or bool tensor [N].
    """
    options = options_of(model, decision)
    n = world.agents.n
    check_situation(situation, n)
    probs = check_probabilities(decision, model.probabilities(decision, world, situation), options, n)
    return draw_options(world, decision_stream(decision), probs)
