"""A trained `Controller` on disk, without pickle: its weights (`state_dict`, plain tensors through `torch.save`,
read back with `weights_only=True`) in `NAME.pt` and its architecture (controls with bounds, observed aggregates,
scales, layer sizes) in `NAME.json`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from populace.control.controller import Controller, ControlVariable
from populace.core.errors import InputError


def save_controller(controller: Controller, path: str | Path) -> tuple[Path, Path]:
    """Write `path` with suffix .pt (weights) and .json (architecture); returns both paths."""
    path = Path(path)
    weights, config = path.with_suffix(".pt"), path.with_suffix(".json")
    torch.save({k: v.detach().cpu().clone() for k, v in controller.state_dict().items()}, weights)
    config.write_text(json.dumps({
        "variables": [dataclasses.asdict(v) for v in controller.variables], "observed": list(controller.observed),
        "scale": controller.scale.tolist(), "hidden": controller.hidden, "depth": controller.depth}, indent=2) + "\n")
    return weights, config


def load_controller(path: str | Path) -> Controller:
    """The controller saved by `save_controller` at `path` (with or without its suffix)."""
    path = Path(path)
    weights, config = path.with_suffix(".pt"), path.with_suffix(".json")
    for file in (weights, config):
        if not file.is_file():
            raise FileNotFoundError(f"{file} not found: a saved controller is a .pt and a .json of the same name")
    spec = json.loads(config.read_text())
    try:
        controller = Controller([ControlVariable(**v) for v in spec["variables"]], spec["observed"],
                                scale=spec["scale"], hidden=spec["hidden"], depth=spec["depth"])
        controller.load_state_dict(torch.load(weights, weights_only=True))
    except (KeyError, TypeError, RuntimeError) as err:
        raise InputError(f"{config} and {weights} do not describe one controller ({err})") from None
    return controller
