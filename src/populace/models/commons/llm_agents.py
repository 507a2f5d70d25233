r"""Language-model harvesters asked per archetype: `ArchetypeLLMPolicy`.

Each month every active agent falls in one cell of persona x pool level x sustainable share x trend x what the
others took (`populace.models.commons.prompts`); `LLMDecisions` asks the language model once per cell present for
the probabilities of the `HARVEST_OPTIONS`, and each agent draws its option from its cell's answer on
the counter-based RNG (`populace.behavior.draw_from_table`: the options `decide` would draw from the per-agent
rows); option k asks for min(floor(m_k f), h) units of its group's pool. The pool, share and trend are binned per
group and broadcast to its seats (`ArchetypeLLMPolicy.pair_keys`).
So 200,000 groups cost the prompts of the cells present (a few dozen a month), with the cache, budgets, dry
runs and usage logs of every language-model behaviour (`populace.behavior.llm_run`). Collapsed groups are not
asked. In differentiable mode the draw is the straight-through one-hot, so gradients reach `LLMDecisions`'
per-persona logit offsets. Only the seats the policy decides for are asked (`GroupView.asked`): not a greedy
newcomer's seat, and in fast mode not the seats of collapsed groups (differentiable mode's soft collapse asks every
group).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from populace.behavior.archetypes import KeyCache, Levels, LevelValues, uses_numpy
from populace.behavior.interface import draw_from_table
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
        self._persona_keys = KeyCache()

    def requests(self, view: GroupView, world: World) -> Tensor:
        keys = self.pair_keys(view, world)
        table, rows = self.decisions.answer_table(HARVEST, world, keys)  # [P + 1, K]
        draws = draw_from_table(self.decisions, HARVEST, world, table, keys, rows)  # [G * S] or [G * S, K]
        amounts = option_amounts(view.sustainable_share, view.resource)  # [G, K]
        if draws.is_floating_point():  # differentiable: the straight-through one-hot
            chosen = (draws.reshape(*view.active.shape, -1) * amounts.unsqueeze(1).to(draws.dtype)).sum(dim=-1)
        else:
            chosen = amounts.gather(1, draws.reshape(view.active.shape))
        return chosen.to(view.resource.dtype)

    def pair_keys(self, view: GroupView, world: World) -> LevelValues:
        """Each agent's (archetype, situation) pair key [G * S], as `LLMDecisions.pair_keys` gives it for the
        per-agent situation (pool h, share f, trend and others of the agent's group and seat; agents not asked: P),
        computed per group where the feature is a group's (pool, share, trend) and broadcast to its seats."""
        spec = self.decisions.spec(HARVEST)
        pool, share, trend = spec.situation[:3]
        strides, n_situations = spec.situations.strides, spec.situations.n_cells
        persona = world.agents["persona"]
        archetype = self._persona_keys.get("persona", (persona,))
        if archetype is None:  # the persona cell's first key, per agent, while the column is unchanged
            archetype = spec.archetypes.keys(lambda _: persona, persona.numel(), persona.device) * n_situations
            self._persona_keys.put("persona", (persona,), archetype)
        group = (pool.levels(view.resource.detach()) * strides[0] + share.levels(view.sustainable_share) * strides[1]
                 + trend.levels(trend_codes(view, world)) * strides[2])  # [G] int32
        keys = archetype.reshape(view.active.shape) + group.unsqueeze(1)  # [G, S]
        if self.variant.communication:  # the codes are the levels (Levels.codes, no table), innermost: stride 1
            keys += others_codes(view, self.rules)
        keys = torch.where(view.asked, keys, spec.archetypes.n_cells * n_situations).reshape(-1)
        return keys.numpy() if uses_numpy(keys) else keys


def trend_codes(view: GroupView, world: World) -> Tensor:
    """[G]: 0 in the first month, 1 where the pool holds less than a month ago, else 2 (`TRENDS`)."""
    if view.month == 0:
        return torch.zeros(view.resource.shape, device=view.resource.device)
    before = world.table(GROUPS).after_harvest + view.last_catch.sum(dim=1)  # the pool a month ago
    return torch.where(view.resource.detach() < before.detach(), 1.0, 2.0)


def others_codes(view: GroupView, rules: CommonsRules) -> Tensor:
    """int32 [G, S]: 0 in the first month, then 1 / 2 / 3 where the mean catch last month of the other seats that
    had joined by then was more than / within half a unit of / less than the seat's own."""
    if view.month == 0:
        return torch.zeros(view.active.shape, dtype=torch.int32, device=view.resource.device)
    catch = view.last_catch.detach()
    members = rules.joined(view.month - 1, catch.device)  # [S]: seats that harvested last month
    if not bool(members.all()):
        catch = catch * members.to(catch.dtype)
    members = members.to(catch.dtype)
    others = (members.sum() - members).clamp(min=1)  # [S]: the other members of each seat
    difference = (catch.sum(dim=1, keepdim=True) - catch) / others - catch  # the others' mean - the seat's own
    return (difference < -0.5).to(torch.int32) - (difference > 0.5).to(torch.int32) + 2
