"""Loaders for the real data behind the NYC models, each source's quirks handled, as tidy pandas DataFrames.

The raw files are read where they live (see `populace.data.paths.data_dir`); every loader takes `data_dir=`.
Where no raw data directory exists, the loaders the NYC models need return compact tables shipped with the package
(`populace.data.shipped`).
A missing file raises FileNotFoundError, a malformed one `DataFileError`, both saying what to fix.
"""

from populace.data.boroughs import BOROUGHS
from populace.data.census import census_county_population
from populace.data.commuting import acs_commuting_flows, commuting_shares
from populace.data.contacts import contact_matrix, prem2021_contacts
from populace.data.councilcount import councilcount_household_sizes
from populace.data.dcp import dcp_nta_households, dcp_nta_profiles
from populace.data.dohmh import dohmh_daily, dohmh_tests
from populace.data.epi import covid_parameters
from populace.data.errors import DataFileError
from populace.data.nysdol import nysdol_unemployment
from populace.data.paths import data_dir
from populace.data.vaccination import dohmh_vaccination
from populace.data.variants import dohmh_variants

__all__ = [
    "BOROUGHS",
    "DataFileError",
    "acs_commuting_flows",
    "census_county_population",
    "commuting_shares",
    "contact_matrix",
    "councilcount_household_sizes",
    "covid_parameters",
    "data_dir",
    "dcp_nta_households",
    "dcp_nta_profiles",
    "dohmh_daily",
    "dohmh_tests",
    "dohmh_vaccination",
    "dohmh_variants",
    "nysdol_unemployment",
    "prem2021_contacts",
]
