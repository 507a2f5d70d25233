r"""Unbiased derivatives of a stochastic, discrete simulation: stochastic derivatives with pruning.

`stochastic_derivative(model, loss, steps, seed=..., wrt=...)` estimates d E[loss(run)] / d theta along one
direction of the model's parameters, without the bias of a straight-through surrogate (Arya, Schauer, Schäfer &
Rackauckas, "Automatic Differentiation of Programs with Discrete Randomness", NeurIPS 2022). It runs:

- the primal path: the ordinary fast-mode run, its parameters forward-mode dual numbers theta + theta' eps, so each
  Bernoulli draw knows how its probability moves (p') and the loss its continuous tangent;
- `paths` alternative paths, stepped in lockstep with the same counter-based uniforms: each is the primal run with
  one draw flipped somewhere in the past, chosen by weighted reservoir pruning (`populace.core.coupling`), and
  carries a weight w. The flipped agent's consequences (the extra infections it causes, the ones it prevents)
  unfold by the model's own rules.

The estimate is loss'_continuous + mean over paths of w (loss(alternative) - loss(primal)); its mean is the exact
derivative of the expected loss (for the draws the model takes through `World.bernoulli`). Cost: one fast run with
forward-mode tangents plus one fast run per path, with no autograd graph (memory of `paths + 1` worlds); one
direction per run, so a gradient over P parameters costs P runs (`stochastic_gradient`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor, nn

from populace.core.coupling import DrawCoupling, Mode, Reservoir, coupled
from populace.core.model import Model
from populace.core.progress import progress_bar
from populace.core.runner import check_parameters
from populace.core.trajectory import Trajectory
from populace.core.world import World

Loss = Callable[[Trajectory], Tensor]
"""A scalar loss of a run's trajectory (e.g. the final size, or a distance to targets)."""


@dataclasses.dataclass(frozen=True)
class StochasticDerivative:
    """One run's estimate of d E[loss] / d theta along the chosen direction.

    Attributes:
        value: the loss of the primal run.
        derivative: the estimate: `continuous` + the mean of `jumps`.
        continuous: the loss's derivative through its continuous dependence on theta (discrete outcomes held).
        jumps: each alternative path's weight x (its loss - the primal loss).
    """

    value: float
    derivative: float
    continuous: float
    jumps: tuple[float, ...]


@dataclasses.dataclass
class _Path:
    """An alternative path: its world and trajectory (None while it is still the primal, weight 0), its pruning."""

    reservoir: Reservoir
    world: World | None = None
    trajectory: Trajectory | None = None


