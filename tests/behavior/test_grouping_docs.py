"""docs/behaviour-clusters.md: the committed embedded-model table follows from the committed answers."""

from pathlib import Path

import pandas as pd
import pytest

from populace.behavior.grouping import GroundTruth, Study, compare, split_agents

pytestmark = pytest.mark.usefixtures("one_thread")

DOCS = Path(__file__).resolve().parents[2] / "docs"
PROBES = ("well, 5/100k, growth -0.4", "well, 120/100k, growth +0.4", "symptoms, 5/100k, growth +0")
HELD_OUT = ("well, 30/100k, growth +0", "well, 400/100k, growth +0")


def test_embedded_table_is_reproduced_from_the_committed_answers() -> None:
    frame = pd.read_csv(DOCS / "behaviour-clusters-embedded-answers.csv")
    names = [c for c in frame.columns if c not in ("agent", "situation") and not c.startswith("p_")]
    labels = {name: [f"{name} {k}" for k in range(int(frame[name].max()) + 1)] for name in names}
    truth = GroundTruth.from_csv(DOCS / "behaviour-clusters-embedded-answers.csv", labels)
    assert truth.answers.shape == (80, 5, 2)
    train, test = split_agents(80, 0.5, seed=1)
    study = Study(truth, PROBES, HELD_OUT, train, test, seed=1)
    table = compare(study, today=("age5", "borough", "work"), cluster_counts=(2, 4, 8, 16, 32))
    committed = pd.read_csv(DOCS / "behaviour-clusters-embedded.csv")
    committed = committed[committed["method"] != "attributes (archetype prompt)"]
    assert list(table["setting"].fillna("")) == list(committed["setting"].fillna(""))
    for column in ("groups", "calls_per_situation", "probe_calls"):
        assert table[column].tolist() == committed[column].tolist()
    for column in ("mae", "brier"):
        assert table[column].to_numpy() == pytest.approx(committed[column].to_numpy(), abs=1e-5)  # rounded to 5
