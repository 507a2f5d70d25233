"""Prem et al. (2021) synthetic contact matrices for the United States, by setting and 5-year age band.

Prem K, van Zandvoort K, Klepac P, Eggo RM, Davies NG, CMMID COVID-19 Working Group, Cook AR, Jit M (2021),
"Projecting contact matrices in 177 geographical regions: an update and comparison with empirical data for the
COVID-19 era", PLOS Computational Biology 17(7): e1009098, doi:10.1371/journal.pcbi.1009098 (matrices GPL-3.0).

Files `contacts/prem2021/prem2021_usa_urban_contacts.csv` (urban settings, suited to New York City) and
`contacts/prem2021/prem2021_usa_contacts.csv` (national): 1,280 rows each, columns setting (home, school, work,
other, all), age_from (the person making the contacts), age_to (the person contacted), contacts_per_day, over
16 bands 0-4 ... 70-74, 75+. all = home + school + work + other. Modelled, not surveyed, and not reciprocal.
"""

import os

import numpy as np
import pandas as pd

from populace.data.errors import DataFileError
from populace.data.files import read_csv
from populace.data.paths import source_file
from populace.data.shipped import shipped_fallback

URBAN_FILE = "contacts/prem2021/prem2021_usa_urban_contacts.csv"
NATIONAL_FILE = "contacts/prem2021/prem2021_usa_contacts.csv"
CONTACT_AGE_BANDS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 75, 5)), "75+")
SETTINGS: tuple[str, ...] = ("home", "school", "work", "other", "all")


@shipped_fallback({"urban": True}, {"urban": False})
def prem2021_contacts(data_dir: str | os.PathLike[str] | None = None, *, urban: bool = True) -> pd.DataFrame:
    """Mean contacts per day M[i, j] that a person in age band i has with people in age band j, per setting.

    One row per setting x age_from x age_to (5 x 16 x 16 = 1280), sorted in that order:

    - `setting` (categorical `SETTINGS`: home, school, work, other, all) [setting].
    - `age_from` (ordered categorical `CONTACT_AGE_BANDS` "0-4" ... "70-74", "75+"): band i of the person making
      the contacts [age_from].
    - `age_to` (same categories): band j of the people contacted [age_to].
    - `contacts_per_day` (float32, >= 0): M[i, j] [contacts_per_day].

    `urban=True` reads the urban matrices (the default, for New York City), `urban=False` the national ones.
    `contact_matrix` turns one setting into a 16 x 16 array. Raises FileNotFoundError when the file is missing,
    DataFileError when it is malformed (not a CSV, empty, missing columns, unknown settings or bands, a missing or
    repeated cell, negative or non-numeric rates).
    """
    file = source_file(URBAN_FILE if urban else NATIONAL_FILE, data_dir)
    raw = read_csv(file, columns=["setting", "age_from", "age_to", "contacts_per_day"], dtype=str)
    allowed = {"setting": SETTINGS, "age_from": CONTACT_AGE_BANDS, "age_to": CONTACT_AGE_BANDS}
    for column, values in allowed.items():
        unknown = sorted(map(str, set(raw[column]) - set(values)))
        if unknown:
            raise DataFileError(f"{file}: unknown {column} value(s) {unknown}; expected {list(values)}.")
    table = pd.DataFrame({
        "setting": pd.Categorical(raw["setting"], categories=SETTINGS),
        "age_from": pd.Categorical(raw["age_from"], categories=CONTACT_AGE_BANDS, ordered=True),
        "age_to": pd.Categorical(raw["age_to"], categories=CONTACT_AGE_BANDS, ordered=True),
        "contacts_per_day": pd.to_numeric(raw["contacts_per_day"], errors="coerce").astype("float32"),
    })
    if not (table["contacts_per_day"] >= 0).all():
        bad = raw["contacts_per_day"][~(table["contacts_per_day"] >= 0)].iloc[0]
        raise DataFileError(f"{file}: contacts_per_day must be a number >= 0, found {bad!r}.")
    cells = len(SETTINGS) * len(CONTACT_AGE_BANDS) ** 2
    repeats = int(table.duplicated(["setting", "age_from", "age_to"]).sum())
    if len(table) != cells or repeats:
        raise DataFileError(f"{file}: expected one row per setting x age_from x age_to ({cells}), "
                            f"found {len(table)} rows, {repeats} of them repeats.")
    return table.sort_values(["setting", "age_from", "age_to"], ignore_index=True)


def contact_matrix(contacts: pd.DataFrame, setting: str) -> np.ndarray:
    """The 16 x 16 float32 matrix M of one setting of a `prem2021_contacts` table: M[i, j] contacts per day that a
    person in band i has with band j (rows: age_from, columns: age_to, both in `CONTACT_AGE_BANDS` order)."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {list(SETTINGS)}, got {setting!r}.")
    rows = contacts[contacts["setting"] == setting]
    matrix = rows.pivot(index="age_from", columns="age_to", values="contacts_per_day")
    return matrix.reindex(index=CONTACT_AGE_BANDS, columns=CONTACT_AGE_BANDS).to_numpy(dtype=np.float32)
