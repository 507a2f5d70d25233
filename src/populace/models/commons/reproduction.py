r"""GovSim's own setting: every agent asked for itself, by name, with what it saw (`IndividualLLMPolicy`).

Where `ArchetypeLLMPolicy` asks once per archetype cell, here each active agent of each group gets its own prompt
each month: its name and the others' (GovSim's John, Kate, Jack, Emma, Luke), the pool exactly, whether it shrank,
and, with communication, what each member took last month (a newcomer beside them included: its seat is not
asked, `GroupView.asked`). With a discussion (`Variant.discussion`) the month
opens with one message per agent: each is asked what it proposes that every member takes, and the harvest prompt
shows its group's proposals. Answers are the `HARVEST_OPTIONS` (amounts in the prompt), drawn per agent on the
counter-based RNG; the prompts are batched into one `answer()` call per question and month, through the model's
cache and budget, and every batch is a usage row (`UsageRecords`), as in every language-model behaviour.

With `free_text=True` agents answer as GovSim's do, in words: the harvest is the first whole number of the
model's text (at most the pool; an answer without a number asks for nothing and is counted in `fallbacks`), and a
discussion message is the agent's own sentence (`TextQuery`, greedy, through the same cache and budget).

This is meant for few groups (one GovSim game per seed): the prompts grow with G x N.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from populace.behavior.interface import draw_options
from populace.behavior.llm_decisions import UsageRecords
from populace.behavior.templates import PromptTemplate
from populace.core.world import World
from populace.llm.protocol import LanguageModel, Query, TextQuery, require_text_model
from populace.models.commons.llm_agents import trend_codes
from populace.models.commons.policy import GroupView
from populace.models.commons.prompts import (
    Variant,
    harvest_template,
    pool_sentence,
    share_sentence,
    trend_sentence,
)
from populace.models.commons.rules import CommonsRules
from populace.models.commons.scenarios import HARVEST_OPTIONS, Scenario, option_amounts

NAMES = ("John", "Kate", "Jack", "Emma", "Luke", "Mia", "Noah", "Ava", "Liam", "Zoe")
"""Seat names, GovSim's five first; seat n past the list is "Member n+1"."""
PROPOSE, HARVEST = "propose", "harvest"


def seat_name(seat: int) -> str:
    return NAMES[seat] if seat < len(NAMES) else f"Member {seat + 1}"


