r"""What a fit needs from a model: `CalibrationProblem`, a module with named loss terms for one seeded run.

A problem is any `nn.Module` with

- `loss_terms(seed, *, differentiable=True) -> {name: scalar tensor}`: the loss of one run of the simulator with
  `seed`, as named terms (e.g. {"cases": ..., "deaths": ...}); the names become columns of the fit's history;
- `loss_weights -> {name: weight}`: the weight of each term in the total (a term it leaves out weighs 1; a name
  that is not a term of the run is an error, so a misspelt weight is not silently ignored), so

      L = sum_k w_k L_k   (`total_loss`).

What is trained is chosen by `requires_grad` over `named_parameters()` (`trainable`): a problem keeps a quantity at
its value by `parameter.requires_grad_(False)` (or `module.requires_grad_(False)` for a whole substep), as one
freezes layers when fine-tuning; names are those of `named_parameters()` (e.g.
`model.transmission.parametrizations.beta_by_week.original`, the unconstrained tensor of a parametrized rate), so
nothing lists them by hand. A deterministic model may ignore the seed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

from torch import Tensor, nn


@runtime_checkable
class CalibrationProblem(Protocol):
    """A module whose parameters with `requires_grad` are fitted to minimise its weighted loss terms (module
    docstring)."""

    @property
    def loss_weights(self) -> Mapping[str, float]: ...

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, nn.Parameter]]: ...

    def loss_terms(self, seed: int, *, differentiable: bool = True) -> Mapping[str, Tensor]: ...


def trainable(problem: CalibrationProblem) -> dict[str, nn.Parameter]:
    """The fitted tensors by name: the problem's parameters with `requires_grad`, in `named_parameters()` order."""
    return {name: p for name, p in problem.named_parameters() if p.requires_grad}


def total_loss(problem: CalibrationProblem, terms: Mapping[str, Tensor]) -> Tensor:
    """L = sum_k w_k L_k over the terms (w_k from `problem.loss_weights`, 1 for a term it leaves out); a weight of no
    term is a ValueError naming the terms."""
    if not terms:
        raise ValueError(f"{type(problem).__name__}.loss_terms returned no terms; return at least one named loss")
    weights = problem.loss_weights
    unknown = sorted(set(weights) - set(terms))
    if unknown:
        raise ValueError(f"loss_weights of {type(problem).__name__} name {unknown}, which are not among its loss terms "
                         f"({', '.join(terms)}); weigh those terms by their names")
    return sum(weights.get(name, 1.0) * value for name, value in terms.items())  # type: ignore[return-value]
