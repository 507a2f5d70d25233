"""The donor game with cultural evolution (Vallinder and Hughes 2024): societies of agents give to each other,
the richest half survives each generation and newcomers inherit its strategies; many societies at once as tensors,
with parametric strategies that evolve by selection and mutation or are learned by gradient."""

from populace.models.cooperation.model import SOCIETIES, Cooperation
from populace.models.cooperation.rules import DonorGameRules
from populace.models.cooperation.strategies import (
    Strategy,
    StrategyTable,
    default_strategies,
    reputation,
    tit_for_tat,
    unconditional,
)

__all__ = [
    "SOCIETIES",
    "Cooperation",
    "DonorGameRules",
    "Strategy",
    "StrategyTable",
    "default_strategies",
    "reputation",
    "tit_for_tat",
    "unconditional",
]
