"""Quantile bands over ensemble members, and the runs of a finished ensemble read back as one table.

Bands are quantiles over members at each key (policy, step, group ...): q05, q25, median, q75, q95 (the 90% band is
q05-q95, the 50% band q25-q75), linearly interpolated between order statistics (`pandas.Series.quantile`): with M
members sorted x_(0) <= ... <= x_(M-1), quantile q is x_(j) + f (x_(j+1) - x_(j)) where j + f = q (M - 1).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from populace.analysis.ensemble import DONE_FILE, MEMBERS_DIR
from populace.analysis.policy import BASELINE, slug

QUANTILES = {"q05": 0.05, "q25": 0.25, "median": 0.5, "q75": 0.75, "q95": 0.95}


def bands(frame: pd.DataFrame, keys: list[str], measures: Sequence[str]) -> pd.DataFrame:
    """Quantiles over members of each measure, per key: columns keys, measure, q05, q25, median, q75, q95."""
    long = frame.melt(id_vars=keys, value_vars=list(measures), var_name="measure")
    grouped = long.groupby([*keys, "measure"], sort=False)["value"]
    out = pd.concat({name: grouped.quantile(q) for name, q in QUANTILES.items()}, axis=1)
    return out.reset_index()


def collect_runs(run_dir: str | Path, policy_names: Sequence[str], table: str) -> pd.DataFrame:
    """One `table` of every finished member's runs (`run_ensemble`'s `<policy>.<table>.parquet`), with columns
    policy, member, seed first; members in order, then policies in the order of `policy_names`."""
    run_dir = Path(run_dir)
    parts = []
    for member_dir in sorted((run_dir / MEMBERS_DIR).glob("m*")):
        done = member_dir / DONE_FILE
        if not done.is_file():
            continue
        info = json.loads(done.read_text())
        for name in policy_names:
            part = pd.read_parquet(member_dir / f"{BASELINE if name == BASELINE else slug(name)}.{table}.parquet")
            part.insert(0, "policy", name)
            part.insert(1, "member", info["member"])
            part.insert(2, "seed", info["seed"])
            parts.append(part)
    if not parts:
        raise FileNotFoundError(f"{run_dir} has no finished members; run the ensemble first")
    return pd.concat(parts, ignore_index=True)
