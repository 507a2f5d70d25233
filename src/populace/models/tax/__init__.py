"""Tax policy: a planner sets an income-tax schedule, a large population of workers chooses how much to work."""

from populace.models.tax.income import ACS_2023_INCOME, GB2Income, ParetoIncome
from populace.models.tax.model import TaxPolicy
from populace.models.tax.planners import GradientPlanner, SaezPlanner, USFederalPlanner, saez_rate
from populace.models.tax.schedule import TaxSchedule
from populace.models.tax.taxation import Taxation
from populace.models.tax.welfare import gini, welfare_metrics
from populace.models.tax.workers import BoundedLabourSupply, Persona, RationalLabourSupply

__all__ = [
    "ACS_2023_INCOME",
    "BoundedLabourSupply",
    "GB2Income",
    "GradientPlanner",
    "ParetoIncome",
    "Persona",
    "RationalLabourSupply",
    "SaezPlanner",
    "TaxPolicy",
    "TaxSchedule",
    "Taxation",
    "USFederalPlanner",
    "gini",
    "saez_rate",
    "welfare_metrics",
]
