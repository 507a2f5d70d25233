"""One canonical borough name for every spelling the sources use."""

import pandas as pd
import pytest

from populace.data import DataFileError
from populace.data.boroughs import BOROUGHS, borough_from, borough_from_county_fips


def test_every_source_spelling_maps_to_its_borough():
    spellings = pd.Series(["The Bronx", "Kings", "New York  County", "QN", "Richmond County", "staten island"])
    assert borough_from(spellings, source="test").tolist() == [
        "Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island", "Staten Island"]


def test_county_fips_codes_map_to_boroughs_in_order():
    assert borough_from_county_fips(pd.Series([5, 47, 61, 81, 85]), source="test").tolist() == list(BOROUGHS)


def test_unknown_names_and_codes_are_refused():
    with pytest.raises(DataFileError, match=r"test: unknown borough or county name\(s\) \['Westchester'\]"):
        borough_from(pd.Series(["Bronx", "Westchester"]), source="test")
    with pytest.raises(DataFileError, match=r"county FIPS code\(s\) \[119\] are not in New York City"):
        borough_from_county_fips(pd.Series([119]), source="test")
