"""Household assembly: from counts of households by size and a list of persons, give every person a household.

Two steps, each per zone (a loop over zones, never over agents):

1. `household_sizes`: expand a table of households by size (the last column meaning "that size or more") into
   one size per household whose sizes add up to the zone's household population exactly. Persons beyond the
   fixed sizes go to the open-ended households, as S + X with X geometric (few large households); when the table holds
   more places than persons, the largest households shrink first (never below one person).
2. `assign_households`: heads are drawn among the persons who may head a household (adults), with chances rising
   with age as headship rates do (`HEADSHIP_WEIGHT_BY_AGE`, an assumption shaped like US headship rates: few
   heads under 25), and placed in households at random. Children then take places in the households whose heads
   are nearest a typical parent's age (`PARENT_AGE`), youngest children with youngest heads (age-rank matching,
   with a few years of random jitter), so no child lives without an adult and parent-child gaps look like
   generations. The remaining adults fill the places left, again matched by age rank to the head, so partners
   and housemates are of similar ages. All draws use the counter-based RNG, so the result is reproducible.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from populace.core import rng

HEADSHIP_WEIGHT_BY_AGE = ((0, 0.05), (18, 0.2), (25, 0.45), (35, 0.55), (65, 0.65))
"""(from age, relative chance to head a household): an assumption shaped like US headship rates by age."""
PARENT_AGE = 40.0
"""Head age whose households children join first (years)."""
JITTER_YEARS = 8.0
"""Random jitter, in years, added to ages before rank matching, so matches are close but not deterministic."""


def household_sizes(persons_by_zone: Tensor, households_by_size: Tensor, *, seed: int = 0) -> tuple[Tensor, Tensor]:
    """One size per household: returns (zone [H] int32, size [H] int16); sizes in zone z add to persons_by_zone[z].

    The persons beyond the fixed sizes go to the "S or more" households as S + X, X geometric with the mean
    that makes the zone's total (then adjusted one person at a time, at random, to hit it exactly): most such
    households have S members and fewer have each size above, as in household surveys.

    Args:
        persons_by_zone: [Z] persons living in households, per zone.
        households_by_size: [Z, S] household counts of size 1, 2, ..., S, the last meaning "S or more".
        seed: seed of the geometric draws.
    """
    persons = _as_counts(persons_by_zone, "persons_by_zone")
    counts = _as_counts(households_by_size, "households_by_size")
    if counts.dim() != 2 or counts.shape[0] != persons.shape[0]:
        raise ValueError(f"households_by_size must be [zones, sizes] with {persons.shape[0]} zones, "
                         f"got {list(counts.shape)}")
    zones, sizes = [], []
    for z in range(persons.shape[0]):
        size = _sizes_of_zone(int(persons[z]), counts[z], z, seed)
        zones.append(torch.full((size.numel(),), z, dtype=torch.int32))
        sizes.append(size)
    return torch.cat(zones), torch.cat(sizes).to(torch.int16)


def assign_households(zone_of_person: Tensor, age: Tensor, can_head: Tensor, ids: Tensor, zone_of_household: Tensor,
                      size_of_household: Tensor, *, seed: int) -> Tensor:
    """Household index ([N] int32, into the household arrays) of every person; see the module docstring.

    Args:
        zone_of_person, age (years), can_head (bool: adults, usually age >= 18), ids: [N] per person.
        zone_of_household, size_of_household: [H] per household (from `household_sizes`).
    Each zone must have as many persons as places, and at least one possible head per household.
    """
    n = zone_of_person.numel()
    if not (age.shape == can_head.shape == ids.shape == zone_of_person.shape == (n,)):
        raise ValueError("zone_of_person, age, can_head and ids must all have shape [N]")
    if zone_of_household.shape != size_of_household.shape:
        raise ValueError("zone_of_household and size_of_household must have the same shape [H]")
    household = torch.full((n,), -1, dtype=torch.int32)
    u = rng.uniform(seed, 0, "households.shuffle", ids, dtype=torch.float64)
    for z in torch.unique(zone_of_household).tolist():
        people = torch.nonzero(zone_of_person == z).flatten()
        homes = torch.nonzero(zone_of_household == z).flatten()
        household[people] = _fill_zone(age[people].double(), can_head[people], u[people], homes,
                                       size_of_household[homes].long(), z, seed)
    unplaced = int((household < 0).sum())
    if unplaced:
        raise ValueError(f"{unplaced} persons live in zones without households; give every zone with "
                         "persons a household table")
    return household


def _sizes_of_zone(persons: int, counts: Tensor, zone: int, seed: int) -> Tensor:
    n_sizes = counts.shape[0]
    size = torch.repeat_interleave(torch.arange(1, n_sizes + 1), counts.long())  # [H], ascending
    if size.numel() == 0:
        if persons:
            raise ValueError(f"zone {zone} has {persons} persons but no households")
        return size
    if persons < size.numel():
        raise ValueError(f"zone {zone} has {persons} persons for {size.numel()} households: every household "
                         "needs at least one person; check the two tables come from the same source")
    extra = persons - int(size.sum())
    open_ended = torch.nonzero(size == n_sizes).flatten() if extra > 0 else torch.empty(0, dtype=torch.long)
    if extra > 0 and open_ended.numel() == 0:
        open_ended = torch.arange(size.numel())  # no "or more" households: spread over all
    if extra > 0:
        size[open_ended] += _geometric_extras(extra, open_ended, seed, zone)
    while extra < 0:  # more places than persons: take one place from each of the largest households
        largest = torch.argsort(size, descending=True, stable=True)[: min(-extra, size.numel())]
        largest = largest[size[largest] > 1]
        size[largest] -= 1
        extra += largest.numel()
    return size


def _geometric_extras(extra: int, households: Tensor, seed: int, zone: int) -> Tensor:
    """Extra members X_i >= 0 of these households, geometric with mean extra / n, summing exactly to `extra`."""
    n = households.numel()
    mean = extra / n
    u = rng.uniform(seed, zone, "households.extra", households, dtype=torch.float64)
    x = torch.floor(torch.log(u) / math.log(mean / (1 + mean))).long()  # P(X = k) = q (1 - q)^k, q = 1 / (1 + mean)
    for round_ in range(1, 10_000):
        missing = extra - int(x.sum())
        if missing == 0:
            return x
        order = torch.argsort(rng.uniform(seed, zone, f"households.adjust.{round_}", households))
        if missing > 0:
            x[order[:missing]] += 1
        else:
            has_extra = order[x[order] > 0]
            x[has_extra[:-missing]] -= 1
    raise RuntimeError(f"zone {zone}: could not spread {extra} extra persons over {n} households")


def _fill_zone(age: Tensor, can_head: Tensor, u: Tensor, homes: Tensor, size: Tensor, zone: int,
               seed: int) -> Tensor:
    n_places, n_homes, n_people = int(size.sum()), homes.numel(), age.numel()
    if n_places != n_people:
        raise ValueError(f"zone {zone}: {n_people} persons for {n_places} household places; "
                         "build the sizes with household_sizes() from the same person counts")
    if int(can_head.sum()) < n_homes:
        raise ValueError(f"zone {zone}: {int(can_head.sum())} adults for {n_homes} households; "
                         "every household needs an adult")
    home_of_place = torch.repeat_interleave(homes, size)  # [places], grouped by household
    first_place = torch.cumsum(size, 0) - size
    jitter = rng.uniform(seed, zone, "households.jitter", torch.arange(n_places), dtype=torch.float64)

    # 1. heads: weighted draw without replacement (Efraimidis-Spirakis keys), then households at random
    weight = _headship_weight(age) * can_head
    key = torch.where(weight > 0, u.log() / weight.clamp_min(1e-300), torch.full_like(u, -torch.inf))
    heads = torch.topk(key, n_homes).indices
    heads = heads[torch.argsort(rng.uniform(seed, zone, "households.heads", torch.arange(n_homes)))]
    result = torch.empty(n_people, dtype=torch.int32)
    result[heads] = homes.to(torch.int32)
    is_head = torch.zeros(n_places, dtype=torch.bool)
    is_head[first_place] = True
    other_places = torch.nonzero(~is_head).flatten()
    head_age = age[heads][torch.repeat_interleave(torch.arange(n_homes), size)[other_places]]  # per other place

    # 2. children: places whose head is nearest a parent's age, matched youngest to youngest
    not_head = torch.ones(n_people, dtype=torch.bool)
    not_head[heads] = False
    children = torch.nonzero(not_head & ~can_head).flatten()
    nearest = torch.argsort((head_age - PARENT_AGE).abs() + JITTER_YEARS * jitter[other_places])
    for_children = nearest[: children.numel()]
    for_children = for_children[torch.argsort(head_age[for_children] + JITTER_YEARS * jitter[for_children])]
    children = children[torch.argsort(age[children] + u[children])]
    result[children] = home_of_place[other_places[for_children]].to(torch.int32)

    # 3. other adults: the places left, matched to the head's age by rank
    left = nearest[children.numel():]
    left = left[torch.argsort(head_age[left] + JITTER_YEARS * jitter[left])]
    adults = torch.nonzero(not_head & can_head).flatten()
    adults = adults[torch.argsort(age[adults] + JITTER_YEARS * u[adults])]
    result[adults] = home_of_place[other_places[left]].to(torch.int32)
    return result


def _headship_weight(age: Tensor) -> Tensor:
    weight = torch.zeros_like(age)
    for from_age, value in HEADSHIP_WEIGHT_BY_AGE:
        weight = torch.where(age >= from_age, value, weight)
    return weight


def _as_counts(values: Tensor, name: str) -> Tensor:
    tensor = torch.as_tensor(values)
    if tensor.is_floating_point():
        if not bool(torch.isfinite(tensor).all()) or not bool((tensor == tensor.round()).all()):
            raise ValueError(f"{name} must hold whole counts; round or integerize() them first")
        tensor = tensor.long()
    if bool((tensor < 0).any()):
        raise ValueError(f"{name} must not be negative; got {int((tensor < 0).sum())} negative counts")
    return tensor.long()
