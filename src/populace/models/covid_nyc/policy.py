r"""Dated public-health orders (`Order`, `PolicySchedule`) and the `Policy` substep that puts them in force.

An order, from its date on, sets any of: the contact scale of some layers (c_l in [0, 1], read by `Transmission`
from `world.env[contact_scale_key(l)]`); the work-from-home fraction w in [0, 1] (`world.env[WORK_FROM_HOME_KEY]`,
read by the `Behaviour` substep: the share of each industry's teleworkable workers that the orders send home); the
lockdown intensity L in [0, 1] (`world.env[LOCKDOWN_KEY]`, read by `Labour`: 0 no orders, 1 full NYC PAUSE).
An order changes only what it names; the rest stays as the previous orders left it, and before the first order
every scale is 1, w and L are 0. So the state on a date is the cumulative effect of the orders dated on or before
it.

`nyc_2020_schedule()` is New York City's spring 2020 (dates are public facts; values are assumptions):

| from | order | school | work | community | w | L |
|---|---|---|---|---|---|---|
| 2020-03-16 | NYC public schools close | 0 | 1 | 0.75 | 0.3 | 0.3 |
| 2020-03-22 | New York State on PAUSE | 0 | 0.3 | 0.4 | 1.0 | 1.0 |
| 2020-06-08 | NY Forward phase 1 | 0 | 0.45 | 0.45 | 1.0 | 0.8 |
| 2020-06-22 | phase 2 | 0 | 0.6 | 0.55 | 0.8 | 0.6 |
| 2020-07-06 | phase 3 | 0 | 0.65 | 0.6 | 0.7 | 0.5 |
| 2020-07-20 | phase 4 | 0 | 0.7 | 0.65 | 0.6 | 0.4 |

`nyc_2020_2021_schedule()` continues it through 2021-06-30 with the autumn 2020 closures and the 2021 reopenings
(dated orders and their sources in its docstring); it equals `nyc_2020_schedule()` on every date before
2020-09-29. The household layer is never scaled.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from populace.core.world import World, as_date
from populace.models.covid_nyc.disease import contact_scale_key

NYC_LAYERS = ("household", "school", "work", "community")
"""The contact layers of a built New York City (`populace.population.build_layers`)."""

WORK_FROM_HOME_KEY = "work_from_home_fraction"
"""`World.env` key of the work-from-home fraction in force (0-dim float, in [0, 1]; absent means 0)."""

LOCKDOWN_KEY = "lockdown"
"""`World.env` key of the lockdown intensity in force (0-dim float in [0, 1]; 0 or absent: no orders, 1: full PAUSE);
the same key `Labour` reads."""

TESTING_KEY = "testing"
"""`World.env` key of the testing rate (0-dim float in [0, 1]: the daily probability that a resident, infected or
not, is tested; 0 or absent: no testing), read by `Testing`; no order sets it, a control policy does."""


@dataclasses.dataclass(frozen=True)
class Order:
    """One dated order: from `start` on, these layers are scaled and (if given) this work-from-home fraction holds.

    Attributes:
        start: first day in force (a `datetime.date`, or an ISO string "2020-03-22").
        name: what the order is, for reports and error messages.
        contact_scale: {layer: scale in [0, 1]} for the layers this order changes (1 = as before any order).
        work_from_home_fraction: share in [0, 1] of each industry's teleworkable workers sent home; None keeps the
            previous value.
        lockdown: lockdown intensity in [0, 1] (0 no orders, 1 full NYC PAUSE), for the labour market; None keeps
            the previous value.
    """

    start: dt.date
    name: str
    contact_scale: Mapping[str, float] = dataclasses.field(default_factory=dict)
    work_from_home_fraction: float | None = None
    lockdown: float | None = None

    def __post_init__(self) -> None:
        start = as_date(self.start, f"order {self.name!r}: start")
        object.__setattr__(self, "start", start)
        for layer, scale in self.contact_scale.items():
            if not (isinstance(scale, (int, float)) and math.isfinite(scale) and 0 <= scale <= 1):
                raise ValueError(f"order {self.name!r} ({start}): contact scale of layer {layer!r} must be a number "
                                 f"in [0, 1], got {scale!r}. Orders only reduce contacts: 0 closes a layer, 1 leaves "
                                 "it as before any order")
        for field in ("work_from_home_fraction", "lockdown"):
            value = getattr(self, field)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"order {self.name!r} ({start}): {field} must be a number in [0, 1] or None (keep "
                                 f"the previous value), got {value!r}")
        object.__setattr__(self, "contact_scale", {str(k): float(v) for k, v in self.contact_scale.items()})


@dataclasses.dataclass(frozen=True)
class PolicyState:
    """What is in force on a day: every layer's scale, the work-from-home fraction, the lockdown, the orders so far."""

    contact_scale: Mapping[str, float]
    work_from_home_fraction: float
    lockdown: float
    orders: tuple[str, ...]


