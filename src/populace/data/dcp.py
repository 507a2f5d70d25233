"""NYC Department of City Planning neighbourhood profiles: ACS 2017-2021 5-year estimates per 2020 NTA.

Files `nyc/dcp/demo_2021acs5yr_nta.xlsx` (sheet DemData), `nyc/dcp/econ_2021acs5yr_nta.xlsx` (sheet EconData)
and `nyc/dcp/soc_2021acs5yr_nta.xlsx` (sheet SocData): one row per Neighborhood Tabulation Area (262), identified
by GeoID (e.g. "BK0101"), GeogName, Borough and NTAType. Every variable has five columns named by a suffix:
E estimate, M margin of error, C coefficient of variation, P percent, Z percent margin of error; the loaders keep
estimates only (E). NTAType 0 is a residential
neighbourhood; 5 Rikers Island, 6 other special areas, 7 cemeteries, 8 airports, 9 parks, with few or no residents.
"""

import os

import pandas as pd

from populace.data.boroughs import borough_from
from populace.data.census import AGE_BANDS
from populace.data.errors import DataFileError
from populace.data.files import as_counts, read_xlsx
from populace.data.paths import source_file
from populace.data.shipped import shipped_fallback

DEMO_FILE = "nyc/dcp/demo_2021acs5yr_nta.xlsx"
ECON_FILE = "nyc/dcp/econ_2021acs5yr_nta.xlsx"
SOC_FILE = "nyc/dcp/soc_2021acs5yr_nta.xlsx"
NTA_TYPES: dict[int, str] = {0: "residential", 5: "rikers_island", 6: "special", 7: "cemetery", 8: "airport", 9: "park"}
"""NTAType code -> `nta_type` label."""

_ID_COLUMNS = ["GeoID", "GeogName", "Borough", "NTAType"]
_AGE_CODES = ["PopU5", *(f"Pop{a}t{a + 4}" for a in range(5, 85, 5)), "Pop85pl"]
_AGE_COLUMNS = ["age_" + band.replace("-", "_").replace("+", "_plus") for band in AGE_BANDS]
_DEMO = {
    "Pop_1E": "population", "MaleE": "male", "FemE": "female",
    **{f"{code}E": column for code, column in zip(_AGE_CODES, _AGE_COLUMNS, strict=True)},
    "Hsp1E": "hispanic", "WtNHE": "white_nh", "BlNHE": "black_nh", "AIANNHE": "aian_nh", "AsnNHE": "asian_nh",
    "NHPINHE": "nhpi_nh", "OthNHE": "other_nh", "Rc2plNHE": "two_or_more_nh",
}
_ECON = {
    "Pop16plE": "pop_16_plus", "LFE": "labor_force", "CvLF1E": "civilian_labor_force", "CvEm16pl1E": "employed",
    "CvLFUEm1E": "unemployed", "LFArmdFE": "armed_forces", "NLF1E": "not_in_labor_force",
    "AgFFHME": "ind_agriculture_mining", "ConstctnE": "ind_construction", "MnfctrngE": "ind_manufacturing",
    "WhlsaleE": "ind_wholesale_trade", "RetailE": "ind_retail_trade", "TrWHUtE": "ind_transportation_utilities",
    "InfoE": "ind_information", "FIREE": "ind_finance_real_estate", "PrfSMgAWME": "ind_professional_management",
    "EdHlthCSAE": "ind_education_health", "ArtEnRAFSE": "ind_arts_food", "OthnotPAE": "ind_other_services",
    "PubAdminE": "ind_public_administration",
    "MgBSciArtE": "occ_management_science_arts", "SrvcE": "occ_service", "SalesOffE": "occ_sales_office",
    "NRCnstMntE": "occ_construction_maintenance", "PrdTrnsMME": "occ_production_transport",
}
_SOC = {
    "HH1E": "households", "HHPopE": "household_population", "Fam1E": "family_households",
    "NFam1E": "nonfamily_households", "NFamAE": "living_alone", "HH1plU18E": "households_with_under_18",
    "HH1pl65plE": "households_with_65_plus",
}
INDUSTRIES: tuple[str, ...] = tuple(v for v in _ECON.values() if v.startswith("ind_"))
OCCUPATIONS: tuple[str, ...] = tuple(v for v in _ECON.values() if v.startswith("occ_"))


def _read_profile(data_dir: str | os.PathLike[str] | None, relative: str, sheet: str,
                  estimates: dict[str, str]) -> pd.DataFrame:
    """One DCP profile sheet: the ID columns and the renamed `estimates` as int32 counts, indexed by GeoID."""
    file = source_file(relative, data_dir)
    raw = read_xlsx(file, sheet=sheet, columns=[*_ID_COLUMNS, *estimates])
    if raw["GeoID"].duplicated().any():
        raise DataFileError(f"{file}: NTA code(s) {sorted(set(raw['GeoID'][raw['GeoID'].duplicated()]))} appear twice.")
    unknown = sorted(set(raw["NTAType"]) - set(NTA_TYPES))
    if unknown:
        raise DataFileError(f"{file}: unknown NTAType code(s) {unknown}; expected {sorted(NTA_TYPES)}.")
    table = pd.DataFrame({
        "nta_code": raw["GeoID"].astype(str),
        "nta_name": raw["GeogName"].astype(str),
        "borough": borough_from(raw["Borough"], source=str(file)),
        "nta_type": pd.Categorical(raw["NTAType"].map(NTA_TYPES), categories=list(NTA_TYPES.values())),
    })
    counts = as_counts(raw, list(estimates), file).rename(columns=estimates)
    return pd.concat([table, counts], axis=1)


