"""Counter-based random numbers: one value per (seed, step, stream, agent id), no generator state.

A draw is a pure function of its coordinates, so a run gives the same numbers whatever the agent order,
however the agents are split into batches or processes, and on CPU or GPU. The construction:

    k1, k2 = splitmix64(seed, step, stream, lane)            # scalar keys, computed once per call in Python
    x      = mix32(mix32(agent_id XOR k1) XOR k2)            # vectorized over agents (CPU: uint32 NumPy chunks)
    u      = ((x >> 9) + 0.5) / 2**23   (float32)   or   (x + 0.5) / 2**32   (float64)

`mix32` is a two-multiply xorshift hash (constants 0x21f0aaad, 0x735a2d97 from C. Wellons' hash prospector)
and a bijection of 32-bit integers, so two agents never share a value within a draw. Both multiplier
constants are below 2**31, so every product of a 32-bit value fits in a signed 64-bit integer: no overflow,
hence identical results on every backend. Uniforms lie in the open interval (0, 1).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF
MAX_AGENT_ID = 2**32 - 1


def stream_id(stream: str | int) -> int:
    """A stable 32-bit code for a stream name (CRC-32; unlike `hash()`, the same in every process)."""
    if isinstance(stream, int):
        if not 0 <= stream <= MASK32:
            raise ValueError(f"stream must be a name or an int in [0, 2**32), got {stream}")
        return stream
    if not isinstance(stream, str) or not stream:
        raise TypeError(f"stream must be a non-empty str naming what the numbers are for, got {stream!r}")
    return zlib.crc32(stream.encode("utf-8"))


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def draw_keys(seed: int, step: int, stream: str | int, lane: int = 0) -> tuple[int, int]:
    """Two 32-bit keys for one draw, mixed from all four coordinates."""
    if seed < 0 or step < 0 or lane < 0:
        raise ValueError(f"seed, step and lane must be >= 0, got seed={seed}, step={step}, lane={lane}")
    h = _splitmix64(seed)
    for part in (step, stream_id(stream), lane):
        h = _splitmix64(h ^ part)
    return h & MASK32, h >> 32


CHUNK = 1 << 16
"""Agents hashed at a time on the CPU: 65,536 uint32 values (256 KiB) stay in cache through the integer operations
of a draw, which makes a draw over millions of agents several times faster than whole-tensor operations."""

WRITE_BLOCK = 1 << 18
"""Hashed values handed on at a time on the CPU (2 MiB of int64), so that what is made of them (uniforms, integers
in a range) takes few torch calls and no temporary over 2 MiB."""

_U32 = np.uint32


def _mix32_(x: Tensor) -> Tensor:
    """`mix32` in place on an int64 tensor of 32-bit values."""
    x ^= x >> 16
    x *= 0x21F0AAAD
    x &= MASK32
    x ^= x >> 15
    x *= 0x735A2D97
    x &= MASK32
    x ^= x >> 15
    return x


def _mix32_u32_(x: np.ndarray) -> np.ndarray:
    """`mix32` in place on a uint32 array: NumPy's unsigned products wrap modulo 2**32, so no masks are needed."""
    x ^= x >> _U32(16)
    x *= _U32(0x21F0AAAD)
    x ^= x >> _U32(15)
    x *= _U32(0x735A2D97)
    x ^= x >> _U32(15)
    return x


def _hash_chunks(ids: Tensor, k1: int, k2: int, write: Callable[[slice, Tensor], None]) -> None:
    """Call write(part, mix32(mix32(ids[part] ^ k1) ^ k2)), int64, for consecutive slices `part` of the agents.

    On the CPU in chunks of `CHUNK`, hashed in uint32 NumPy arithmetic (about 1 us a call against torch's 5, and
    half the bytes of int64), handed on in slices of `WRITE_BLOCK`; elsewhere in one slice of int64 tensor
    operations, where launches are the cost.
    """
    n = ids.numel()
    if ids.device.type != "cpu":
        x = ids.to(torch.int64, copy=True)
        x ^= k1
        _mix32_(x)
        x ^= k2
        write(slice(0, n), _mix32_(x))
        return
    source = ids.numpy()
    block = np.empty(min(WRITE_BLOCK, n), dtype=np.int64)
    x = np.empty(min(CHUNK, n), dtype=np.uint32)
    for begin in range(0, n, WRITE_BLOCK):
        end = min(begin + WRITE_BLOCK, n)
        for start in range(begin, end, CHUNK):
            stop = min(start + CHUNK, end)
            part = x[: stop - start]
            np.copyto(part, source[start:stop], casting="unsafe")  # ids lie in [0, 2**32)
            part ^= _U32(k1)
            _mix32_u32_(part)
            part ^= _U32(k2)
            block[start - begin : stop - begin] = _mix32_u32_(part)
        write(slice(begin, end), torch.from_numpy(block[: end - begin]))