class PolicySchedule:
    """Orders in date order over a known set of contact layers; `state_on(date)` is what holds that day.

    Refused: an order naming a layer outside `layers` (the message lists them), two orders on the same day or
    out of order (merge or reorder them), scales or fractions outside [0, 1] (see `Order`).

    >>> s = PolicySchedule([Order("2020-03-22", "lockdown", {"work": 0.3}, work_from_home_fraction=1.0)])
    >>> s.state_on(dt.date(2020, 3, 22)).contact_scale["work"], s.state_on(dt.date(2020, 3, 21)).orders
    (0.3, ())
    """

    def __init__(self, orders: Sequence[Order], *, layers: Sequence[str] = NYC_LAYERS):
        layers = tuple(layers)
        if not layers or len(set(layers)) != len(layers):
            raise ValueError(f"layers must name each contact layer once, got {list(layers)}")
        orders = tuple(orders)
        for order in orders:
            if not isinstance(order, Order):
                raise TypeError(f"orders must be Order objects, got {type(order).__name__}")
            unknown = sorted(set(order.contact_scale) - set(layers))
            if unknown:
                raise KeyError(f"order {order.name!r} ({order.start}) scales unknown layer(s) {unknown}; the known "
                               f"layers are: {', '.join(layers)}. Fix the name or pass layers=... with the model's "
                               "contact layers")
        for before, after in itertools.pairwise(orders):
            if not after.start > before.start:
                raise ValueError(f"order dates must increase: {after.name!r} ({after.start}) follows {before.name!r} "
                                 f"({before.start}). Sort the orders by date, and merge orders of the same day")
        self.orders = orders
        self.layers = layers
        self._starts = [order.start for order in orders]
        self._states = [PolicyState({layer: 1.0 for layer in layers}, 0.0, 0.0, ())]  # [K + 1], before order k
        for order in orders:
            last = self._states[-1]
            w = last.work_from_home_fraction if order.work_from_home_fraction is None else order.work_from_home_fraction
            lockdown = last.lockdown if order.lockdown is None else order.lockdown
            self._states.append(PolicyState({**last.contact_scale, **order.contact_scale}, w, lockdown,
                                            (*last.orders, order.name)))

    def state_on(self, date: dt.date) -> PolicyState:
        """The cumulative state of the orders dated on or before `date`."""
        if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
            raise TypeError(f"date must be a datetime.date, got {type(date).__name__} ({date!r})")
        return self._states[bisect.bisect_right(self._starts, date)]

    def state_index(self, date: dt.date) -> int:
        """0 before the first order, k once the k-th order (1-based) is in force."""
        return bisect.bisect_right(self._starts, date)

    @property
    def states(self) -> tuple[PolicyState, ...]:
        """The K + 1 states: before any order, then after each of the K orders."""
        return tuple(self._states)

    def __len__(self) -> int:
        return len(self.orders)

    def __repr__(self) -> str:
        orders = ", ".join(f"{o.start} {o.name}" for o in self.orders)
        return f"PolicySchedule(layers={list(self.layers)}, orders=[{orders}])"


