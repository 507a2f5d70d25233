"""Policies as changes to a `CovidNYC` model: edited order schedules, isolation compliance, a job-loss stimulus.

`policy_model(model, policy)` turns a baseline model into the model of one scenario policy (`scenario.Policy`), in
place, from the date each change starts; before that date the policy model does exactly what the baseline does,
so a policy run can branch from a snapshot of the baseline (`branch_date` is the first day they can differ):

- lockdown: `move_lockdown` moves the lockdown order earlier or later, or removes it and the reopenings after it;
- schools, work_from_home: `override_from` holds the school layer open (scale 1) or closed (0), or the
  work-from-home fraction at a value, from a date on, whatever later orders say;
- isolation_compliance c: `IsolationCompliance` makes the isolation probability min(1, c p) from a date on;
- stimulus f: `StimulusLabour` multiplies the job-loss rates (lambda_i of `Labour`) by f from a date on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from torch import Tensor, nn

from populace.behavior.interface import DecisionModel, Situation, yes_no
from populace.core.world import World
from populace.models.covid_nyc.analysis.scenario import LockdownChange, Policy
from populace.models.covid_nyc.decisions import ISOLATE
from populace.models.covid_nyc.labour import Labour
from populace.models.covid_nyc.model import CovidNYC
from populace.models.covid_nyc.policy import Order, PolicySchedule
from populace.models.covid_nyc.policy import Policy as PolicySubstep

SCHOOL_LAYER = "school"


def lockdown_index(schedule: PolicySchedule, name: str | None = None) -> int:
    """Index of the lockdown order: the one called `name`, else the first of highest lockdown intensity."""
    orders = schedule.orders
    if name is not None:
        for k, order in enumerate(orders):
            if order.name == name:
                return k
        raise KeyError(f"no order is called {name!r}; the orders are: {', '.join(o.name for o in orders)}")
    levels = [(order.lockdown if order.lockdown is not None else -1.0) for order in orders]
    if not levels or max(levels) <= 0:
        raise ValueError("the schedule has no lockdown order (none sets lockdown > 0); name one with lockdown.order")
    return levels.index(max(levels))


def move_lockdown(schedule: PolicySchedule, change: LockdownChange) -> PolicySchedule:
    """The schedule with its lockdown order moved to another date, or removed (`never`, with all later orders).

    Earlier: the orders between the new and the old date are merged into the lockdown (so their state is reached on
    the new date at once, and never relaxed before the old date). Later: refused past the next order, which would
    relax a lockdown not yet in force.
    """
    orders = list(schedule.orders)
    k = lockdown_index(schedule, change.order)
    lockdown = orders[k]
    if change.never:
        return PolicySchedule(orders[:k], layers=schedule.layers)
    date = change.date if change.date is not None else lockdown.start + dt.timedelta(days=change.shift_days or 0)
    if date == lockdown.start:
        return schedule
    name = f"{lockdown.name} (from {date})"
    if date > lockdown.start:
        if k + 1 < len(orders) and orders[k + 1].start <= date:
            nxt = orders[k + 1]
            raise ValueError(f"moving {lockdown.name!r} to {date} puts it on or after the next order {nxt.name!r} "
                             f"({nxt.start}), which relaxes it; choose a date before {nxt.start}")
        return PolicySchedule([*orders[:k], dataclasses.replace(lockdown, start=date, name=name), *orders[k + 1:]],
                              layers=schedule.layers)
    first = next(j for j, order in enumerate(orders) if order.start >= date)
    merged = _merge(orders[first:k + 1], date, name)
    return PolicySchedule([*orders[:first], merged, *orders[k + 1:]], layers=schedule.layers)


def override_from(schedule: PolicySchedule, date: dt.date, name: str, *,
                  contact_scale: dict[str, float] | None = None,
                  work_from_home_fraction: float | None = None) -> PolicySchedule:
    """The schedule with these values in force from `date` on: later orders no longer change them."""
    contact_scale = dict(contact_scale or {})
    unknown = sorted(set(contact_scale) - set(schedule.layers))
    if unknown:
        raise KeyError(f"the model has no contact layer(s) {unknown} (it has: {', '.join(schedule.layers)})")
    before = [o for o in schedule.orders if o.start < date]
    same_day = [o for o in schedule.orders if o.start == date]
    later = [dataclasses.replace(
        o, contact_scale={k: v for k, v in o.contact_scale.items() if k not in contact_scale},
        work_from_home_fraction=o.work_from_home_fraction if work_from_home_fraction is None else None)
        for o in schedule.orders if o.start > date]
    override = Order(date, name, contact_scale, work_from_home_fraction=work_from_home_fraction)
    merged = _merge([*same_day, override], date, " + ".join([*(o.name for o in same_day), name]))
    return PolicySchedule([*before, merged, *later], layers=schedule.layers)


def _merge(orders: list[Order], date: dt.date, name: str) -> Order:
    """One order on `date` with the cumulative effect of `orders` (later ones win)."""
    scale: dict[str, float] = {}
    w = lockdown = None
    for order in orders:
        scale.update(order.contact_scale)
        w = order.work_from_home_fraction if order.work_from_home_fraction is not None else w
        lockdown = order.lockdown if order.lockdown is not None else lockdown
    return Order(date, name, scale, work_from_home_fraction=w, lockdown=lockdown)


class IsolationCompliance(nn.Module):
    """A decision model whose isolation probability is min(1, c p) from `start_date` on (p: the wrapped model's).

    Every other decision, and isolation before `start_date`, is the wrapped model's unchanged (c = 1: identical).
    """

    def __init__(self, base: DecisionModel, compliance: float, start_date: dt.date):
        super().__init__()
        if not compliance >= 0:
            raise ValueError(f"isolation compliance must be a number >= 0 (1 = as fitted), got {compliance!r}")
        self.base = base
        self.decisions = dict(base.decisions)
        self.compliance = float(compliance)
        self.start_date = start_date

    def extra_repr(self) -> str:
        return f"compliance={self.compliance:g}, start_date={self.start_date}"

    def probabilities(self, decision: str, world: World, situation: Situation) -> Tensor:
        probs = self.base.probabilities(decision, world, situation)  # [N, 2]: (yes, no)
        if decision != ISOLATE or world.date is None or world.date < self.start_date:
            return probs
        return yes_no((probs[:, 0] * self.compliance).clamp(max=1.0))


class StimulusLabour(Labour):
    """`Labour` whose job-loss rates lambda_i are multiplied by `job_loss_factor` from `start_date` on."""

    def __init__(self, labour: Labour, job_loss_factor: float, start_date: dt.date):
        super().__init__(day_of_week=labour.day_of_week)
        if not 0 <= job_loss_factor <= 1:
            raise ValueError(f"job_loss_factor must be in [0, 1] (a stimulus slows job loss), got {job_loss_factor}")
        self.load_state_dict(labour.state_dict())
        self.job_loss_factor = float(job_loss_factor)
        self.start_date = start_date

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, job_loss_factor={self.job_loss_factor:g}, start_date={self.start_date}"

    def rates_per_week(self, world: World) -> tuple[Tensor, Tensor]:
        lam, rho = super().rates_per_week(world)
        if world.date is not None and world.date >= self.start_date:
            lam = lam * self.job_loss_factor
        return lam, rho


def policy_schedule(schedule: PolicySchedule, policy: Policy) -> PolicySchedule:
    """The orders under `policy`: lockdown moved, then schools and work from home held from `policy.start`."""
    if policy.lockdown is not None:
        schedule = move_lockdown(schedule, policy.lockdown)
    if policy.schools is not None or policy.work_from_home is not None:
        scale = {} if policy.schools is None else {SCHOOL_LAYER: 1.0 if policy.schools == "open" else 0.0}
        what = [f"schools {policy.schools}"] if policy.schools else []
        what += [f"work from home {policy.work_from_home:g}"] if policy.work_from_home is not None else []
        schedule = override_from(schedule, policy.start, f"{policy.name}: {', '.join(what)}", contact_scale=scale,
                                 work_from_home_fraction=policy.work_from_home)
    return schedule


def policy_model(model: CovidNYC, policy: Policy) -> CovidNYC:
    """`model` changed, in place, into the model of `policy` (its parameters must be loaded first); returns it."""
    schedule = policy_schedule(model.policy.schedule, policy)
    if schedule is not model.policy.schedule:
        model.policy = PolicySubstep(schedule, layers=model.transmission.contacts.names)
    if policy.isolation_compliance is not None:
        behaviour = model.behaviour
        behaviour.decision_model = IsolationCompliance(behaviour.decision_model, policy.isolation_compliance,
                                                       policy.start)
    if policy.stimulus is not None:
        model.labour = StimulusLabour(model.labour, policy.stimulus.job_loss_factor, policy.start)
    return model


def branch_date(baseline: PolicySchedule, policy: Policy, start: dt.date, last_day: dt.date) -> dt.date:
    """The first day on which the policy model can act differently from the baseline (its branch point).

    The first day the orders in force differ, or `policy.start` for behaviour and labour changes, whichever is first;
    `policy.start` (or `start`) when nothing differs.
    """
    schedule = policy_schedule(baseline, policy)
    candidates = [policy.start] if (policy.isolation_compliance is not None or policy.stimulus is not None) else []
    day = start
    while day <= last_day:
        a, b = baseline.state_on(day), schedule.state_on(day)
        if (a.contact_scale, a.work_from_home_fraction, a.lockdown) != (b.contact_scale, b.work_from_home_fraction,
                                                                        b.lockdown):
            candidates.append(day)
            break
        day += dt.timedelta(days=1)
    if candidates:
        return min(candidates)
    return policy.start or start
