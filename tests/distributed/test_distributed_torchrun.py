"""The launches of `populace run sir` on several processes write the one-process run's outputs: `--nproc 2` (torchrun
started for you) and the documented `torchrun ... -m populace run sir --distributed` (here `python -m
torch.distributed.run`, the same launcher), with 3 ranks for an uneven split."""

import contextlib
import io
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from spawning import free_port, needs_gloo

from populace.cli import main
from populace.distributed.relaunch import torchrun_command, without_flag

FLAGS = ["run", "sir", "--agents", "2000", "--contacts", "8", "--beta", "0.1", "--initial-infected", "10",
         "--days", "30", "--seed", "3", "--no-progress"]
COUNTS = ("susceptible", "infectious", "recovered", "new_infections")


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("one") / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*FLAGS, "--out", str(out)]) == 0
    table = pd.read_parquet(out / "trajectory.parquet")
    assert table["recovered"].iloc[-1] > 500  # an epidemic happened
    return table


def assert_same_counts(out, want: pd.DataFrame, processes: int) -> None:
    got = pd.read_parquet(out / "trajectory.parquet")
    for name in COUNTS:  # int64 sums over ranks here, float32 in one process: the same whole numbers
        assert got[name].tolist() == want[name].tolist(), name
    assert json.loads((out / "manifest.json").read_text())["results"]["processes"] == processes
    assert (out / "trajectory.png").exists()


@needs_gloo
def test_nproc_runs_the_same_command_on_two_processes(one_process, tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "populace", *FLAGS, "--out", str(out), "--nproc", "2"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SIR: 2,000 agents, 30 days, seed 3, 2 processes" in done.stdout
    assert_same_counts(out, one_process, 2)


@needs_gloo
def test_the_documented_torchrun_launch_on_three_ranks(one_process, tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "3", "--master-addr", "127.0.0.1",
         "--master-port", str(free_port()), "-m", "populace", *FLAGS, "--out", str(out), "--distributed"],
        capture_output=True, text=True, timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_counts(out, one_process, 3)


def test_the_relaunch_command_replaces_nproc_by_distributed():
    assert without_flag(["run", "sir", "--nproc", "2", "--days", "3"], "--nproc") == ["run", "sir", "--days", "3"]
    assert without_flag(["run", "sir", "--nproc=4"], "--nproc") == ["run", "sir"]
    command = torchrun_command(["run", "sir", "--nproc", "2"], 2)
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    assert command[-4:] == ["populace", "run", "sir", "--distributed"]


@pytest.mark.parametrize(("flags", "message"), [
    (["--nproc", "2", "--distributed"], "either --nproc or --distributed"),
    (["--nproc", "2", "--device", "cuda"], "run on CPU processes"),
    (["--distributed"], "--distributed: "),  # not started by a launcher
])
def test_bad_launches_are_refused(flags, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)  # --device cuda parses; the launch check refuses it
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run", "sir", "--agents", "100", *flags, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