def nyc_2020_schedule(*, layers: Sequence[str] = NYC_LAYERS) -> PolicySchedule:
    """New York City's orders of spring and summer 2020 (dates: public announcements; values: assumptions).

    Dates:
    - 2020-03-16: New York City public schools closed to students (announced by Mayor de Blasio on 2020-03-15);
      they stayed closed through the summer (in-person classes resumed only in autumn 2020).
    - 2020-03-22, 8 p.m.: "New York State on PAUSE", Governor Cuomo's Executive Order 202.8: non-essential
      businesses close in-person work, non-essential gatherings banned.
    - NY Forward reopening of New York City: phase 1 on 2020-06-08 (construction, manufacturing, wholesale,
      curbside retail), phase 2 on 2020-06-22 (offices, in-store retail, outdoor dining), phase 3 on 2020-07-06
      (personal care; indoor dining postponed in the city), phase 4 on 2020-07-20 (low-risk outdoor arts and
      entertainment, media production).

    Values (assumptions, to calibrate): scales are the remaining share of contacts per day in the layer among
    those still taking part (distancing, closed venues, reduced occupancy); the work-from-home fraction is the
    share of each industry's teleworkable workers sent home (30% voluntarily before PAUSE, all of them under it,
    then a gradual return from phase 2); the lockdown intensity is 1 under PAUSE, 0.3 for the partial closures
    of the week before (restaurants and bars limited to take-out from 2020-03-16), easing by phase.
    """
    return PolicySchedule(_nyc_2020_orders(), layers=layers)


def _nyc_2020_orders() -> list[Order]:
    return [
        Order("2020-03-16", "NYC public schools close", {"school": 0.0, "community": 0.75},
              work_from_home_fraction=0.3, lockdown=0.3),
        Order("2020-03-22", "New York State on PAUSE", {"work": 0.3, "community": 0.4}, work_from_home_fraction=1.0,
              lockdown=1.0),
        Order("2020-06-08", "NY Forward phase 1", {"work": 0.45, "community": 0.45}, lockdown=0.8),
        Order("2020-06-22", "NY Forward phase 2", {"work": 0.6, "community": 0.55}, work_from_home_fraction=0.8,
              lockdown=0.6),
        Order("2020-07-06", "NY Forward phase 3", {"work": 0.65, "community": 0.6}, work_from_home_fraction=0.7,
              lockdown=0.5),
        Order("2020-07-20", "NY Forward phase 4", {"work": 0.7, "community": 0.65}, work_from_home_fraction=0.6,
              lockdown=0.4),
    ]