def stochastic_derivative(model: Model, loss: Loss, steps: int, *, seed: int, wrt: str | Mapping[str, Tensor],
                          paths: int = 1, step_exponent: float = 0.5, world: World | None = None,
                          progress: bool | None = None) -> StochasticDerivative:
    """Estimate d E[loss(model.run(steps, seed))] / d theta along `wrt` (module docstring).

    Args:
        model: the model; its draws that depend on theta must go through `World.bernoulli`.
        loss: the scalar loss of a trajectory.
        steps: steps to run.
        seed: the run's seed (the primal run is `model.run(steps, seed=seed)` exactly).
        wrt: a name of `model.named_parameters()` holding one number (direction 1), or {name: direction tensor of
            the parameter's shape} for a directional derivative.
        paths: alternative paths to average over (variance falls as 1 / paths, cost grows by one fast run each).
        step_exponent: how evenly the pruning samples the steps (`populace.core.coupling.Reservoir`): 1 picks
            flips in proportion to their weights, 0 picks each step alike; any value in [0, 1] is unbiased.
        world: start from this fast-mode world instead of `model.initial_world(seed=seed)`.
        progress: show a progress bar; None shows it only on an interactive terminal.
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not isinstance(paths, int) or paths < 1:
        raise ValueError(f"paths must be an int >= 1, got {paths!r}")
    if world is not None and world.differentiable:
        raise ValueError("a stochastic-derivative run steps a fast-mode world; build it with differentiable=False")
    check_parameters(model)
    directions = parameter_directions(model, wrt)
    with torch.no_grad(), fwad.dual_level():
        duals = {name: fwad.make_dual(tensor.detach(), directions[name])
                 for name, tensor in model.named_parameters() if name in directions}
        with _parameters_replaced(model, duals):
            world = model.initial_world(seed=seed) if world is None else world
            primal = Trajectory(labels=model.observable_labels, start_date=world.start_date,
                                step_length=world.step_length)
            primal.record(world.step, model.observe(world))
        alternatives = [_Path(Reservoir(seed * 1_000_003 + k, step_exponent)) for k in range(paths)]
        with progress_bar(steps, desc=f"{type(model).__name__} stochastic derivative",
                          unit=world.step_length.value, progress=progress, leave=False) as bar:
            for _ in range(steps):
                start, recorded = world, len(primal)
                coupling = DrawCoupling(Mode.PRIMAL)
                with _parameters_replaced(model, duals), coupled(coupling):
                    world = model(start).advance()
                    primal.record(world.step, model.observe(world))
                for path in alternatives:
                    _step_alternative(model, path, coupling.weights, start, primal, recorded)
                bar.update(1)
        with _parameters_replaced(model, duals):
            primal_loss = loss(primal)
        value, tangent = fwad.unpack_dual(primal_loss)
        continuous = 0.0 if tangent is None else float(tangent)
        jumps = tuple(0.0 if path.trajectory is None
                      else path.reservoir.weight * (_value(loss(path.trajectory)) - float(value))
                      for path in alternatives)
    return StochasticDerivative(value=float(value), derivative=continuous + sum(jumps) / paths,
                                continuous=continuous, jumps=jumps)


def stochastic_gradient(model: Model, loss: Loss, steps: int, *, seed: int, names: list[str] | None = None,
                        paths: int = 1) -> dict[str, Tensor]:
    """The stochastic-derivative gradient of E[loss] for each parameter named (default: all with requires_grad),
    one run per number: {name: tensor of the parameter's shape}. For models with few calibrated numbers."""
    parameters = dict(model.named_parameters())
    names = [n for n, p in parameters.items() if p.requires_grad] if names is None else names
    gradients = {}
    for name in names:
        gradient = torch.zeros_like(parameters[name], dtype=torch.float64)
        for index in range(gradient.numel()):
            direction = torch.zeros_like(parameters[name]).view(-1)
            direction[index] = 1
            estimate = stochastic_derivative(model, loss, steps, seed=seed, paths=paths,
                                             wrt={name: direction.view_as(parameters[name])})
            gradient.view(-1)[index] = estimate.derivative
        gradients[name] = gradient
    return gradients


def _step_alternative(model: Model, path: _Path, weights: list[Tensor | None], start: World, primal: Trajectory,
                      recorded: int) -> None:
    """Advance one alternative path by the step the primal just took from `start` (after `recorded` records): keep
    following its own world, or restart from `start` with one of the step's draws flipped (pruning)."""
    flip = path.reservoir.choose(weights)
    if flip is None and path.world is None:
        return  # no alternative yet: the path is still the primal
    if flip is None:
        coupling = DrawCoupling(Mode.FOLLOW)
        origin = path.world
    else:
        coupling = DrawCoupling(Mode.REPLAY, flip_call=flip.call, flip_position=flip.position)
        origin, path.trajectory = start, primal.head(recorded)
    with coupled(coupling):
        path.world = model(origin).advance()
        path.trajectory.record(path.world.step, model.observe(path.world))  # type: ignore[union-attr]


def _value(loss: Tensor) -> float:
    """The value of a loss that may be a dual number."""
    return float(fwad.unpack_dual(loss).primal)


def parameter_directions(model: nn.Module, wrt: str | Mapping[str, Tensor]) -> dict[str, Tensor]:
    """{parameter name: tangent} from `wrt`, checked against the model's parameters."""
    parameters = dict(model.named_parameters())
    if isinstance(wrt, str):
        if wrt not in parameters:
            raise KeyError(f"{type(model).__name__} has no parameter {wrt!r}; it has: {', '.join(parameters)}")
        if parameters[wrt].numel() != 1:
            raise ValueError(f"parameter {wrt!r} holds {parameters[wrt].numel()} numbers; pass wrt={{name: "
                             "direction}} with a direction of its shape")
        return {wrt: torch.ones_like(parameters[wrt])}
    directions = {}
    for name, direction in wrt.items():
        if name not in parameters:
            raise KeyError(f"{type(model).__name__} has no parameter {name!r}; it has: {', '.join(parameters)}")
        direction = torch.as_tensor(direction, dtype=parameters[name].dtype)
        if direction.shape != parameters[name].shape:
            raise ValueError(f"the direction for {name!r} has shape {list(direction.shape)}, the parameter "
                             f"{list(parameters[name].shape)}")
        directions[name] = direction
    return directions


@contextlib.contextmanager
def _parameters_replaced(model: nn.Module, tensors: Mapping[str, Tensor]) -> Iterator[None]:
    """Let the model read `tensors` (e.g. dual numbers) in place of its parameters of those names, inside the block."""
    saved = []
    for name, tensor in tensors.items():
        owner, _, leaf = name.rpartition(".")
        module = model.get_submodule(owner)
        saved.append((module, leaf, module._parameters[leaf]))
        module._parameters[leaf] = tensor  # type: ignore[assignment]
    try:
        yield
    finally:
        for module, leaf, parameter in saved:
            module._parameters[leaf] = parameter
