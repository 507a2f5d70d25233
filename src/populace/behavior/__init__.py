"""Agent behaviour: the decision interface (`DecisionModel`, `decide`) and its backends (`HeuristicDecisions`)."""

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

__all__ = [
    "GO_TO_WORK",
    "ISOLATE",
    "SITUATION_FEATURES",
    "TELEWORKABLE_FRACTION_BY_INDUSTRY",
    "DecisionError",
    "DecisionModel",
    "HeuristicDecisions",
    "Situation",
    "check_probability",
    "check_situation",
    "decide",
    "decision_stream",
    "is_decision_day",
]
