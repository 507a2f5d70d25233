"""Counter-based random numbers: one value per (seed, step, stream, agent id), no generator state.

A draw is a pure function of its coordinates, so a run gives the same numbers whatever the agent order,
however the agents are split into batches or processes, and on CPU or GPU. The construction:

    k1, k2 = splitmix64(seed, step, stream, lane)            # scalar keys, computed once per call in Python
    x      = mix32(mix32(agent_id XOR k1) XOR k2)            # vectorized over agents, int64 tensor ops
    u      = ((x >> 9) + 0.5) / 2**23   (float32)   or   (x + 0.5) / 2**32   (float64)

`mix32` is a two-multiply xorshift hash (constants 0x21f0aaad, 0x735a2d97 from C. Wellons' hash prospector)
and a bijection of 32-bit integers, so two agents never share a value within a draw. Both multiplier
constants are below 2**31, so every product of a 32-bit value fits in a signed 64-bit integer: no overflow,
hence identical results on every backend. Uniforms lie in the open interval (0, 1).
"""

from __future__ import annotations

import zlib

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


def _mix32(x: Tensor) -> Tensor:
    x = x ^ (x >> 16)
    x = (x * 0x21F0AAAD) & MASK32
    x = x ^ (x >> 15)
    x = (x * 0x735A2D97) & MASK32
    return x ^ (x >> 15)


def random_bits(seed: int, step: int, stream: str | int, agent_ids: Tensor, n: int | None = None) -> Tensor:
    """Uniform 32-bit integers (int64 tensor with values in [0, 2**32)), shape [N] or [N, n].

    With `n`, each agent gets `n` independent values (lanes 0..n-1), for draws that need several numbers.
    """
    if agent_ids.dtype.is_floating_point or agent_ids.dtype == torch.bool or agent_ids.is_complex():
        raise TypeError(f"agent_ids must be an integer tensor, got dtype {agent_ids.dtype}")
    ids = agent_ids.to(torch.int64)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) > MAX_AGENT_ID):
        raise ValueError(f"agent ids must lie in [0, 2**32), got range [{int(ids.min())}, {int(ids.max())}]")
    if n is None:
        k1, k2 = draw_keys(seed, step, stream)
        return _mix32(_mix32(ids ^ k1) ^ k2)
    if n < 1:
        raise ValueError(f"n (values per agent) must be >= 1, got {n}")
    keys = torch.tensor([draw_keys(seed, step, stream, lane) for lane in range(n)], device=ids.device)
    return _mix32(_mix32(ids.unsqueeze(-1) ^ keys[:, 0]) ^ keys[:, 1])


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
    bits = random_bits(seed, step, stream, agent_ids, n)
    if dtype == torch.float64:
        return (bits.to(torch.float64) + 0.5) * 2.0**-32
    if dtype != torch.float32:
        raise TypeError(f"uniform dtype must be float32 or float64, got {dtype}: half-precision types round "
                        "values near 1 up to exactly 1. Draw float32 and compare in float32 instead")
    return ((bits >> 9).to(torch.float32) + 0.5).mul_(2.0**-23)


def randint(seed: int, step: int, stream: str | int, agent_ids: Tensor, high: int, n: int | None = None) -> Tensor:
    """Uniform integers in [0, high) (int64), shape [N] or [N, n], by multiply-shift (bias < high / 2**32)."""
    if not 1 <= high <= 2**31:
        raise ValueError(f"high must be in [1, 2**31], got {high}")
    return (random_bits(seed, step, stream, agent_ids, n) * high) >> 32
