"""`populace calibrate covid-nyc --warm-start-scale`: a coarse fit first, the main fit starting from it."""

import contextlib
import io
import json
import math

import pytest
import torch

from populace.cli import main


def test_bad_warm_start_scales_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="must be smaller than --scale"):
        main(["calibrate", "covid-nyc", "--scale", "0.001", "--warm-start-scale", "0.002", "--out", str(tmp_path)])


@pytest.mark.needs_data
def test_a_warm_started_fit_continues_from_the_coarse_one(tmp_path):
    out = tmp_path / "fit"
    argv = ["calibrate", "covid-nyc", "--train", "2020-03-01:2020-03-14", "--scale", "0.0004", "--warm-start-scale",
            "0.0002", "--warm-start-iterations", "2", "--iterations", "1", "--out", str(out), "--no-progress",
            "--threads", "1"]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(argv) == 0
    assert "warm start: 1,667 agents (scale 0.0002), 2 iterations" in printed.getvalue()
    assert (out / "warm-start" / "checkpoint.pt").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["results"]["warm_start_seconds"] > 0
    assert manifest["results"]["iterations"] == 1
    # the main fit started where the coarse one ended: one Adam step (learning rate 0.05) away from it, while the
    # coarse fit's two steps took it further than that from the cold start (beta 0.2 every week)
    coarse = torch.load(out / "warm-start" / "checkpoint.pt", weights_only=True)["trainable"]
    coarse_beta = coarse["model.transmission.parametrizations.beta_by_week.original"]
    main_beta = torch.tensor(json.loads((out / "parameters.json").read_text())["beta_by_week"]).log()
    assert float((main_beta - coarse_beta).abs().max()) <= 0.05 + 1e-4
    assert float((coarse_beta - math.log(0.2)).abs().max()) > 0.05 + 1e-4
