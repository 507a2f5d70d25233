"""The README's promises: its Python examples run as pasted, and its first lines are the two commands CI runs."""

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"
CI = Path(__file__).resolve().parents[1] / ".ci" / "run"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_python_examples_run_as_pasted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    build_run_plot, gradient = _blocks("python")
    exec(build_run_plot, namespace)
    assert (tmp_path / "sir.png").stat().st_size > 10_000
    traj = namespace["traj"]
    assert float(traj["recovered"][-1]) > 10_000  # the epidemic the example shows does take off
    exec(gradient, namespace)
    grad = namespace["model"].transmission.parametrizations.beta_per_day.original.grad
    assert torch.isfinite(grad)
    assert float(grad) > 0  # more transmission, larger epidemic
    assert capsys.readouterr().out.startswith("tensor(")


def test_first_lines_are_the_two_commands_ci_runs():
    first_block = _blocks("bash")[0].strip().splitlines()
    assert len(first_block) == 2
    ci = "\n".join(line.split("#")[0] for line in CI.read_text().splitlines())  # commands, not comments
    for command in first_block:
        for part in command.split(" && "):
            assert part in ci, part


@pytest.mark.parametrize("block", _blocks("bash")[1:])
def test_other_shell_examples_use_real_options(block):
    from populace.cli import build_parser

    for line in block.strip().splitlines():
        words = line.split("#")[0].split()
        if words[:3] == ["populace", "run", "sir"] and "--help" not in words:
            build_parser().parse_args(words[1:])  # raises SystemExit on an unknown option