@shipped_fallback({"residential_only": False}, {"residential_only": True})
def dcp_nta_profiles(data_dir: str | os.PathLike[str] | None = None, *, residential_only: bool = False) -> pd.DataFrame:
    """Residents of each 2020 NTA by sex, age band, race / Hispanic origin, labour force status, industry, occupation.

    One row per NTA (262, or the 197 residential ones with `residential_only=True`), sorted by borough and code. ACS
    2017-2021 5-year estimates, all int32 counts of persons (source column in brackets, from DemData unless marked
    EconData); NTAs with `nta_type` other than "residential" (parks, cemeteries, airports, Rikers Island, other
    special areas) are kept, flagged by `nta_type`, and have few or no residents:

    - `nta_code` (str, e.g. "BK0101") [GeoID], `nta_name` (str) [GeogName], `borough` (categorical) [Borough],
      `nta_type` (categorical, `NTA_TYPES` labels) [NTAType].
    - `population` [Pop_1E] = `male` [MaleE] + `female` [FemE].
    - `age_0_4`, `age_5_9`, ..., `age_80_84`, `age_85_plus` [PopU5E, Pop5t9E, ..., Pop80t84E, Pop85plE]: the 18
      Census age bands (`populace.data.census.AGE_BANDS`), summing to `population`.
    - `hispanic` [Hsp1E] (of any race), and not Hispanic by race alone: `white_nh` [WtNHE], `black_nh` [BlNHE],
      `aian_nh` [AIANNHE], `asian_nh` [AsnNHE], `nhpi_nh` [NHPINHE], `other_nh` [OthNHE], and
      `two_or_more_nh` [Rc2plNHE]; these 8 sum to `population`.
    - Labour force, persons 16 and over (EconData): `pop_16_plus` [Pop16plE] = `labor_force` [LFE] +
      `not_in_labor_force` [NLF1E]; `labor_force` = `civilian_labor_force` [CvLF1E] + `armed_forces` [LFArmdFE];
      `civilian_labor_force` = `employed` [CvEm16pl1E] + `unemployed` [CvLFUEm1E].
    - `INDUSTRIES`, the 13 ACS industry sectors of the civilian employed (EconData: AgFFHME, ConstctnE, MnfctrngE,
      WhlsaleE, RetailE, TrWHUtE, InfoE, FIREE, PrfSMgAWME, EdHlthCSAE, ArtEnRAFSE, OthnotPAE, PubAdminE), columns
      `ind_*`, summing to `employed`.
    - `OCCUPATIONS`, the 5 ACS occupation groups of the civilian employed (EconData: MgBSciArtE, SrvcE, SalesOffE,
      NRCnstMntE, PrdTrnsMME), columns `occ_*`, summing to `employed`.

    Raises FileNotFoundError when a file is missing, DataFileError when one is malformed (not an xlsx workbook, no
    such sheet, missing columns, duplicate or unmatched NTA codes, counts that are not whole numbers).
    """
    demo = _read_profile(data_dir, DEMO_FILE, "DemData", _DEMO)
    econ = _read_profile(data_dir, ECON_FILE, "EconData", _ECON)
    if set(demo["nta_code"]) != set(econ["nta_code"]):
        unmatched = sorted(set(demo["nta_code"]) ^ set(econ["nta_code"]))
        raise DataFileError(f"{DEMO_FILE} and {ECON_FILE} cover different NTAs: {unmatched} in only one of them.")
    profiles = demo.merge(econ.drop(columns=["nta_name", "borough", "nta_type"]), on="nta_code", validate="1:1")
    if residential_only:
        profiles = profiles[profiles["nta_type"] == "residential"]
    return profiles.sort_values(["borough", "nta_code"], ignore_index=True)


def dcp_nta_households(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Households and the residents who live in them (not in group quarters) per 2020 NTA.

    One row per NTA (262), sorted by borough and code; ACS 2017-2021 5-year estimates from SocData, int32 counts
    (source column in brackets). Rikers Island, parks, cemeteries and airports have no or few households.

    - `nta_code`, `nta_name`, `borough`, `nta_type`: as in `dcp_nta_profiles`.
    - `households`, occupied housing units [HH1E] = `family_households` [Fam1E] + `nonfamily_households` [NFam1E].
    - `household_population`, persons living in households [HHPopE]; the rest of `population` lives in group
      quarters (dormitories, prisons, nursing homes, shelters). Mean household size = household_population /
      households (the file's AvgHHSzE, rounded to 2 decimals).
    - `living_alone`, one-person households [NFamAE], a subset of `nonfamily_households`.
    - `households_with_under_18` [HH1plU18E], `households_with_65_plus` [HH1pl65plE]: households with at least one
      member under 18, or 65 and over.

    Raises FileNotFoundError when the file is missing, DataFileError when it is malformed (as `dcp_nta_profiles`).
    """
    households = _read_profile(data_dir, SOC_FILE, "SocData", _SOC)
    return households.sort_values(["borough", "nta_code"], ignore_index=True)
