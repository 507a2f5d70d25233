"""The GovSim commons: groups of agents share a regenerating pool (fishery, pasture, pollution) and ask each month
for a share of it; many groups at once as tensors, heuristic, learned or language-model harvesters."""

from populace.models.commons.heuristics import Greedy, RandomHarvest, SustainableShare, TitForTat, WithNewcomer
from populace.models.commons.model import GROUPS, Commons, Rationing
from populace.models.commons.policy import GroupView, HarvestPolicy
from populace.models.commons.rules import CommonsRules

__all__ = [
    "GROUPS",
    "Commons",
    "CommonsRules",
    "Greedy",
    "GroupView",
    "HarvestPolicy",
    "RandomHarvest",
    "Rationing",
    "SustainableShare",
    "TitForTat",
    "WithNewcomer",
]
