"""Where Populace keeps its language-model files: ``$POPULACE_CACHE_DIR``, else ``~/.cache/populace``."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """The user cache directory (answer cache, dequantized model weights); not created here."""
    configured = os.environ.get("POPULACE_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "populace"
