r"""Language-model users asked per archetype: `ArchetypeLLMActions`, the `ACT` decision from `LLMDecisions`.

Each step every active user falls in one cell of interest cluster (its main topic, `TOPICS`) x feed summary (the
mean cosine between its interests and its feed: far < 0.3 <= mixed < 0.6 <= close) x shown score (the target
post's likes - dislikes: negative, zero, 1-9, 10 or more), 8 x 3 x 4 = 96 cells at most. `LLMDecisions` renders one
prompt per cell present, asks the language model for the probabilities of the seven `ACTIONS`, and broadcasts them
to the cell's users, who draw their action on the counter-based RNG (`populace.behavior.decide`). So a million
users cost at most 96 prompts a step, with the answer cache, budgets, dry runs and usage logs of every
language-model behaviour (`populace.behavior.llm_run`). Users not active are not asked ("nothing").
"""

from __future__ import annotations

from populace.behavior.archetypes import Levels
from populace.behavior.llm_decisions import DecisionSpec, LLMDecisions
from populace.behavior.templates import PromptTemplate
from populace.llm.protocol import LanguageModel
from populace.models.social.actions import ACT, ACTIONS
from populace.models.social.topics import TOPIC_LABELS

TEMPLATE_VERSION = 1
"""Names the wording below in every query (the cache key hashes the rendered prompt too); bump it when it changes."""

FEED_EDGES = (0.3, 0.6)
FEED_SENTENCES = ("Your feed shows posts far from your interests.",
                  "Your feed shows a mix of posts, some close to your interests.",
                  "Your feed shows posts close to your interests.")
SCORE_EDGES = (-0.5, 0.5, 9.5)
SCORE_SENTENCES = ("The post in front of you has more dislikes than likes.",
                   "The post in front of you has no score yet.",
                   "The post in front of you has a few more likes than dislikes.",
                   "The post in front of you is popular: ten or more likes more than dislikes.")


def act_template() -> PromptTemplate:
    """The action prompt: who the user is, its feed, the post in front of it, the seven answers."""
    text = (f"version: social-act@{TEMPLATE_VERSION}\noptions: {', '.join(ACTIONS)}\n---\n"
            "You are {description}. You open the social media app. {feed} {score}\n"
            "What do you do now? Answer with one word: post (write a post of your own), repost (share this post), "
            "like, dislike, follow (its author), comment, or nothing.")
    return PromptTemplate.parse(text, name="social act")


def act_spec() -> DecisionSpec:
    """The archetype question: interest (agent column "interest") x feed summary x shown score."""
    return DecisionSpec(
        template=act_template(),
        archetype=(Levels.codes("interest", "interest", [f"most interested in {label}" for label in TOPIC_LABELS]),),
        situation=(Levels.bins("feed", "feed_similarity", FEED_EDGES, FEED_SENTENCES),
                   Levels.bins("score", "shown_score", SCORE_EDGES, SCORE_SENTENCES)),
        ask_only={"active": True},
        person="a social media user")


class ArchetypeLLMActions(LLMDecisions):
    """`LLMDecisions` making the decision `ACT` per archetype cell (module docstring); its `usage_frame()` and
    `usage_totals()` are the run's language-model usage."""

    def __init__(self, model: LanguageModel, *, price_per_token: tuple[float, float] = (0.0, 0.0)):
        super().__init__(model, {ACT: act_spec()}, price_per_token=price_per_token)
