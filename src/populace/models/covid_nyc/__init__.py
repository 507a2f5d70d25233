"""The NYC COVID-19 model: disease substeps (this package so far), later policies, behaviour, labour, observation."""

from populace.models.covid_nyc.disease import Progression, Stage, Transmission, contact_scale_key, lognormal_days
from populace.models.covid_nyc.model import STAGE_OBSERVABLES, CovidDisease
from populace.models.covid_nyc.params import CovidParams, age_band_index

__all__ = [
    "STAGE_OBSERVABLES",
    "CovidDisease",
    "CovidParams",
    "Progression",
    "Stage",
    "Transmission",
    "age_band_index",
    "contact_scale_key",
    "lognormal_days",
]
