"""Grouping agents for language-model decisions: the ground truth of per-agent answers, its error metrics, groupings
by attributes (hand-made or chosen by information gain), behaviour clusters learned from probe answers, fusion with
a mechanistic prior, and the comparison at equal call budgets (`docs/behaviour-clusters.md`)."""

from populace.behavior.grouping.attributes import AgentAttributes
from populace.behavior.grouping.clusters import BehaviourClusters
from populace.behavior.grouping.compare import Study, calls_at_error, compare, evaluate, plot, split_agents
from populace.behavior.grouping.fusion import PriorStrength, fit_prior_strength, fuse
from populace.behavior.grouping.groups import AttributeSelection, Groups, by_attributes, select_attributes
from populace.behavior.grouping.kmeans import KMeans, kmeans
from populace.behavior.grouping.metrics import brier_score, draws, mean_absolute_error
from populace.behavior.grouping.tree import DecisionTree
from populace.behavior.grouping.truth import GroundTruth, ask_agents

__all__ = [
    "AgentAttributes",
    "AttributeSelection",
    "BehaviourClusters",
    "DecisionTree",
    "GroundTruth",
    "Groups",
    "KMeans",
    "PriorStrength",
    "Study",
    "ask_agents",
    "brier_score",
    "by_attributes",
    "calls_at_error",
    "compare",
    "draws",
    "evaluate",
    "fit_prior_strength",
    "fuse",
    "kmeans",
    "mean_absolute_error",
    "plot",
    "select_attributes",
    "split_agents",
]
