r"""The words of a commons prompt: the template, the variant, and each situation's sentences.

Both language-model modes (per archetype, `populace.models.commons.llm_agents`; per agent,
`populace.models.commons.reproduction`) render the same template, one per scenario and question:

    You are {description}. {pool} {trend} {others}
    <the question> {share}

- description: the scenario's person (`Scenario.person`), with a persona or a name;
- pool: how much the pool holds; trend: whether it shrank since last month;
- others: what the others took last month (only with communication, GovSim's default);
- share: the options with their amounts (`options_sentence`), after GovSim's universalization sentence in that
  variant.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from populace.behavior.templates import PromptTemplate
from populace.models.commons.rules import CommonsRules
from populace.models.commons.scenarios import HARVEST_OPTIONS, Scenario, options_sentence

TEMPLATE_VERSION = 2
"""Names the wording below in every query (the cache key hashes the rendered prompt too); bump it when it changes."""

PERSONAS = (
    "and you care most about the group's income in the months to come",
    "and you care most about your own income this month",
    "and you usually do what the others in the group do",
)
"""Archetype personas, by code (`persona_codes` gives seat s the code s % len(PERSONAS))."""

TRENDS = ("This is the first month.", "{pool} holds less than a month ago.",
          "{pool} holds at least as much as a month ago.")
"""The pool's trend: first month, shrunk, not shrunk (codes 0, 1, 2)."""


def persona_codes(groups: int, seats: int) -> Tensor:
    """int64 [groups * seats]: seat s of every group gets persona s % len(PERSONAS) (group-major, as `Commons`)."""
    return (torch.arange(seats) % len(PERSONAS)).repeat(groups)


@dataclasses.dataclass(frozen=True)
class Variant:
    """GovSim's variants of what agents are told.

    Attributes:
        universalization: agents are told "if everyone takes more than f, the pool will hold less next month".
        communication: agents know what the others took last month (GovSim's default; off: "no communication").
        discussion: per-agent mode only: before each harvest every agent proposes an amount, and the harvest prompt
            shows every proposal of its group (one message per agent per month).
    """

    universalization: bool = False
    communication: bool = True
    discussion: bool = False

    def __post_init__(self) -> None:
        if self.discussion and not self.communication:
            raise ValueError("a discussion is communication: discussion=True needs communication=True")

    def tag(self) -> str:
        """A short name for outputs: "universalization", "no communication", "discussion" or "basic"."""
        parts = [name for name, on in (("universalization", self.universalization),
                                       ("no communication", not self.communication),
                                       ("discussion", self.discussion)) if on]
        return ", ".join(parts) or "basic"


def harvest_template(scenario: Scenario, *, propose: bool = False) -> PromptTemplate:
    """The scenario's template: the month's harvest question, or (`propose`) the proposal made in the discussion."""
    question = ("Before anyone harvests, the group talks. How much do you propose that each member takes this "
                "month?" if propose else scenario.question)
    kind = "propose" if propose else "harvest"
    text = (f"version: commons-{kind}-{scenario.name}@{TEMPLATE_VERSION}\n"
            f"options: {', '.join(HARVEST_OPTIONS)}\n---\n"
            f"You are {{description}}. {{pool}} {{trend}} {{others}}\n{question} {{share}}")
    return PromptTemplate.parse(text, name=f"commons {kind} ({scenario.name})")


def pool_sentence(scenario: Scenario, low: int, high: int, capacity: int) -> str:
    """How much the pool holds: exactly `low` units when low == high, else between the two."""
    held = scenario.amount(low) if low == high else f"between {low} and {scenario.amount(high)}"
    return f"{scenario.pool.capitalize()} holds {held}; it can hold {capacity} at most."


def smallest_pools(rules: CommonsRules) -> dict[int, int]:
    """{f: the smallest whole pool whose sustainable share for N agents is f}, for every f a pool 0..C can have."""
    pools = torch.arange(rules.capacity + 1, dtype=torch.float64)
    shares = rules.sustainable_share(pools, torch.full_like(pools, rules.agents_per_group)).long().tolist()
    smallest: dict[int, int] = {}
    for pool, share in enumerate(shares):
        smallest.setdefault(share, pool)
    return smallest


def pool_buckets(rules: CommonsRules) -> list[tuple[int, int]]:
    """The pool levels of the archetype prompts: (low, high) units, tenths of the capacity, and full on its own."""
    width = max(1, rules.capacity // 10)
    lows = list(range(0, rules.capacity, width))
    return [(low, min(low + width, rules.capacity) - 1) for low in lows] + [(rules.capacity, rules.capacity)]


def share_sentence(scenario: Scenario, variant: Variant, share: float, resource: float, *,
                   instruction: str | None = None) -> str:
    """The options with their amounts at sustainable share `share` (or `instruction`, for a free-text answer),
    after universalization's sentence in that variant."""
    options = instruction if instruction is not None else options_sentence(scenario, share, resource)
    return f"{scenario.universalization(share)} {options}" if variant.universalization else options


def trend_sentence(scenario: Scenario, code: int) -> str:
    """`TRENDS[code]` for the scenario's pool."""
    return TRENDS[code].format(pool=scenario.pool.capitalize())


def others_sentences(scenario: Scenario, variant: Variant) -> tuple[str, ...]:
    """What an archetype knows of the others' catches last month, by code: first month, more / as much / less than
    you (with communication); one sentence without."""
    if not variant.communication:
        return ("You do not know how much the others took.",)
    took = "Last month the others took, on average,"
    return ("No one has taken anything yet.", f"{took} more than you.", f"{took} about as much as you.",
            f"{took} less than you.")
