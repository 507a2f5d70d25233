"""One small analysis run through the command line, shared by the CLI, parameter and report tests (two processes)."""

import json

import pytest
from analysis_fixtures import DRAWS, TINY

from populace.cli import main


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(scenario file, run folder) of `populace analyze tiny.yaml --workers 2`."""
    folder = tmp_path_factory.mktemp("analysis")
    scenario = folder / "tiny.yaml"
    scenario.write_text(json.dumps(TINY))  # JSON is YAML
    (folder / "fitted.json").write_text(json.dumps({"draws": DRAWS}))
    out = folder / "run"
    code = main(["analyze", str(scenario), "--out", str(out), "--workers", "2", "--no-progress"])
    assert code == 0
    return scenario, out
