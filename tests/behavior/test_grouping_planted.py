"""The grouping study on a scripted backend whose answers depend on two planted attributes (age, work) of six."""

from collections.abc import Iterator

import pandas as pd
import pytest
import torch
from grouping_fixtures import PLANTED, SITUATIONS, planted_truth

from populace.behavior.grouping import (
    BehaviourClusters,
    GroundTruth,
    Study,
    by_attributes,
    calls_at_error,
    compare,
    evaluate,
    select_attributes,
    split_agents,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def study() -> Iterator[Study]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: a second thread on a shared machine only waits (see one_thread)
    truth, model = planted_truth(2000, seed=3)
    assert model.queries == 2000 * len(SITUATIONS)  # one question per agent and situation
    train, test = split_agents(truth.attributes.n, 0.5, seed=1)
    yield Study(truth, SITUATIONS[:4], SITUATIONS[4:], train, test, seed=1)
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def table(study: Study) -> pd.DataFrame:
    return compare(study, today=("age", "borough"), cluster_counts=(4, 8, 16, 32))


def test_automatic_grouping_finds_the_planted_attributes(study: Study) -> None:
    selection = select_attributes(study.truth.attributes.take(study.train), study.probe_answers, seed=1)
    assert set(selection.names) == set(PLANTED)
    assert all(g > 0.05 for g in selection.gains)  # each planted attribute carries > 0.05 nats per answer
    assert selection.entropy[-1] == pytest.approx(selection.entropy[0] - sum(selection.gains))


def test_a_noise_attribute_gains_less_than_nothing(study: Study) -> None:
    attributes = study.truth.attributes.take(study.train)
    forced = select_attributes(attributes, study.probe_answers, min_gain=-1.0, seed=1)
    assert set(forced.names[:2]) == set(PLANTED)
    assert all(g < 0 for g in forced.gains[2:])  # every further attribute makes held-out answers less predictable


def test_clusters_reach_per_agent_error_with_far_fewer_calls(study: Study, table: pd.DataFrame) -> None:
    oracle = evaluate(study, by_attributes(study.truth.attributes, PLANTED))  # the 15 planted cells
    per_agent = table[table["method"] == "per agent"].iloc[0]
    clusters = table[(table["method"] == "clusters") & (table["setting"] == "k=16")].iloc[0]
    # per-agent answers differ only by the +-0.05 logit idiosyncrasy: the planted cells' MAE is that floor
    assert oracle["mae"] < 0.005
    assert clusters["mae"] < 1.1 * oracle["mae"]
    assert clusters["brier"] == pytest.approx(per_agent["brier"], abs=0.001)
    assert clusters["calls_per_situation"] <= 16
    assert per_agent["calls_per_situation"] == 1000  # 60x more
    today = table[table["method"] == "attributes"].iloc[0]
    assert today["mae"] > 20 * clusters["mae"]  # age x borough misses work
    saved = today["calls_per_situation"] / calls_at_error(table, "clusters", today["mae"])
    assert saved > 1  # clusters match today's error with fewer calls than today's 25 archetypes


def test_error_falls_with_clusters_until_the_planted_cells(table: pd.DataFrame) -> None:
    clusters = table[table["method"] == "clusters"].set_index("setting")["mae"]
    assert clusters["k=4"] > clusters["k=8"] > clusters["k=16"]


def test_grouping_is_deterministic_under_a_seed(study: Study) -> None:
    attributes = study.truth.attributes.take(study.train)
    fits = [BehaviourClusters.fit(attributes, study.probe_answers, 8, seed=5) for _ in range(2)]
    assert torch.equal(fits[0].centres, fits[1].centres)
    assert torch.equal(fits[0].assign(study.truth.attributes), fits[1].assign(study.truth.attributes))
    assert fits[0].members == fits[1].members
    selections = [select_attributes(attributes, study.probe_answers, seed=2) for _ in range(2)]
    assert selections[0] == selections[1]
    rows = [evaluate(study, fits[0].groups(study.truth.attributes)) for _ in range(2)]
    assert rows[0] == rows[1]


def test_ground_truth_round_trips_through_csv(study: Study, tmp_path) -> None:
    path = study.truth.to_csv(tmp_path / "truth.csv")
    labels = dict(zip(study.truth.attributes.names, study.truth.attributes.labels, strict=True))
    back = GroundTruth.from_csv(path, labels)
    assert back.situations == study.truth.situations
    assert back.options == ("yes", "no")
    assert torch.equal(back.attributes.codes, study.truth.attributes.codes)
    assert torch.equal(back.answers, study.truth.answers)  # every digit
