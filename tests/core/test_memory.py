"""`populace.core.memory`: large blocks unmapped while a differentiable run records its graph."""

from __future__ import annotations

import subprocess
import sys

import pytest

from populace.core import memory
from populace.models.sir import SIR


class RecordingLibc:
    """A stand-in for glibc that records the calls."""

    def __init__(self):
        self.calls: list[tuple] = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append(("mallopt", option, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = RecordingLibc()
    monkeypatch.setattr(memory, "_glibc", lambda: fake)
    return fake


def test_the_threshold_is_set_then_restored(libc):
    with memory.large_blocks_unmapped() as active:
        assert active
        assert libc.calls == [("mallopt", memory.M_MMAP_THRESHOLD, 1 << 20), ("malloc_trim", 0)]
    assert libc.calls[2:] == [("mallopt", memory.M_MMAP_THRESHOLD, 32 << 20),
                              ("mallopt", memory.M_TRIM_THRESHOLD, 64 << 20)]


def test_restored_after_an_error(libc):
    with pytest.raises(RuntimeError), memory.large_blocks_unmapped():
        raise RuntimeError("inside")
    assert libc.calls[-2:] == [("mallopt", memory.M_MMAP_THRESHOLD, 32 << 20),
                               ("mallopt", memory.M_TRIM_THRESHOLD, 64 << 20)]


def test_only_a_differentiable_run_changes_it(libc):
    model = SIR.random_network(200, contacts_per_agent=4, initial_infected=2)
    model.run(3, seed=1)
    assert libc.calls == []
    model.run(3, seed=1, differentiable=True)
    assert [call[:2] for call in libc.calls] == [("mallopt", memory.M_MMAP_THRESHOLD), ("malloc_trim", 0),
                                                 ("mallopt", memory.M_MMAP_THRESHOLD),
                                                 ("mallopt", memory.M_TRIM_THRESHOLD)]


def test_nothing_happens_without_glibc(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    with memory.large_blocks_unmapped() as active:
        assert not active


@pytest.mark.parametrize("from_bytes", [0, -1, (32 << 20) + 1])
def test_bad_sizes_are_refused(from_bytes):
    with pytest.raises(ValueError, match="from_bytes"), memory.large_blocks_unmapped(from_bytes):
        pass


FRESH_PROCESS_CHECK = """
import os, torch
from populace.core import memory

def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

with memory.large_blocks_unmapped():
    before = resident()
    blocks = [torch.ones(1 << 20) for _ in range(16)]  # 16 x 4 MiB, pages touched
    grown = resident() - before
    del blocks
    print(grown, resident() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or memory._glibc() is None, reason="needs Linux and glibc")
def test_freed_blocks_leave_resident_memory():
    """64 MiB in 4 MiB tensors, written and freed: inside the context the resident size falls back at once.
    In a fresh process, so that no free heap chunk left by earlier work can serve the blocks."""
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS_CHECK], capture_output=True, text=True, check=True)
    grown, left = (int(value) for value in result.stdout.split())
    assert grown >= 60 << 20
    assert left <= 4 << 20
