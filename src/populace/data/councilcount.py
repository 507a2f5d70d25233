"""NYC Council Data Team `councilcount` tables: ACS 2019-2023 5-year estimates per borough and per 2020 NTA.

Files `nyc/councilcount/borough-geographies_2023.csv` (5 rows, keyed by `borough`, spelled "The Bronx") and
`nyc/councilcount/nta-geographies_2023.csv` (262 rows, keyed by `nta_code` and `nta2020`, the NTA name). Columns
are ACS variable codes with a suffix: E estimate, M margin of error, PE percent, PM percent margin, V coefficient of
variation (see `data_dictionary_2023.csv`); the loader keeps estimates. The NTA rows carry no borough column: an
NTA's borough is the one its code starts with (City Planning's), which is not always its county: Kingsbridge-Marble
Hill (BX0802) holds Marble Hill, part of New York County, and Rikers Island (QN0151) lies in Bronx County.
So NTA sums per borough differ from the borough rows by up to about 1%, while the citywide sums agree.
"""

import os
from typing import Literal

import pandas as pd

from populace.data.boroughs import borough_from
from populace.data.files import as_counts, read_csv
from populace.data.paths import source_file
from populace.data.shipped import shipped_fallback

BOROUGH_FILE = "nyc/councilcount/borough-geographies_2023.csv"
NTA_FILE = "nyc/councilcount/nta-geographies_2023.csv"
_ESTIMATES = {
    "B01001_001E": "population", "B19001_001E": "households", "B08201_007E": "size_1", "B08201_013E": "size_2",
    "B08201_019E": "size_3", "B08201_025E": "size_4_plus",
}
HOUSEHOLD_SIZES: dict[str, int] = {"size_1": 1, "size_2": 2, "size_3": 3, "size_4_plus": 4}
"""Household size column -> persons per household (the lower bound, 4, for "4 or more")."""


@shipped_fallback({"level": "borough"}, {"level": "nta"})
def councilcount_household_sizes(level: Literal["borough", "nta"] = "borough",
                                 data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Households by size (1, 2, 3, 4 or more persons) and residents, per borough or per 2020 NTA.

    ACS 2019-2023 5-year estimates, int32 counts (source column in brackets):

    - `level="borough"`: 5 rows, `borough` (categorical) [borough, "The Bronx" -> "Bronx"].
    - `level="nta"`: 262 rows, `nta_code` (str, e.g. "BK0101") [nta_code], `nta_name` (str) [nta2020] and
      `borough` (categorical): the borough of the code's first two letters (see the module docstring for the two
      NTAs whose county differs). Parks, cemeteries and airports are included, with no or few households.
    - `population`, persons [B01001_001E].
    - `households`, occupied housing units [B19001_001E].
    - `size_1`, `size_2`, `size_3`, `size_4_plus`, households with 1, 2, 3, and 4 or more persons [B08201_007E,
      B08201_013E, B08201_019E, B08201_025E]; they sum to `households`.

    Raises FileNotFoundError when the file is missing, DataFileError when it is malformed (not a CSV, empty,
    missing columns, an unknown borough name or NTA code prefix, counts that are not whole numbers).
    """
    if level not in ("borough", "nta"):
        raise ValueError(f"level must be 'borough' or 'nta', got {level!r}.")
    relative, keys = (BOROUGH_FILE, ["borough"]) if level == "borough" else (NTA_FILE, ["nta_code", "nta2020"])
    file = source_file(relative, data_dir)
    raw = read_csv(file, columns=[*keys, *_ESTIMATES])
    if level == "borough":
        table = pd.DataFrame({"borough": borough_from(raw["borough"], source=str(file))})
    else:
        codes = raw["nta_code"].astype(str)
        table = pd.DataFrame({"nta_code": codes, "nta_name": raw["nta2020"].astype(str),
                              "borough": borough_from(codes.str[:2], source=f"{file} (nta_code prefixes)")})
    counts = as_counts(raw, list(_ESTIMATES), file).rename(columns=_ESTIMATES)
    table = pd.concat([table, counts], axis=1)
    order = ["borough"] if level == "borough" else ["borough", "nta_code"]
    return table.sort_values(order, ignore_index=True)

