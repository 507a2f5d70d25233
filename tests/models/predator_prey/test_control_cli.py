"""`populace control predator-prey` on a tiny task: the controllers, tables, plots, page and manifest it writes,
the saved controller reproducing its evaluation, resume, and input errors."""

import json

import pandas as pd
import pytest
import torch

from populace.cli import main
from populace.control import HELD_OUT_SEEDS, evaluate, load_controller
from populace.models.predator_prey.control_task import PredatorPreyTask

TINY = ["--side", "10", "--steps", "12", "--iterations", "2", "--seeds-per-step", "1", "--grid-seeds", "1",
        "--eval-seeds", "3", "--threads", "1", "--no-progress", "--max-removal", "0.8"]
METHODS = ["neural network (gradient)", "neural network (ES)", "constant (grid)", "bang-bang (grid)",
           "mean-field optimum", "no control"]


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_control_predator_prey_writes_controllers_tables_plots_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "pp"
    assert main(["control", "predator-prey", *TINY, "--out", str(out)]) == 0
    assert "neural network (gradient)" in capsys.readouterr().out
    evaluation = pd.read_parquet(out / "evaluation.parquet")
    assert evaluation["method"].unique().tolist() == METHODS
    assert evaluation["seed"].unique().tolist() == list(HELD_OUT_SEEDS)[:3]
    assert (evaluation["objective"] == evaluation["tracking"] + evaluation["control"]).all()  # lambda = 1
    runs = pd.read_parquet(out / "trajectories.parquet")
    assert len(runs) == len(METHODS) * 3 * 13  # methods x seeds x (steps + 1)
    assert runs["predator_removal"].between(0, 0.8).all()
    assert (runs.loc[runs.method == "no control", "predator_removal"] == 0).all()
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary["measure"]) == {"objective", "tracking", "control"}
    methods = pd.read_parquet(out / "methods.parquet").set_index("method")
    assert methods.loc["neural network (gradient)", "simulator_runs"] == 2
    assert methods.loc["neural network (ES)", "simulator_runs"] == 2  # as many runs as the gradient fit
    grid = pd.read_parquet(out / "constant_grid.parquet")  # each method's tuning record, named by its slug
    assert methods.loc["constant (grid)", "chosen"] == grid["policy"].iloc[0]
    assert grid["objective"].is_monotonic_increasing

    controller = load_controller(out / "controller")  # the learned controller reproduces its evaluation
    task = PredatorPreyTask(side=10, steps=12, max_removal=0.8)
    again = evaluate(task.problem(controller), list(HELD_OUT_SEEDS)[:3])
    gradient_rows = evaluation[evaluation.method == "neural network (gradient)"]
    assert again["objective"].tolist() == pytest.approx(gradient_rows["objective"].tolist(), rel=1e-6)
    for name in ("state.png", "control.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 2
    assert all(method in report for method in METHODS)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    written = {e["path"] for e in manifest["outputs"]}
    assert {str(out / n) for n in ("controller.pt", "controller.json", "controller_neural_network_es.pt",
                                   "report.html")} <= written

    first = pd.read_parquet(out / "neural_network_gradient.parquet")
    assert main(["control", "predator-prey", *TINY[:4], "--iterations", "3", *TINY[6:], "--out", str(out),
                 "--resume"]) == 0
    resumed = pd.read_parquet(out / "neural_network_gradient.parquet")
    assert resumed["iteration"].tolist() == [0, 1, 2]
    assert resumed["loss"].iloc[:2].tolist() == first["loss"].tolist()  # the first two come from the checkpoint


@pytest.mark.parametrize(("args", "message"), [
    (["--eval-seeds", "50"], "--eval-seeds is at most 20"),
    (["--side", "2"], "side must be an int >= 3"),
])
def test_bad_values_are_one_line(tmp_path, capsys, args, message):
    assert main(["control", "predator-prey", *args, "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_a_target_outside_the_unit_interval_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["control", "predator-prey", "--target-prey", "1.5", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "must be a fraction in (0, 1]" in capsys.readouterr().err
