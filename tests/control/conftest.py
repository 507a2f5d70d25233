"""Single-threaded torch for these small models: on a shared 2-core machine a second thread makes small sparse
products hundreds of times slower."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
