r"""Language-model harvesters asked per archetype: `ArchetypeLLMPolicy`.

Each month every active agent falls in one cell of persona x pool level x sustainable share x trend x what the
others took (`populace.models.commons.prompts`); `LLMDecisions` asks the language model once per cell present for
the probabilities of the `HARVEST_OPTIONS`, broadcasts them to the cell's agents, and each agent draws its option
on the counter-based RNG (`populace.behavior.decide`); option k asks for min(floor(m_k f), h) units of its group's
pool. So 200,000 groups cost the prompts of the cells present (a few dozen a month), with the cache, budgets, dry
runs and usage logs of every language-model behaviour (`populace.behavior.llm_run`). Collapsed groups are not
asked. In differentiable mode the draw is the straight-through one-hot, so gradients reach `LLMDecisions`'
per-persona logit offsets. Only the seats the policy decides for are asked (`GroupView.asked`): not a greedy
newcomer's seat, and in fast mode not the seats of collapsed groups (differentiable mode's soft collapse asks every
group).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from populace.behavior.archetypes import Levels
from populace.behavior.interface import decide
from populace.behavior.llm_decisions import DecisionSpec, LLMDecisions
from populace.core.world import World
from populace.llm.protocol import LanguageModel
from populace.models.commons.model import GROUPS
from populace.models.commons.policy import GroupView
from populace.models.commons.prompts import (
    PERSONAS,
    TRENDS,
    Variant,
    harvest_template,
    others_sentences,
    pool_buckets,
    pool_sentence,
    share_sentence,
    smallest_pools,
    trend_sentence,
)
from populace.models.commons.rules import CommonsRules
from populace.models.commons.scenarios import HARVEST_OPTIONS, Scenario, option_amounts

HARVEST = "harvest"
"""The decision's name in `LLMDecisions` (its usage rows)."""


def harvest_spec(scenario: Scenario, rules: CommonsRules, variant: Variant) -> DecisionSpec:
    """The archetype question: persona (agent column "persona") x pool x share x trend x others. A share level
    shows its amounts in the smallest pool with that share (N agents); shares that N agents never have (a newcomer
    among them) show them in the full pool."""
    buckets = pool_buckets(rules)
    largest_share = int(rules.sustainable_share(torch.tensor([float(rules.capacity)]), torch.tensor([1]))[0])
    shares = range(largest_share + 1)
    pools = smallest_pools(rules)
    return DecisionSpec(
        template=harvest_template(scenario),
        archetype=(Levels.codes("persona", "persona", PERSONAS),),
        situation=(
            Levels.bins("pool", "pool", [low for low, _ in buckets[1:]],
                        [pool_sentence(scenario, low, high, rules.capacity) for low, high in buckets]),
            Levels.bins("share", "share", [f - 0.5 for f in shares[1:]],
                        [share_sentence(scenario, variant, f, pools.get(f, rules.capacity)) for f in shares]),
            Levels.codes("trend", "trend", [trend_sentence(scenario, code) for code in range(len(TRENDS))]),
            Levels.codes("others", "others", others_sentences(scenario, variant)),
        ),
        ask_only={"asked": True},
        p_not_asked=(1.0,) + (0.0,) * (len(HARVEST_OPTIONS) - 1),
        person=scenario.person,
    )


class ArchetypeLLMPolicy(nn.Module):
    """A `HarvestPolicy` whose amounts come from a language model asked once per archetype cell (module docstring).

    Args:
        model: the language model (e.g. `populace.llm.make_model("embedded")`: cached and metered).
        scenario: the wording (`populace.models.commons.scenarios.SCENARIOS`).
        rules: the game's rules (the pool levels and shares the prompts name).
        variant: universalization / no communication.
        price_per_token: (prompt, completion) US dollars per token, for the usage report's cost.

    Attributes:
        decisions: the `LLMDecisions` asked (its `usage_frame()` and `usage_totals()` are the run's LLM usage).
    """

    def __init__(self, model: LanguageModel, scenario: Scenario, rules: CommonsRules, *,
                 variant: Variant | None = None, price_per_token: tuple[float, float] = (0.0, 0.0)):
        super().__init__()
        self.variant = variant or Variant()
        if self.variant.discussion:
            raise ValueError("a discussion is per-agent (populace.models.commons.reproduction); archetypes are asked "
                             "without one")
        self.scenario = scenario
        self.rules = rules
        self.decisions = LLMDecisions(model, {HARVEST: harvest_spec(scenario, rules, self.variant)},
                                      price_per_token=price_per_token)

    def requests(self, view: GroupView, world: World) -> Tensor:
        seats = view.active.shape[1]
        draws = decide(self.decisions, HARVEST, world, situation(view, world, self.rules, self.variant))
        amounts = option_amounts(view.sustainable_share, view.resource)  # [G, K]
        amounts = amounts.repeat_interleave(seats, dim=0)  # [G * S, K]
        if draws.is_floating_point():  # differentiable: the straight-through one-hot [G * S, K]
            chosen = (draws * amounts.to(draws.dtype)).sum(dim=1)
        else:
            chosen = amounts.gather(1, draws.unsqueeze(1)).squeeze(1)
        return chosen.reshape(view.active.shape).to(view.resource.dtype)


def situation(view: GroupView, world: World, rules: CommonsRules, variant: Variant) -> dict[str, Tensor]:
    """The per-agent situation features [G * S] of a month: asked, pool h, share f, trend and others (codes)."""
    seats = view.active.shape[1]
    per_agent = {"pool": view.resource.detach(), "share": view.sustainable_share}
    features = {name: value.repeat_interleave(seats).float() for name, value in per_agent.items()}
    features["asked"] = view.asked.reshape(-1)
    features["trend"] = trend_codes(view, world).repeat_interleave(seats).float()
    features["others"] = (others_codes(view, rules) if variant.communication else
                          torch.zeros(view.active.shape, device=view.resource.device)).reshape(-1).float()
    return features


def trend_codes(view: GroupView, world: World) -> Tensor:
    """[G]: 0 in the first month, 1 where the pool holds less than a month ago, else 2 (`TRENDS`)."""
    if view.month == 0:
        return torch.zeros(view.resource.shape, device=view.resource.device)
    before = world.table(GROUPS).after_harvest + view.last_catch.sum(dim=1)  # the pool a month ago
    return torch.where(view.resource.detach() < before.detach(), 1.0, 2.0)


def others_codes(view: GroupView, rules: CommonsRules) -> Tensor:
    """[G, S]: 0 in the first month, then 1 / 2 / 3 where the mean catch last month of the other seats that had
    joined by then was more than / within half a unit of / less than the seat's own."""
    if view.month == 0:
        return torch.zeros(view.active.shape, device=view.resource.device)
    catch = view.last_catch.detach()
    members = rules.joined(view.month - 1, catch.device).to(catch.dtype)  # [S]: seats that harvested last month
    catch = catch * members
    others = (members.sum() - members).clamp(min=1)  # [S]: the other members of each seat
    mean_others = (catch.sum(dim=1, keepdim=True) - catch) / others
    difference = mean_others - catch
    return torch.where(difference > 0.5, 1.0, torch.where(difference < -0.5, 3.0, 2.0))
