"""docs/your-own-place.md: its example runs as pasted and builds the population its tables describe."""

import re
from pathlib import Path

import torch

from populace.cli import main as cli_main
from populace.population import Population, check_population

DOC = Path(__file__).resolve().parents[2] / "docs" / "your-own-place.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1, f"{DOC.name} should hold one complete python example, found {len(blocks)}"
    return blocks[0]


def test_example_builds_saves_and_checks_a_population(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(_example(), str(DOC), "exec"), namespace)
    printed = capsys.readouterr().out
    assert printed.startswith("4,500 agents in 1,710 households, 0 problems\n"), printed

    margins = namespace["margins"]
    zone_totals = [table.sum(axis=1).to_numpy() for table in margins.values()]
    for totals in zone_totals[1:]:  # the example's tables agree on every zone's total, as the doc asks
        assert (totals == zone_totals[0]).all()
    folder = tmp_path / "riverside"
    assert check_population(folder) == []
    saved = Population.load(folder)
    assert saved.n_agents == int(zone_totals[0].sum()) == 4500
    per_zone = torch.bincount(saved.agents["zone"].long(), minlength=3)
    assert per_zone.tolist() == zone_totals[0].tolist()

    # every margin is matched exactly in total and to within a few persons per cell
    fit = namespace["fit"]
    by_attribute = fit.groupby("attribute")[["target", "synthetic"]].sum()
    assert (by_attribute["synthetic"] == 4500).all()
    assert (by_attribute["target"].round(6) == 4500).all()
    assert fit["difference"].abs().max() <= 10

    # households by size and the number employed per zone are those of the tables
    households_by_size = namespace["households_by_size"]
    assert len(saved.households) == int(households_by_size.sum())
    employed = torch.bincount(saved.agents["zone"][saved.agents["is_employed"]].long(), minlength=3)
    assert employed.tolist() == namespace["employed_by_zone"].tolist()
    assert bool((saved.agents["industry"][~saved.agents["is_employed"]] == 255).all())
    assert set(saved.layers.layers) == {"household", "school", "work", "community"}
    assert all(layer.n_edges > 0 for layer in saved.layers.layers.values())

    assert cli_main(["population", "check", str(folder)]) == 0
    assert "valid population: 4,500 agents" in capsys.readouterr().out
