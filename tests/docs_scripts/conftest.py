"""The docs scripts' tests: the scripts imported from docs/scripts by path, and the local OpenAI-compatible server
of tests/llm/conftest.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_module(path: Path, name: str) -> ModuleType:
    """Import the file at `path` as module `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


FakeServer = load_module(ROOT / "tests" / "llm" / "conftest.py", "llm_fake_server").FakeServer


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def behaviour_study() -> ModuleType:
    return load_module(ROOT / "docs" / "scripts" / "behaviour_study.py", "behaviour_study")
