"""`populace run sir`: outputs, manifest contents, reproducibility and argument errors; the command line's lazily
built commands, shared flags, and which errors print one line and which a traceback."""

import hashlib
import json

import pandas as pd
import pytest
import torch

from populace.cli import LazyCommands, build_parser, main
from populace.core.errors import InputError
from populace.manifest import RunManifest, sha256_of
from populace.models.sir.model import SIR


def test_run_sir_writes_trajectory_plot_and_manifest(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "sir", "--agents", "3000", "--days", "30", "--seed", "4", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert str(out / "trajectory.png") in printed
    frame = pd.read_parquet(out / "trajectory.parquet")
    assert frame["step"].tolist() == list(range(31))
    assert (frame[["susceptible", "infectious", "recovered"]].sum(axis=1) == 3000).all()  # agents conserved
    assert (out / "trajectory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["arguments"]["agents"] == 3000
    assert manifest["seeds"] == {"run": 4, "network": 0}
    assert manifest["command"] == ["populace", "run", "sir", "--agents", "3000", "--days", "30", "--seed", "4",
                                   "--out", str(out), "--no-progress"]
    assert "handler" not in manifest["arguments"]
    assert manifest["threads"] >= 1
    assert manifest["peak_memory_bytes"] > 10 * 2**20
    assert manifest["wall_seconds"] > 0
    outputs = {entry["path"]: entry["sha256"] for entry in manifest["outputs"]}
    assert outputs[str(out / "trajectory.parquet")] == sha256_of(out / "trajectory.parquet")
    attack_rate = 1 - frame["susceptible"].iloc[-1] / 3000
    assert manifest["results"]["final_attack_rate"] == pytest.approx(attack_rate)


def test_same_seed_same_trajectory(tmp_path):
    for name in ("a", "b"):
        main(["run", "sir", "--agents", "2000", "--days", "20", "--seed", "7", "--out", str(tmp_path / name),
              "--no-progress"])
    first, second = (pd.read_parquet(tmp_path / n / "trajectory.parquet") for n in ("a", "b"))
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agents", "0"], "must be an integer >= 1, got 0"),
        (["--days", "-3"], "must be an integer >= 0, got -3"),
        (["--beta", "-0.1"], "must be a number > 0"),
        (["--frobnicate"], "unrecognized arguments"),
        (["--days", "abc"], "must be an integer >= 0, got 'abc'"),
        (["--device", "gpu"], "'gpu' is not a torch device"),
        (["--out", __file__], "exists and is not a directory"),
    ],
)
def test_bad_arguments_exit_with_a_message(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "sir", "--out", str(tmp_path), *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["run", "sir", "--device", "cuda", "--out", str(tmp_path / "run")])
    assert "no CUDA device here" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_inconsistent_arguments_are_an_error_not_a_traceback(tmp_path, capsys):
    assert main(["run", "sir", "--agents", "5", "--initial-infected", "10", "--out", str(tmp_path)]) == 2
    assert "--initial-infected (10) exceeds --agents (5)" in capsys.readouterr().err


def test_model_errors_are_reported_without_a_traceback(tmp_path, capsys):
    code = main(["run", "sir", "--agents", "100", "--infectious-days", "0.5", "--out", str(tmp_path)])
    assert code == 2
    assert "populace: error: infectious_days must be a finite number >= 1" in capsys.readouterr().err
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert "infectious_days" in manifest["error"]


def test_manifest_hashes_inputs_and_refuses_missing_ones(tmp_path):
    source = tmp_path / "input.csv"
    source.write_text("a,b\n1,2\n")
    with RunManifest(tmp_path / "out", arguments={"x": 1}, seeds={"run": 3}, inputs=[source]):
        pass
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["inputs"] == [{"path": str(source), "bytes": 8, "sha256": sha256_of(source)}]
    assert sha256_of(source) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    with pytest.raises(FileNotFoundError, match="input file\\(s\\) not found"), RunManifest(
        tmp_path / "o2", arguments={}, seeds={}, inputs=[tmp_path / "nope.csv"]
    ):
        pass


def test_a_programming_error_keeps_its_traceback(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise TypeError("unsupported operand type(s) for +: 'Tensor' and 'NoneType'")

    monkeypatch.setattr(SIR, "random_network", broken)
    with pytest.raises(TypeError, match="unsupported operand"):  # raised through main: Python prints the traceback
        main(["run", "sir", "--agents", "100", "--out", str(tmp_path / "a")])
    assert "populace: error" not in capsys.readouterr().err
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("error", [KeyError("stage"), ValueError("operands could not be broadcast together")])
def test_key_and_value_errors_inside_a_run_are_bugs_not_bad_input(tmp_path, monkeypatch, error):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(SIR, "run", broken)
    with pytest.raises(type(error)):
        main(["run", "sir", "--agents", "100", "--out", str(tmp_path)])


def test_debug_shows_the_traceback_of_a_bad_input_too(tmp_path, capsys):
    with pytest.raises(InputError, match=r"--initial-infected \(10\) exceeds --agents \(5\)"):
        main(["--debug", "run", "sir", "--agents", "5", "--initial-infected", "10", "--out", str(tmp_path)])
    with pytest.raises(InputError, match="infectious_days must be a finite number >= 1") as raised:
        main(["--debug", "run", "sir", "--agents", "100", "--infectious-days", "0.5", "--out", str(tmp_path)])
    assert isinstance(raised.value.__cause__, ValueError)  # the constructor's own error, chained
    assert "populace: error" not in capsys.readouterr().err


def test_lazy_commands_list_the_help_their_modules_give(capsys):
    parser = build_parser()
    run = next(a for a in parser._subparsers._group_actions if isinstance(a, LazyCommands))
    models = next(a for a in run.choices["run"]._subparsers._group_actions if isinstance(a, LazyCommands))
    tasks = next(a for a in run.choices["control"]._subparsers._group_actions if isinstance(a, LazyCommands))
    for commands in (run, models, tasks):
        listed = {action.dest: action.help for action in commands._choices_actions}
        for name in list(commands.modules):
            if name in commands.modules:  # not yet built with another command of its module
                commands.build(name)
        assert commands.modules == {}
        assert {action.dest: action.help for action in commands._choices_actions} == listed
    assert set(models.choices) == {"sir", "tax-policy", "covid-nyc", "commons", "cooperation", "social"}
    assert set(tasks.choices) == {"predator-prey", "covid-nyc"}
    assert {"calibrate", "control", "analyze", "report", "llm", "population"} <= set(run.choices)


def test_run_sir_help_lists_the_shared_flags_with_their_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "sir", "--help"])
    assert exit_info.value.code == 0
    printed = " ".join(capsys.readouterr().out.split())
    for flag in ("--seed SEED seed of the run's random numbers (default: 1)", "--out OUT output directory (default: "
                 "populace-out/sir)", "--threads THREADS CPU threads", "--days DAYS days to simulate (default: 100)",
                 "--no-progress hide the progress bar", "--device DEVICE torch device", "--differentiable run in"):
        assert flag in printed


@pytest.mark.parametrize("model", ["sir", "tax-policy", "covid-nyc", "commons", "cooperation", "social"])
@pytest.mark.parametrize(("args", "message"), [(["--seed", "-1"], "argument --seed: must be an integer >= 0"),
                                               (["--threads", "0"], "argument --threads: must be an integer >= 1"),
                                               (["--out", __file__], "exists and is not a directory")])
def test_every_run_command_checks_the_shared_flags_alike(model, args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", model, *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_python_dash_m_populace_is_the_populace_command():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "populace", "run", "sir", "--agents", "0"], capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert "usage: populace run sir" in done.stderr
