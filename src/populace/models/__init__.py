"""Models built on the engine, one folder per model; each model is imported on first use.

`populace.models.SIR` or `from populace.models import CovidNYC` imports that model's folder (and what it needs)
the first time it is read, so that using one model does not load the others (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and editors; at run time each model loads on first use
    from populace.models.commons.model import Commons
    from populace.models.cooperation.model import Cooperation
    from populace.models.covid_nyc.model import CovidDisease, CovidNYC
    from populace.models.predator_prey.model import PredatorPrey
    from populace.models.sir import SIR
    from populace.models.social.model import SocialMedia
    from populace.models.tax.model import TaxPolicy

MODELS = {
    "SIR": "populace.models.sir",
    "CovidDisease": "populace.models.covid_nyc.model",
    "CovidNYC": "populace.models.covid_nyc.model",
    "TaxPolicy": "populace.models.tax.model",
    "Commons": "populace.models.commons.model",
    "Cooperation": "populace.models.cooperation.model",
    "PredatorPrey": "populace.models.predator_prey.model",
    "SocialMedia": "populace.models.social.model",
}
"""Each model class and the module that defines it."""

__all__ = ["SIR", "Commons", "Cooperation", "CovidDisease", "CovidNYC", "PredatorPrey", "SocialMedia", "TaxPolicy"]


def __getattr__(name: str) -> type:
    """`populace.models.SIR` and the other MODELS: the module that defines the class is imported when first read."""
    if name in MODELS:
        model = getattr(importlib.import_module(MODELS[name]), name)
        globals()[name] = model  # later reads find it without coming here
        return model
    raise AttributeError(f"module 'populace.models' has no attribute {name!r}; the models are {', '.join(MODELS)}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
