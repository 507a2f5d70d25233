"""Models built on the engine, one module (or folder) per model."""

from populace.models.covid_nyc.model import CovidDisease, CovidNYC
from populace.models.sir import SIR
from populace.models.tax.model import TaxPolicy

__all__ = ["SIR", "CovidDisease", "CovidNYC", "TaxPolicy"]
