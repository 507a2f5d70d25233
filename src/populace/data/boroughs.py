"""The five boroughs of New York City and the names and codes each source uses for them.

One canonical name per borough (`BOROUGHS`, in the order of their county FIPS codes); every loader maps its source's
spelling onto these names with `borough_from`, so tables from different agencies join on `borough`.

| borough | county | county FIPS (state 36) | code (DOHMH, City Planning NTA codes) |
|---|---|---|---|
| Bronx | Bronx | 005 | BX |
| Brooklyn | Kings | 047 | BK |
| Manhattan | New York | 061 | MN |
| Queens | Queens | 081 | QN |
| Staten Island | Richmond | 085 | SI |
"""

import pandas as pd

from populace.data.errors import DataFileError

BOROUGHS: tuple[str, ...] = ("Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island")
COUNTY_FIPS: dict[str, int] = {"Bronx": 5, "Brooklyn": 47, "Manhattan": 61, "Queens": 81, "Staten Island": 85}
COUNTY_NAMES: dict[str, str] = {
    "Bronx": "Bronx", "Brooklyn": "Kings", "Manhattan": "New York", "Queens": "Queens", "Staten Island": "Richmond",
}
BOROUGH_CODES: dict[str, str] = {
    "Bronx": "BX", "Brooklyn": "BK", "Manhattan": "MN", "Queens": "QN", "Staten Island": "SI",
}

BOROUGH_DTYPE = pd.CategoricalDtype(BOROUGHS, ordered=True)
"""Categorical dtype of every `borough` column the loaders return."""


def _alias_table() -> dict[str, str]:
    """Every known spelling, lower-cased with single spaces, mapped to its canonical borough name."""
    aliases: dict[str, str] = {}
    for name in BOROUGHS:
        county = COUNTY_NAMES[name]
        for alias in (name, f"The {name}", county, f"{county} County", f"{name} County", BOROUGH_CODES[name]):
            aliases[" ".join(alias.lower().split())] = name
    return aliases


_ALIASES = _alias_table()


def borough_from(names: pd.Series, *, source: str) -> pd.Series:
    """Canonical borough names for a column of source spellings, as a `BOROUGH_DTYPE` categorical.

    Accepted, case-insensitively and ignoring repeated spaces: the borough ("Staten Island", "The Bronx"), the county
    ("Kings", "New York  County", "Richmond County") and the two-letter code ("BK"). `source` names the file in the
    error raised for a spelling that is none of these.
    """
    keys = names.astype(str).str.lower().str.split().str.join(" ")
    mapped = keys.map(_ALIASES)
    unknown = sorted(set(names[mapped.isna()].astype(str)))
    if unknown:
        raise DataFileError(
            f"{source}: unknown borough or county name(s) {unknown}; expected one of {list(BOROUGHS)}, their county "
            f"names {sorted(set(COUNTY_NAMES.values()))} or codes {sorted(BOROUGH_CODES.values())}."
        )
    return mapped.astype(BOROUGH_DTYPE)


def borough_from_county_fips(fips: pd.Series, *, source: str) -> pd.Series:
    """Canonical borough names for a column of county FIPS codes within New York State (5, 47, 61, 81, 85)."""
    by_fips = {code: name for name, code in COUNTY_FIPS.items()}
    mapped = fips.map(by_fips)
    unknown = sorted(set(fips[mapped.isna()].tolist()))
    if unknown:
        raise DataFileError(f"{source}: county FIPS code(s) {unknown} are not in New York City {sorted(by_fips)}.")
    return mapped.astype(BOROUGH_DTYPE)
