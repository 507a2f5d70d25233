"""SIR's policy vocabulary for the generic scenario runner (`populace.analysis`): change beta from a day on.

| change | value | meaning |
|---|---|---|
| `beta_per_day` | a number > 0 | the transmission rate beta is this from `from` on |
| `beta_factor` | a number > 0 | beta is multiplied by this from `from` on (0.5: contacts halved; composes with draws) |

Changes of one policy apply in the order given, each to the beta the one before left.

```python
spec = SIRScenarios(n_agents=2000, contacts_per_agent=8)
study = Study("distancing", spec, steps=60, policies=(spec.policy({"name": "halve", "from": 20, "beta_factor": 0.5}),))
run_ensemble("out/distancing", study)
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from torch import Tensor

from populace.analysis.ensemble import Scenarios
from populace.analysis.policy import Change, FromStep, Number, Vocabulary
from populace.models.sir.model import SIR, Transmission


def with_beta(model: SIR, beta_per_day: float, step: int) -> SIR:
    """`model` whose transmission uses `beta_per_day` from `step` on (the same contacts; before: unchanged)."""
    model.transmission = FromStep.change(model.transmission, step,
                                         lambda now: Transmission(now.contacts, beta_per_day=beta_per_day))
    return model


def scale_beta(model: SIR, factor: float, step: int) -> SIR:
    """`model` whose beta from `step` on is `factor` times the beta in effect then (after the policy's earlier
    changes)."""
    model.transmission = FromStep.change(model.transmission, step, lambda now: Transmission(
        now.contacts, beta_per_day=factor * float(now.beta_per_day.detach())))
    return model


SIR_POLICIES = Vocabulary("SIR", [Change("beta_per_day", Number(gt=0), with_beta),
                                  Change("beta_factor", Number(gt=0), scale_beta)])


@dataclasses.dataclass(frozen=True)
class SIRScenarios(Scenarios):
    """SIR on an Erdős–Rényi network (`SIR.random_network` with these arguments) for the generic runner; a draw
    holds values by natural name ("transmission.beta_per_day") or `state_dict` key, e.g. a fit's draws
    (`Scenarios.load`)."""

    n_agents: int
    contacts_per_agent: float = 20.0
    network_seed: int = 0
    beta_per_day: float = 0.03
    infectious_days: float = 5.0
    initial_infected: int = 10
    vocabulary = SIR_POLICIES

    def build(self, draw: Mapping[str, Tensor] | None) -> SIR:
        model = SIR.random_network(self.n_agents, contacts_per_agent=self.contacts_per_agent,
                                   network_seed=self.network_seed, beta_per_day=self.beta_per_day,
                                   infectious_days=self.infectious_days, initial_infected=self.initial_infected)
        return self.load(model, draw)
