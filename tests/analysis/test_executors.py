"""Where ensemble members run: the executor specifications accepted and refused (`populace.analysis.executors`).
The Dask run itself is compared with inline runs in tests/models/test_sir_scenarios.py."""

import pytest

from populace.analysis.executors import check_executor, member_executor
from populace.core.errors import InputError


@pytest.mark.parametrize("spec", ["local", "dask://127.0.0.1:8786", "dask://scheduler.example.org:1", "dask://[::1]:8786"])
def test_local_and_dask_addresses_are_accepted(spec):
    assert check_executor(spec) == spec


@pytest.mark.parametrize("spec", ["Local", "dask://127.0.0.1", "dask://127.0.0.1:0", "dask://host:65536",
                                  "tcp://127.0.0.1:8786", "dask://a b:1", ""])
def test_other_executors_are_refused_with_the_forms_that_work(spec):
    with pytest.raises(InputError, match=r"'local' or 'dask://HOST:PORT'"):
        check_executor(spec)


def test_local_runs_inline_with_one_worker_and_in_processes_with_more():
    with member_executor("local", 1) as inline:
        assert inline is None
    with member_executor("local", 2) as pool:
        assert pool.submit(abs, -3).result() == 3
