"""Agent behaviour: the decision interface (`DecisionModel`: probabilities over a decision's K options, `decide`:
the categorical draw) and the language-model backend `LLMDecisions` (answers per archetype and situation, from
prompt templates). A model brings its own decisions, situation features and persona (e.g.
`populace.models.covid_nyc.decisions`)."""

from populace.behavior.archetypes import Grouping, Levels, group_keys
from populace.behavior.interface import (
    YES_NO,
    DecisionError,
    DecisionModel,
    Situation,
    check_probabilities,
    check_situation,
    chosen,
    decide,
    decision_stream,
    draw_from_table,
    draw_options,
    is_decision_step,
    options_of,
    yes_no,
)
from populace.behavior.llm_decisions import Assignment, DecisionSpec, LLMDecisions, Route, StepUsage, UsageRecords
from populace.behavior.templates import PromptTemplate, TemplateError, package_template, package_template_names

__all__ = [
    "YES_NO",
    "Assignment",
    "DecisionError",
    "DecisionModel",
    "DecisionSpec",
    "Grouping",
    "LLMDecisions",
    "Levels",
    "PromptTemplate",
    "Route",
    "Situation",
    "StepUsage",
    "TemplateError",
    "UsageRecords",
    "check_probabilities",
    "check_situation",
    "chosen",
    "decide",
    "decision_stream",
    "draw_from_table",
    "draw_options",
    "group_keys",
    "is_decision_step",
    "options_of",
    "package_template",
    "package_template_names",
    "yes_no",
]
