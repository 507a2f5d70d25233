"""The NYC COVID-19 model: `CovidNYC` (orders, behaviour, disease, labour), `CovidDisease` (disease alone), parts."""

from populace.models.covid_nyc.disease import Progression, Stage, Transmission, contact_scale_key, lognormal_days
from populace.models.covid_nyc.model import NYC_START_DATE, STAGE_OBSERVABLES, CovidDisease, CovidNYC
from populace.models.covid_nyc.params import CovidParams, age_band_index

__all__ = [
    "NYC_START_DATE",
    "STAGE_OBSERVABLES",
    "CovidDisease",
    "CovidNYC",
    "CovidParams",
    "Progression",
    "Stage",
    "Transmission",
    "age_band_index",
    "contact_scale_key",
    "lognormal_days",
]
