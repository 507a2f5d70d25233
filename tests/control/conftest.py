"""Every test here runs with single-threaded torch (`one_thread` in tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _single_thread(one_thread: None) -> None:
    """Request `one_thread` for every test of this directory."""
