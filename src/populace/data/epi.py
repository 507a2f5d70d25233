"""Published COVID-19 natural-history estimates (`epi/covid19_natural_history.csv`), the ones the models use.

The file is a table typed from the sources (see `../shared/data/SOURCES.md`, section "Published model estimates"),
one row per estimate with `parameter, age_band, estimate, lower, upper, interval, unit, ..., source, doi`. The
loader picks the rows Populace's COVID-19 model uses (below) and returns them in model units (IFR as a fraction,
not a percentage), each with its source, so a model's defaults can be checked against the data they came from:

- incubation period, lognormal: meanlog 1.63, sdlog 0.5 log(days), pooled over 8 studies (McAloon C et al. 2020,
  BMJ Open, doi 10.1136/bmjopen-2020-039652; median 5.1 days, as in Lauer SA et al. 2020, doi 10.7326/M20-0504);
- asymptomatic fraction of infections: 0.20 (Buitrago-Garcia D et al. 2020, PLoS Med, doi
  10.1371/journal.pmed.1003346, 79 studies);
- onset to death, lognormal: mean 20.2, sd 11.6 days (Linton NM et al. 2020, J Clin Med, doi 10.3390/jcm9020538);
- generation time mean 5.7 days (Lau YC et al. 2021, J Infect Dis, doi 10.1093/infdis/jiab424) and serial interval
  sd 2.9 days (Nishiura H et al. 2020, Int J Infect Dis, doi 10.1016/j.ijid.2020.02.060), for the infectiousness
  profile;
- infection fatality ratio by 5-year age band, 0-4 ... 85-89, 90+ (19 bands), with seroreversion (Brazeau NF et al.
  2022, Communications Medicine 2:54, doi 10.1038/s43856-022-00106-7, Table 2).
"""

from __future__ import annotations

import os

import pandas as pd

from populace.data.errors import DataFileError
from populace.data.files import read_csv
from populace.data.paths import source_file

NATURAL_HISTORY_FILE = "epi/covid19_natural_history.csv"
IFR_AGE_BANDS = ("0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
                 "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+")
"""Brazeau 2022's age bands: 5-year bands from 0-4 to 85-89, then 90+."""

# (name in the result, parameter in the file, a substring of its `source`, a substring of its `population`)
_SCALARS = (
    ("incubation_period_meanlog", "incubation_period_meanlog", "McAloon", "pooled"),
    ("incubation_period_sdlog", "incubation_period_sdlog", "McAloon", "pooled"),
    ("asymptomatic_fraction", "asymptomatic_fraction", "Buitrago-Garcia", "79 studies"),
    ("onset_to_death_mean", "onset_to_death_mean", "Linton", "deaths"),
    ("onset_to_death_sd", "onset_to_death_sd", "Linton", "deaths"),
    ("generation_time_mean", "generation_time_mean", "Lau YC", "transmission pairs"),
    ("serial_interval_sd", "serial_interval_sd", "Nishiura", "pairs"),
)
_IFR = ("ifr", "Brazeau", "with seroreversion")
_COLUMNS = ["parameter", "age_band", "estimate", "lower", "upper", "unit", "population", "source", "doi"]


def covid_parameters(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The COVID-19 estimates the Populace disease model uses, in model units, with their sources.

    One row per value: `name` (e.g. "incubation_period_meanlog", "ifr"), `age_band` ("all", or a Brazeau band
    such as "85-89" for `ifr`), `value`, `lower`, `upper` (the published interval, NaN when none), `unit`
    ("days", "log(days)", "proportion"), `source` and `doi`. IFR rows come in `IFR_AGE_BANDS` order, converted
    from percent to a proportion. Raises FileNotFoundError when the file is missing and DataFileError when a
    row the model needs is missing or duplicated.
    """
    file = source_file(NATURAL_HISTORY_FILE, data_dir)
    raw = read_csv(file, columns=_COLUMNS)
    rows = []
    for name, parameter, source, population in _SCALARS:
        row = _one(raw, file, parameter, "all", source, population)
        rows.append({"name": name, "age_band": "all", **row})
    for band in IFR_AGE_BANDS:
        row = _one(raw, file, _IFR[0], band, _IFR[1], _IFR[2])
        if row["unit"] != "percent":
            raise DataFileError(f"{file}: IFR for {band} is in {row['unit']!r}, expected 'percent'")
        row.update(value=row["value"] / 100, lower=row["lower"] / 100, upper=row["upper"] / 100, unit="proportion")
        rows.append({"name": "ifr", "age_band": band, **row})
    return pd.DataFrame(rows, columns=["name", "age_band", "value", "lower", "upper", "unit", "source", "doi"])


def _one(raw: pd.DataFrame, file: os.PathLike[str], parameter: str, band: str, source: str,
         population: str) -> dict[str, object]:
    """The single row of `raw` for (parameter, band) whose source and population contain the given substrings."""
    match = raw[(raw["parameter"] == parameter) & (raw["age_band"].astype(str) == band)
                & raw["source"].astype(str).str.contains(source, regex=False)
                & raw["population"].astype(str).str.contains(population, regex=False)]
    if len(match) != 1:
        raise DataFileError(f"{file}: expected one row with parameter={parameter!r}, age_band={band!r}, source "
                            f"containing {source!r} and population containing {population!r}; found {len(match)}. "
                            "Is this the natural-history table described in SOURCES.md?")
    row = match.iloc[0]
    return {"value": float(row["estimate"]), "lower": float(row["lower"]), "upper": float(row["upper"]),
            "unit": str(row["unit"]), "source": str(row["source"]), "doi": str(row["doi"])}
