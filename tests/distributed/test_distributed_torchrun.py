"""`torchrun --nproc-per-node 2 -m populace.models.sir.distributed` (here `python -m torch.distributed.run`, the same
launcher): the documented launch, through the launcher's variables, writes SIR.run's counts."""

import os
import subprocess
import sys

import pandas as pd
from spawning import free_port, needs_gloo

from populace.models import SIR

pytestmark = needs_gloo


def test_torchrun_launch_writes_the_one_process_counts(tmp_path):
    out = tmp_path / "trajectory.parquet"
    flags = ["--agents", "2000", "--contacts", "8", "--beta", "0.1", "--initial-infected", "10", "--days", "30",
             "--seed", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
         "--master-port", str(free_port()), "-m", "populace.models.sir.distributed", *flags, "--out", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SIR on 2 process(es), 2,000 agents, 30 days" in done.stdout
    got = pd.read_parquet(out)
    want = SIR.random_network(2000, contacts_per_agent=8, beta_per_day=0.1, initial_infected=10).run(
        30, seed=3, progress=False).to_pandas()
    assert want["recovered"].iloc[-1] > 500  # an epidemic happened
    for name in ("susceptible", "infectious", "recovered", "new_infections"):
        assert got[name].tolist() == want[name].tolist(), name
