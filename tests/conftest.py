"""Tests marked `needs_data` read the real tables in the data directory (`../shared/data` or $POPULACE_DATA).

Without that directory they are skipped, with the reason, on a developer's machine; under CI (CI=true) a missing
data directory is an error instead, so a misplaced data folder can never turn the suite green by skipping.
"""

import os

import pytest
import torch

from populace.data import data_dir


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_data: reads the real NYC tables from the data directory")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_data") is None:
        return
    try:
        data_dir()
    except FileNotFoundError as missing:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"needs the real data tables: {missing}")


@pytest.fixture
def one_thread():
    """Single-threaded torch for small models: on a shared 2-core machine a second thread makes small sparse
    products far slower. Use with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
