"""The City Planning workbooks take seconds to parse: read each once per test session."""

import pytest

from populace.data import dcp_nta_households, dcp_nta_profiles


@pytest.fixture(scope="session")
def dcp_profiles():
    return dcp_nta_profiles()


@pytest.fixture(scope="session")
def dcp_households():
    return dcp_nta_households()
