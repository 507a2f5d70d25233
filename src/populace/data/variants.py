"""NYC DOHMH SARS-CoV-2 lineages of sequenced cases per week (repository nychealth/coronavirus-data, `variants/`).

`nyc/variants/variant-epi-data.csv`: one row per specimen week ending on a Saturday ("Sequence week",
MM/DD/YYYY), a `<lineage> count` and a `<lineage> percent` column per lineage (B.1.526 +E484K, B.1.526 no E484K,
B.1.1.7, P.1, B.1.427, B.1.429, B.1.351, B.1.617.2, B.1.621, the Omicron sublineages, Other) and an `incomplete`
flag for the last weeks of a release. Quirks: CRLF line ends; one header has a double space
(`B.1.526 +E484K  percent`); percents are rounded to integers, so the loader derives shares from the counts;
later releases add lineage columns (kept under `other` unless named in `LINEAGE_VARIANTS`) and later weeks
(kept); rows with every field blank are skipped. Shares are of SEQUENCED cases (1-16% of confirmed cases in
January-June 2021), not of all infections.
"""

from __future__ import annotations

import os

import pandas as pd

from populace.data.errors import DataFileError
from populace.data.files import as_counts, read_csv
from populace.data.paths import source_file
from populace.data.shipped import shipped_fallback
from populace.data.vaccination import _non_blank

VARIANTS_FILE = "nyc/variants/variant-epi-data.csv"
WEEK_COLUMN = "Sequence week"
LINEAGE_VARIANTS = {"B.1.1.7": "alpha", "B.1.526 +E484K": "iota", "B.1.526 no E484K": "iota",
                    "B.1.617.2": "delta"}
"""The lineages the NYC model follows and their WHO names; every other lineage counts as `other`."""
VARIANTS = ("other", "alpha", "iota", "delta")
"""The variant columns of `dohmh_variants`, in the order of the model's strain codes."""


@shipped_fallback({})
def dohmh_variants(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Weekly counts of sequenced COVID-19 cases in NYC by variant: Alpha, Iota, Delta and all others.

    One row per specimen week, sorted; columns:

    - `week_ending` (datetime64, a Saturday): the week of Sunday to Saturday [Sequence week].
    - `sequenced` (int32): sequenced cases of the week, the sum of every lineage's count column.
    - `other`, `alpha`, `iota`, `delta` (int32): counts [B.1.1.7 count -> alpha; B.1.526 +E484K count + B.1.526 no
      E484K count -> iota; B.1.617.2 count -> delta; every other `* count` column, including `Other count` ->
      other]; they sum to `sequenced`.
    - `is_incomplete` (bool): the publisher flags the week as incomplete (reports still arriving) [incomplete].

    Raises FileNotFoundError when the file is missing and DataFileError when it is malformed (not a CSV, missing
    columns, a week that is not MM/DD/YYYY, not a Saturday, repeated or out of order, counts that are not whole
    numbers >= 0).
    """
    file = source_file(VARIANTS_FILE, data_dir)
    raw = read_csv(file, columns=[WEEK_COLUMN, *(f"{lineage} count" for lineage in LINEAGE_VARIANTS)], dtype=str)
    raw.columns = [" ".join(str(name).split()) for name in raw.columns]
    raw = _non_blank(raw)
    weeks = pd.to_datetime(raw[WEEK_COLUMN].str.strip(), format="%m/%d/%Y", errors="coerce")
    if weeks.isna().any():
        raise DataFileError(f"{file}: {WEEK_COLUMN} {raw[WEEK_COLUMN][weeks.isna()].iloc[0]!r} is not MM/DD/YYYY.")
    if (weeks.dt.day_of_week != 5).any():
        raise DataFileError(f"{file}: {WEEK_COLUMN} {raw[WEEK_COLUMN][weeks.dt.day_of_week != 5].iloc[0]!r} is not a "
                            "Saturday; the weeks run Sunday to Saturday.")
    if weeks.duplicated().any() or not weeks.is_monotonic_increasing:
        raise DataFileError(f"{file}: {WEEK_COLUMN} must increase row by row without repeats; found "
                            f"{raw[WEEK_COLUMN].tolist()[:3]} ...")
    count_columns = [name for name in raw.columns if name.endswith(" count")]
    counts = as_counts(raw, count_columns, file)
    table = pd.DataFrame({"week_ending": weeks, "sequenced": counts.sum(axis=1).astype("int32")})
    for variant in VARIANTS:
        lineages = [f"{lineage} count" for lineage, name in LINEAGE_VARIANTS.items() if name == variant]
        if variant == "other":
            lineages = [name for name in count_columns if name.removesuffix(" count") not in LINEAGE_VARIANTS]
        table[variant] = counts[lineages].sum(axis=1).astype("int32")
    flag = raw["incomplete"] if "incomplete" in raw else pd.Series("", index=raw.index)
    table["is_incomplete"] = flag.fillna("").astype(str).str.strip().ne("")
    return table
