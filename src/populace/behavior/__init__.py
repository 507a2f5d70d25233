"""Agent behaviour: the decision interface (`DecisionModel`, `decide`) and its backends (`HeuristicDecisions`,
`LLMDecisions`: language-model answers per archetype and situation, from prompt templates)."""

from populace.behavior.archetypes import Grouping, Levels, group_keys
from populace.behavior.heuristic import TELEWORKABLE_FRACTION_BY_INDUSTRY, HeuristicDecisions
from populace.behavior.interface import (
    GO_TO_WORK,
    ISOLATE,
    SITUATION_FEATURES,
    DecisionError,
    DecisionModel,
    Situation,
    check_probability,
    check_situation,
    decide,
    decision_stream,
    is_decision_day,
)
from populace.behavior.llm_decisions import (
    Assignment,
    DecisionSpec,
    LLMDecisions,
    Route,
    StepUsage,
    covid_decisions,
)
from populace.behavior.templates import PromptTemplate, TemplateError, builtin_template

__all__ = [
    "GO_TO_WORK",
    "ISOLATE",
    "SITUATION_FEATURES",
    "TELEWORKABLE_FRACTION_BY_INDUSTRY",
    "Assignment",
    "DecisionError",
    "DecisionModel",
    "DecisionSpec",
    "Grouping",
    "HeuristicDecisions",
    "LLMDecisions",
    "Levels",
    "PromptTemplate",
    "Route",
    "Situation",
    "StepUsage",
    "TemplateError",
    "builtin_template",
    "check_probability",
    "check_situation",
    "covid_decisions",
    "decide",
    "decision_stream",
    "group_keys",
    "is_decision_day",
]
