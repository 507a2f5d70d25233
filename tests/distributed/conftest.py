"""Fixtures of the distributed tests."""

from __future__ import annotations

import datetime as dt

import pytest
import torch.distributed as dist
from spawning import free_port


@pytest.fixture
def one_rank_group():
    """A gloo group of this process alone: the 1-process run, and checks that fail before any message is sent."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1,
                            timeout=dt.timedelta(seconds=30))
    yield
    dist.destroy_process_group()