def nyc_2020_2021_schedule(*, layers: Sequence[str] = NYC_LAYERS) -> PolicySchedule:
    """New York City's orders from March 2020 to June 2021: `nyc_2020_schedule()`, then the autumn 2020 closures
    and the 2021 reopenings (dates: public announcements; values: assumptions, to calibrate).

    Sources: the Governor's (Cuomo) and the Mayor's (de Blasio) announcements, checked against news reports of the
    time (AP, Reuters, Spectrum News, CBS New York, Newsday, Gothamist), dates of the announcements in brackets.
    Executive order numbers are not given: they could not be checked here.
    - 2020-09-29: NYC school buildings reopen for blended (part-time, in-person) learning, elementary grades first
      (3-K, pre-K and District 75 on 2020-09-21, middle and high schools on 2020-10-01: these two dates are from
      memory, not checked against a source here). Most families chose remote learning.
    - 2020-09-30: indoor dining resumes in NYC at 25% capacity [Governor, 2020-09-09].
    - 2020-11-13: bars, restaurants and gyms close at 10 p.m. statewide; gatherings in private homes limited to 10
      [Governor, 2020-11-11].
    - 2020-11-19: NYC school buildings close, the 7-day positivity having reached 3% [Mayor, 2020-11-18].
    - 2020-12-07: NYC elementary schools (3-K to grade 5) and District 75 reopen [Mayor, 2020-11-29: the
      announcement date is from memory].
    - 2020-12-14: indoor dining suspended in NYC [Governor, 2020-12-11].
    - 2021-02-12: indoor dining reopens in NYC at 25% [Governor; first announced for 2021-02-14, moved up].
    - 2021-02-14: the restaurant and bar curfew moves from 10 to 11 p.m. statewide [Governor, the week before
      2021-02-19].
    - 2021-02-25: NYC middle schools reopen [Mayor, 2021-02-08].
    - 2021-02-26: indoor dining in NYC to 35% [Governor, 2021-02-19].
    - 2021-03-19: indoor dining in NYC to 50% [Governor with NJ Governor Murphy, 2021-03-10].
    - 2021-03-22: NYC high schools reopen [NYC Department of Education, 2021-03-08].
    - 2021-04-19: the restaurant and bar curfew moves to midnight, catered events to 1 a.m. [Governor, 2021-04-14].
    - 2021-05-15: office capacity from 50% to 75% [Governor, 2021-04-26].
    - 2021-05-17: 24-hour subway service resumes; the outdoor dining curfew ends [Governor, 2021-05-03].
    - 2021-05-19: most capacity limits end (retail, food services, offices, gyms, salons, museums, theatres;
      six feet of distance still required), coordinated with New Jersey and Connecticut [Governor, 2021-05-03].
    - 2021-05-31: the indoor dining curfew ends [Governor, 2021-05-03].
    - 2021-06-15: the remaining state-mandated restrictions (capacity, distancing, health screening, contact
      information) are lifted in commercial and social settings, 70% of adults having had a first dose; masks stay
      in schools, transit, health care [Governor, 2021-06-15].
    - 2021-06-26: NYC public schools' summer break (the 2020-21 school year's last day, 2021-06-25, is from the
      Department of Education calendar as remembered, not checked here).
    Not in the schedule: the October-December 2020 "cluster" zones (red, orange, yellow), which covered parts of
    Brooklyn, Queens and Staten Island only: the schedule is citywide.

    Values (assumptions): school scales stand for the share of pupils in school buildings (about a quarter chose
    blended learning, so 0.25 with every grade open); the community scale rises with each dining and curfew step
    (0.01 per curfew change, 0.02-0.05 per capacity step); work and the work-from-home fraction move with the office
    limits; the lockdown intensity falls from 0.4 (phase 4) to 0.1 once the restrictions end.
    """
    orders = [
        *_nyc_2020_orders(),
        Order("2020-09-29", "NYC school buildings reopen (blended learning)", {"school": 0.25}),
        Order("2020-09-30", "NYC indoor dining at 25%", {"community": 0.7}, lockdown=0.35),
        Order("2020-11-13", "10 p.m. curfew; home gatherings <= 10", {"community": 0.66}, lockdown=0.4),
        Order("2020-11-19", "NYC school buildings close", {"school": 0.0}),
        Order("2020-12-07", "NYC elementary schools reopen", {"school": 0.12}),
        Order("2020-12-14", "NYC indoor dining closed", {"community": 0.6}, lockdown=0.45),
        Order("2021-02-12", "NYC indoor dining at 25%", {"community": 0.64}, lockdown=0.4),
        Order("2021-02-14", "curfew 11 p.m.", {"community": 0.65}),
        Order("2021-02-25", "NYC middle schools reopen", {"school": 0.18}),
        Order("2021-02-26", "NYC indoor dining at 35%", {"community": 0.67}),
        Order("2021-03-19", "NYC indoor dining at 50%", {"community": 0.7}, lockdown=0.35),
        Order("2021-03-22", "NYC high schools reopen", {"school": 0.25}),
        Order("2021-04-19", "curfew midnight", {"community": 0.71}),
        Order("2021-05-15", "offices at 75%", {"work": 0.75}, work_from_home_fraction=0.5, lockdown=0.3),
        Order("2021-05-17", "24-hour subway; outdoor dining curfew ends", {"community": 0.73}),
        Order("2021-05-19", "most capacity limits end", {"work": 0.8, "community": 0.8}, work_from_home_fraction=0.4,
              lockdown=0.2),
        Order("2021-05-31", "indoor dining curfew ends", {"community": 0.81}),
        Order("2021-06-15", "remaining state restrictions lifted", {"work": 0.85, "community": 0.85},
              work_from_home_fraction=0.3, lockdown=0.1),
        Order("2021-06-26", "NYC schools' summer break", {"school": 0.0}),
    ]
    return PolicySchedule(orders, layers=layers)


