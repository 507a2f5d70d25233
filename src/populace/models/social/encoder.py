r"""Text embeddings without a download: `HashedBagOfWords`, a hashed bag-of-words encoder in torch.

A text is lower-cased and split into words (runs of letters and digits); word w adds sign(w) to coordinate
h(w) mod D, with h the CRC-32 of its UTF-8 bytes and sign(w) = +1 or -1 from bit 31 of a second CRC-32 (of the word
with a prefix), so that collisions cancel on average. The vector is then scaled to unit length (a text without words
is the zero vector). Every output of the social model names the encoder (`HashedBagOfWords.name`), as no offline
sentence encoder ships with Populace's dependencies.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import torch
from torch import Tensor

WORD = re.compile(r"[a-z0-9]+")


class HashedBagOfWords:
    """Unit vectors [len(texts), dim] from hashed word counts (module docstring)."""

    def __init__(self, dim: int = 32):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ValueError(f"dim must be an int >= 2, got {dim!r}")
        self.dim = dim

    @property
    def name(self) -> str:
        """What outputs record as the encoder, e.g. "hashed-bag-of-words/32 (crc32)"."""
        return f"hashed-bag-of-words/{self.dim} (crc32)"

    def encode(self, texts: Sequence[str]) -> Tensor:
        """float32 [len(texts), dim], each row of unit length (or zero for a text without words)."""
        out = torch.zeros(len(texts), self.dim)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.lower()):
                data = word.encode()
                sign = 1.0 if zlib.crc32(b"sign:" + data) & 0x80000000 else -1.0
                out[row, zlib.crc32(data) % self.dim] += sign
        return out / out.norm(dim=1, keepdim=True).clamp(min=1e-12)
