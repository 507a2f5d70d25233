r"""How freed tensor memory goes back to the operating system while a differentiable run records its graph.

glibc's malloc serves a large allocation from its heap once a block of that size has been freed (its "dynamic
mmap threshold" rises to the largest freed block, up to 32 MiB), and keeps freed heap memory for reuse. That
suits fast mode: a day's temporaries reuse the last day's pages. A differentiable run is different: each day's
tensors saved for the backward pass stay alive between that day's temporaries, so the freed temporaries are
holes the heap cannot hand back, and the process's peak resident memory grows by about the temporaries' size
every day. At 1M agents x 21 days of SIR that was 2.3 GiB resident for 1.25 GiB of live tensors
(docs/performance.md).

`large_blocks_unmapped` fixes the threshold at 1 MiB for the duration: every allocation of at least 1 MiB (an
[N] float tensor from N = 262,144 agents) gets its own mapping, returned to the system the moment it is freed,
so resident memory follows live memory; on entry the heap's free pages go back (`malloc_trim`). Afterwards the
threshold is set to 32 MiB and the trim threshold to 64 MiB: what glibc's own rule reaches for tensors of that
size. Elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
UNMAPPED_FROM_BYTES = 1 << 20
"""Allocations of at least this size are mapped on their own while `large_blocks_unmapped` is active."""
RESTORED_MMAP_THRESHOLD = 32 << 20
"""glibc's largest dynamic mmap threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX)."""
RESTORED_TRIM_THRESHOLD = 2 * RESTORED_MMAP_THRESHOLD
"""The trim threshold glibc sets beside a dynamic mmap threshold (twice it)."""


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library if it has glibc's ``mallopt`` and ``malloc_trim``, else None."""
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name) if name else None
        if library is None or not (hasattr(library, "mallopt") and hasattr(library, "malloc_trim")):
            return None
    except OSError:
        return None
    library.mallopt.argtypes, library.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    library.malloc_trim.argtypes, library.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return library


def _set(option: int, value: int) -> bool:
    glibc = _glibc()
    return glibc is not None and glibc.mallopt(option, value) == 1


@contextmanager
def large_blocks_unmapped(from_bytes: int = UNMAPPED_FROM_BYTES) -> Iterator[bool]:
    """While active, allocations of at least `from_bytes` are separate mappings, unmapped when freed.

    Yields whether the C library took the setting (False outside glibc: then nothing changed).
    """
    if not 0 < from_bytes <= RESTORED_MMAP_THRESHOLD:
        raise ValueError(f"from_bytes must be in (0, {RESTORED_MMAP_THRESHOLD}], got {from_bytes}")
    active = _set(M_MMAP_THRESHOLD, from_bytes)
    if active:
        _glibc().malloc_trim(0)  # what the heap holds free now (e.g. a network build's temporaries) goes back
    try:
        yield active
    finally:
        if active:
            _set(M_MMAP_THRESHOLD, RESTORED_MMAP_THRESHOLD)
            _set(M_TRIM_THRESHOLD, RESTORED_TRIM_THRESHOLD)