def _checked_ids(agent_ids: Tensor) -> Tensor:
    if agent_ids.dtype.is_floating_point or agent_ids.dtype == torch.bool or agent_ids.is_complex():
        raise TypeError(f"agent_ids must be an integer tensor, got dtype {agent_ids.dtype}")
    if agent_ids.numel() and (int(agent_ids.min()) < 0 or int(agent_ids.max()) > MAX_AGENT_ID):
        raise ValueError(f"agent ids must lie in [0, 2**32), got range [{int(agent_ids.min())}, "
                         f"{int(agent_ids.max())}]")
    return agent_ids.reshape(-1)


def _draw(seed: int, step: int, stream: str | int, agent_ids: Tensor, n: int | None, dtype: torch.dtype,
          finish: Callable[[Tensor], Tensor], lane: int = 0) -> Tensor:
    """finish(bits) for every agent (and lane), written chunk by chunk into a [N] (or [N, n]) tensor of `dtype`;
    with n None, the values of lane `lane`."""
    ids = _checked_ids(agent_ids)
    if n is not None and n < 1:
        raise ValueError(f"n (values per agent) must be >= 1, got {n}")
    if n is not None and lane:
        raise ValueError(f"give n (all lanes 0..n-1) or lane (one lane), not both; got n={n}, lane={lane}")
    lanes = [lane] if n is None else range(n)
    out = torch.empty((ids.numel(), len(lanes)), dtype=dtype, device=ids.device)
    for index, lane_key in enumerate(lanes):
        k1, k2 = draw_keys(seed, step, stream, lane_key)
        column = out[:, index]

        def write(part: slice, bits: Tensor, column: Tensor = column) -> None:
            column[part] = finish(bits)

        _hash_chunks(ids, k1, k2, write)
    return out.reshape(agent_ids.shape) if n is None else out.reshape(*agent_ids.shape, n)


def random_bits(seed: int, step: int, stream: str | int, agent_ids: Tensor, n: int | None = None) -> Tensor:
    """Uniform 32-bit integers (int64 tensor with values in [0, 2**32)), shape [N] or [N, n].

    With `n`, each agent gets `n` independent values (lanes 0..n-1), for draws that need several numbers.
    """
    return _draw(seed, step, stream, agent_ids, n, torch.int64, lambda bits: bits)


def uniform(
    seed: int,
    step: int,
    stream: str | int,
    agent_ids: Tensor,
    n: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Uniform numbers in the open interval (0, 1), shape [N] (or [N, n]), one per agent id.

    float32 values carry 23 random bits and lie in [2**-24, 1 - 2**-24]; float64 values carry 32 bits.
    """
    if dtype == torch.float64:
        return _draw(seed, step, stream, agent_ids, n, dtype, lambda bits: (bits.to(dtype) + 0.5) * 2.0**-32)
    if dtype != torch.float32:
        raise TypeError(f"uniform dtype must be float32 or float64, got {dtype}: half-precision types round "
                        "values near 1 up to exactly 1. Draw float32 and compare in float32 instead")
    return _draw(seed, step, stream, agent_ids, n, dtype, lambda bits: float32_uniform(bits >> 9))


FLOAT32_UNIFORMS = 1 << 23
"""How many values a float32 uniform can take: u = (m + 0.5) 2**-23 for m in 0..2**23 - 1 (`float32_uniform`)."""


def float32_uniform(m: Tensor) -> Tensor:
    """The float32 uniform of 23-bit integers m (int64, 0 <= m < 2**23): (m + 0.5) 2**-23, exactly, increasing in
    m. `uniform` gives float32 values on this lattice, so a draw that compares u with a threshold can be worked
    out once per threshold (`populace.behavior.interface.option_thresholds`)."""
    return (m.to(torch.float32) + 0.5).mul_(2.0**-23)


def randint(seed: int, step: int, stream: str | int, agent_ids: Tensor, high: int, n: int | None = None, *,
            lane: int = 0) -> Tensor:
    """Uniform integers in [0, high) (int64), shape [N] or [N, n], by multiply-shift (bias < high / 2**32).

    ``lane`` (without `n`): the values of that lane alone, column `lane` of the draw with ``n > lane``.
    """
    if not 1 <= high <= 2**31:
        raise ValueError(f"high must be in [1, 2**31], got {high}")
    return _draw(seed, step, stream, agent_ids, n, torch.int64, lambda bits: (bits * high) >> 32, lane)
