r"""`Testing`: screening tests, and the isolation of those who test positive (the NYC COVID-19 model).

Each day, before transmission, every resident still alive and not already isolating after a positive test is
tested with probability p = `world.env[TESTING_KEY]` (absent or the constant 0: nothing happens, and the run is
exactly the run without testing). Only the infected test positive (E, A or I: a PCR test detects pre-symptomatic
and asymptomatic infections; a perfect test with its result the same day, assumptions), and each infected agent
tests positive at most once. A positive isolates for `isolation_days` days from the day of the test (default 10:
CDC, "Discontinuation of Isolation for Persons with COVID-19 Not in Healthcare Settings", interim guidance of
2020-07-20, 10 days after symptom onset or a positive test), with the contact factors of a self-isolating agent
(`behaviour.isolation_contact_factors`: no work or school contacts, a quarter of its community contacts by
default, household contacts unchanged). The labour market is not affected: New York's COVID-19 sick-leave law of
2020-03-18 protected the jobs of workers under an isolation order.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor

from populace.core.agents import AgentTable
from populace.core.model import Substep
from populace.core.ops import complement, hard, indicator
from populace.core.world import World
from populace.models.covid_nyc.behaviour import ISOLATION_CONTACT_FACTOR_BY_LAYER, isolation_contact_factors
from populace.models.covid_nyc.disease import INFECTED_ALIVE, NOT_YET, STAGES, Stage, contact_factor_key
from populace.models.covid_nyc.policy import TESTING_KEY

ISOLATION_DAYS = 10
"""Days a positive isolates, from the day of the test (CDC interim guidance of 2020-07-20; module docstring)."""


class Testing(Substep):
    r"""Test residents at the daily rate p; positives isolate for D days (module docstring).

    x_i ~ Bernoulli(p) among the agents i in E, A or I with no positive test yet (stream "testing"); positive_day_i
    = t where x_i; is_test_isolated_i = 1 on the days t with 0 <= t - positive_day_i < D. Contact factors, over the
    weekly decisions of `Behaviour`: g_work = goes_to_work (1 - is_test_isolated), g_l = k_l if is_isolating or
    is_test_isolated, else 1. Reads stage, is_isolating, goes_to_work, positive_day, is_test_isolated; writes the
    last two and the factor columns. Differentiable mode: the straight-through draw, so the isolation of a
    positive carries the gradient of p through its D days.

    Args:
        isolation_contact_factor_by_layer: {layer: k_l} of `Behaviour` (the same factors as self-isolation).
        work_layer: the contact layer of workplaces.
        isolation_days: D, days of isolation after a positive test (>= 1).
    """

    def __init__(self, isolation_contact_factor_by_layer: Mapping[str, float] = ISOLATION_CONTACT_FACTOR_BY_LAYER, *,
                 work_layer: str = "work", isolation_days: int = ISOLATION_DAYS):
        super().__init__()
        if isinstance(isolation_days, bool) or not isinstance(isolation_days, int) or isolation_days < 1:
            raise ValueError(f"isolation_days must be an int >= 1, got {isolation_days!r}")
        self.isolation_contact_factor_by_layer = dict(isolation_contact_factor_by_layer)
        self.work_layer = work_layer
        self.isolation_days = isolation_days
        self.writes = ("positive_day", "is_test_isolated", contact_factor_key(work_layer),
                       *(contact_factor_key(layer) for layer in self.isolation_contact_factor_by_layer))

    def extra_repr(self) -> str:
        return f"isolation_days={self.isolation_days}, work_layer={self.work_layer!r}"

    @staticmethod
    def initial_columns(agents: AgentTable, *, differentiable: bool = False) -> dict[str, Tensor]:
        """No positive test yet, nobody isolating after one."""
        return {"positive_day": torch.full((agents.n,), NOT_YET, dtype=torch.int16, device=agents.device),
                "is_test_isolated": indicator(torch.zeros(agents.n, dtype=torch.bool, device=agents.device),
                                              differentiable=differentiable)}

    def forward(self, world: World) -> dict[str, Tensor]:
        a = world.agents
        p = world.env.get(TESTING_KEY)
        isolated_before = a.is_test_isolated
        if p is not None and p.dim() != 0:
            raise ValueError(f"world.env[{TESTING_KEY!r}] must be a 0-dim tensor, got shape {list(p.shape)}")
        if p is None or (_is_constant_zero(p) and not bool(hard(isolated_before).any())):
            return {}
        t = world.step
        untested = a.positive_day == NOT_YET  # [N] bool
        infected = STAGES.member_any(a.stage, INFECTED_ALIVE)  # [N] bool, or float mass
        positive = world.bernoulli("testing", p.float().expand(a.n), among=infected * untested)  # [N]
        positive_day = torch.where(hard(positive), t, a.positive_day).to(a.positive_day.dtype)
        still = (a.positive_day != NOT_YET) & (t - a.positive_day.long() < self.isolation_days)  # bool [N]
        kept = isolated_before * still  # bool, or 0/1 floats; disjoint from today's positives (untested before)
        isolated = kept | positive if positive.dtype == torch.bool else kept + positive
        isolating = complement(complement(a.is_isolating) * complement(isolated))  # self- or test-isolated
        goes = a.goes_to_work * complement(isolated)
        return {"positive_day": positive_day, "is_test_isolated": isolated,
                **isolation_contact_factors(isolating, goes, self.isolation_contact_factor_by_layer, self.work_layer)}


def _is_constant_zero(p: Tensor) -> bool:
    """Whether p is 0 and carries no derivative (no autograd graph, no forward-mode tangent)."""
    return not p.requires_grad and fwad.unpack_dual(p).tangent is None and bool(p == 0)


TESTING_OBSERVABLES = ("tests", "new_positives", "test_isolated")
"""Names under which `daily_testing_observables` records the day's tests and positives and the agents isolating."""


def daily_testing_observables(world: World) -> dict[str, Tensor]:
    """After a day (the period step - 1 that the record closes): `tests` = p x the residents alive and not isolating
    after a positive test at the day's end (the expected number: the tests of the uninfected change nothing in
    the model, so they are counted, not drawn), `new_positives` (the day's positive tests) and `test_isolated`
    (agents isolating after a positive test); 0-dim float each, with their gradient in differentiable mode."""
    a = world.agents
    isolated = a.is_test_isolated.float()  # [N]
    p = world.env.get(TESTING_KEY, torch.zeros((), device=world.device)).float()
    alive = a.n - STAGES.counts(a.stage)[Stage.D]
    screened = alive - isolated.sum()
    return {"tests": p * screened, "new_positives": (isolated * (a.positive_day == world.step - 1)).sum(),
            "test_isolated": isolated.sum()}