class Policy(nn.Module):
    r"""Put the orders in force on the world's date: env c_l = scale of layer l, w work from home, L lockdown.

    forward(world) returns {contact_scale_key(l): c_l for every layer of the schedule, WORK_FROM_HOME_KEY: w,
    LOCKDOWN_KEY: L}
    (0-dim float32 tensors on the world's device) for the model to apply with `world.with_env(**policy(world))`,
    before `Behaviour` and `Transmission`. The date is `world.date`, so the world needs a start date
    (`World.of(table, start_date=datetime.date(2020, 3, 1))`).

    Args:
        schedule: the orders (`nyc_2020_schedule()` for New York City).
        layers: the contact layers of the model; when given, every layer the orders scale must be among them, so
            an order cannot silently miss a layer the model calls by another name.
    """

    writes_env: tuple[str, ...]

    def __init__(self, schedule: PolicySchedule, *, layers: Sequence[str] | None = None):
        super().__init__()
        if not isinstance(schedule, PolicySchedule):
            raise TypeError(f"schedule must be a PolicySchedule, got {type(schedule).__name__}; build one with "
                            "PolicySchedule([Order(...), ...]) or nyc_2020_schedule()")
        if layers is not None:
            named = dict.fromkeys(layer for order in schedule.orders for layer in order.contact_scale)
            missing = [layer for layer in named if layer not in set(layers)]
            if missing:
                raise KeyError(f"the orders scale layer(s) {missing} that the model does not have (it has: "
                               f"{', '.join(layers)}), so they would have no effect; rename the layers in the orders "
                               "or leave those orders out")
        self.schedule = schedule
        self.writes_env = (*(contact_scale_key(layer) for layer in schedule.layers), WORK_FROM_HOME_KEY, LOCKDOWN_KEY)
        states = schedule.states
        scale = [[s.contact_scale[layer] for layer in schedule.layers] for s in states]
        self.register_buffer("scale_by_state", torch.tensor(scale, dtype=torch.float32))  # [K + 1, L]
        self.register_buffer("work_from_home_by_state",
                             torch.tensor([s.work_from_home_fraction for s in states], dtype=torch.float32))  # [K + 1]
        self.register_buffer("lockdown_by_state", torch.tensor([s.lockdown for s in states], dtype=torch.float32))

    def extra_repr(self) -> str:
        return f"layers={list(self.schedule.layers)}, orders={len(self.schedule)}"

    def forward(self, world: World) -> dict[str, Tensor]:
        date = world.date
        if date is None:
            raise ValueError("Policy needs the calendar date: the world has no start_date. Build it with "
                             "World.of(table, start_date=datetime.date(2020, 3, 1)) (or the model's start date)")
        k = self.schedule.state_index(date)
        scale = self.scale_by_state[k].to(world.device)  # [L]
        out = {contact_scale_key(layer): scale[j] for j, layer in enumerate(self.schedule.layers)}
        out[WORK_FROM_HOME_KEY] = self.work_from_home_by_state[k].to(world.device)
        out[LOCKDOWN_KEY] = self.lockdown_by_state[k].to(world.device)
        return out