class IndividualLLMPolicy(UsageRecords):
    """A `HarvestPolicy` asking the language model once per active agent and month (module docstring).

    Args:
        model: the language model (cached and metered, e.g. `populace.llm.make_model("embedded")`).
        scenario: the wording; rules: the game's rules (seat count, capacity); variant: what agents are told.
        free_text: answer in words (a number of units; a sentence to the group) instead of one of the options.
        price_per_token: (prompt, completion) US dollars per token, for the usage report's cost.
    """

    def __init__(self, model: LanguageModel, scenario: Scenario, rules: CommonsRules, *,
                 variant: Variant | None = None, free_text: bool = False,
                 price_per_token: tuple[float, float] = (0.0, 0.0)):
        super().__init__(price_per_token)
        if free_text:
            require_text_model(model)
        self.model = model
        self.free_text = free_text
        self.fallbacks = 0
        self.scenario = scenario
        self.rules = rules
        self.variant = variant or Variant()
        self.decisions = {HARVEST: HARVEST_OPTIONS} | ({PROPOSE: HARVEST_OPTIONS} if self.variant.discussion else {})
        self.templates = {name: harvest_template(scenario, propose=name == PROPOSE) for name in self.decisions}
        self.transcript: list[dict[str, object]] = []  # the discussion: seed, month, group, seat, name, message

    def requests(self, view: GroupView, world: World) -> Tensor:
        amounts = option_amounts(view.sustainable_share, view.resource)  # [G, K]
        discussion = None
        if self.variant.discussion and self.free_text:
            discussion = self._said(view, world)
        elif self.variant.discussion:
            proposed = self._draw(PROPOSE, view, world, amounts, discussion=None)
            discussion = self._messages(view, proposed, world.seed)
        if self.free_text:
            return self._written_amounts(view, world, discussion)
        return self._draw(HARVEST, view, world, amounts, discussion=discussion)

    def _write(self, decision: str, view: GroupView, world: World, discussion: list[list[str]] | None,
               instruction: str, max_tokens: int) -> tuple[list[tuple[int, int]], list[str]]:
        """The asked seats and what each wrote to `decision`'s prompt, its options sentence replaced by
        `instruction`."""
        agents = view.asked.nonzero().tolist()
        trend = trend_codes(view, world).long().tolist()
        template = self.templates[decision]
        queries = [TextQuery(self._prompt(template, view, g, s, trend[g], discussion, instruction=instruction),
                             max_tokens=max_tokens, stop=("\n",), template_version=template.version)
                   for g, s in agents]
        done = self.ask(world, decision, queries, agents=len(agents))
        return agents, [c.text.strip() for c in done]

    def _written_amounts(self, view: GroupView, world: World, discussion: list[list[str]] | None) -> Tensor:
        """[G, S] units: the first whole number each asked agent wrote, at most the pool (none: 0, a fallback)."""
        instruction = f"Answer with the number of {self.scenario.unit} you take."
        agents, texts = self._write(HARVEST, view, world, discussion, instruction, max_tokens=16)
        requests = torch.zeros(view.active.shape, dtype=view.resource.dtype, device=view.resource.device)
        for (g, s), text in zip(agents, texts, strict=True):
            number = re.search(r"\d+", text.replace(",", ""))
            self.fallbacks += number is None
            requests[g, s] = min(float(number.group()), float(view.resource[g])) if number else 0.0
        return requests

    def _said(self, view: GroupView, world: World) -> list[list[str]]:
        """Per group, one sentence per asked agent, written to the group before the harvest."""
        agents, texts = self._write(PROPOSE, view, world, None, "Say it to the group in one sentence.",
                                    max_tokens=48)
        messages: list[list[str]] = [[] for _ in range(view.active.shape[0])]
        for (g, s), text in zip(agents, texts, strict=True):
            message = text.strip(' "') or "(says nothing)"
            messages[g].append(f"{seat_name(s)}: \"{message}\"")
            self.transcript.append({"seed": world.seed, "month": view.month + 1, "group": g, "seat": s,
                                    "name": seat_name(s), "message": message})
        return messages

    def _draw(self, decision: str, view: GroupView, world: World, amounts: Tensor,
              discussion: list[list[str]] | None) -> Tensor:
        """[G, S] units: each active agent's answer to `decision`, drawn from its own prompt's probabilities."""
        g_count, seats = view.active.shape
        agents = view.asked.nonzero().tolist()  # [(group, seat)] asked
        trend = trend_codes(view, world).long().tolist()
        template = self.templates[decision]
        queries = [Query(self._prompt(template, view, g, s, trend[g], discussion), template.options,
                         template.version) for g, s in agents]
        answers = self.ask(world, decision, queries, agents=len(agents))
        probs = torch.zeros(g_count * seats, len(HARVEST_OPTIONS), dtype=torch.float64)
        probs[:, 0] = 1.0  # seats not asked: nothing
        if agents:
            rows = torch.tensor([g * seats + s for g, s in agents])
            probs[rows] = torch.tensor([a.probabilities for a in answers], dtype=torch.float64)
        draws = draw_options(world, f"commons-{decision}", probs.to(world.device))
        if draws.is_floating_point():
            draws = draws.argmax(dim=1)  # per-agent prompts are not differentiable: the option drawn
        chosen = amounts.repeat_interleave(seats, dim=0).gather(1, draws.unsqueeze(1)).squeeze(1)
        return chosen.reshape(g_count, seats).to(view.resource.dtype)

    def _prompt(self, template: PromptTemplate, view: GroupView, g: int, s: int, trend: int,
                discussion: list[list[str]] | None, *, instruction: str | None = None) -> str:
        """Agent (g, s)'s prompt; `instruction` replaces the options sentence (free text)."""
        scenario, seats = self.scenario, view.active.shape[1]
        members = [seat_name(n) for n in range(seats) if n != s and bool(view.active[g, n])]
        description = f"{seat_name(s)}, {scenario.person}" + (f"; the other members are {', '.join(members)}"
                                                                if members else "")
        h, f = float(view.resource[g]), float(view.sustainable_share[g])
        return template.render(description=description,
                               pool=pool_sentence(scenario, int(h), int(h), self.rules.capacity),
                               trend=trend_sentence(scenario, trend),
                               others=self._others(view, g, s, discussion),
                               share=share_sentence(scenario, self.variant, f, h, instruction=instruction))

    def _others(self, view: GroupView, g: int, s: int, discussion: list[list[str]] | None) -> str:
        """What agent (g, s) knows of the others: last month's catches by name and this month's proposals."""
        if not self.variant.communication:
            return "You do not know how much the others took."
        scenario, seats = self.scenario, view.active.shape[1]
        if view.month == 0:
            told = "No one has taken anything yet."
        else:
            caught = [f"{seat_name(n)} took {scenario.amount(float(view.last_catch[g, n]))}"
                      for n in range(seats) if n != s and bool(view.active[g, n])]
            told = (f"Last month you took {scenario.amount(float(view.last_catch[g, s]))}"
                    + (f"; {', '.join(caught)}." if caught else "."))
        if discussion is not None and discussion[g]:
            told += " In this month's discussion: " + " ".join(discussion[g])
        return told

    def _messages(self, view: GroupView, proposed: Tensor, seed: int) -> list[list[str]]:
        """Per group, one message per active agent: "Kate: I propose that each of us takes 10 tons of fish."."""
        messages: list[list[str]] = [[] for _ in range(view.active.shape[0])]
        for g, s in view.asked.nonzero().tolist():
            message = f"I propose that each of us takes {self.scenario.amount(float(proposed[g, s]))}."
            messages[g].append(f"{seat_name(s)}: \"{message}\"")
            self.transcript.append({"seed": seed, "month": view.month + 1, "group": g, "seat": s,
                                    "name": seat_name(s), "message": message})
        return messages
