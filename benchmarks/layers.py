"""Time building the four contact layers (household, school, work, community) of a synthetic population.

    python benchmarks/layers.py --agents 1000000

The population is `populace.population.synthetic.synthetic_population`: households of 1..6 in zone order over 200
zones in 5 regions, uniform ages, 60% of those 16 and over employed in 13 industries.
Prints the seconds and directed edges of each step with the default `LayerConfig` (Prem et al. 2021 US urban
matrices), then the mean partners and contacts per day per agent of each layer by age band.
"""

from __future__ import annotations

import argparse
import time

import torch

from populace.data.contacts import contact_matrix, prem2021_contacts
from populace.population import (
    LayerConfig,
    assign_school_classes,
    assign_workplaces,
    community_layer,
    contacts_per_day_by_band,
    household_layer,
    school_layer,
    work_layer,
)
from populace.population.layers import SETTING_OF_LAYER
from populace.population.synthetic import synthetic_population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    config, seed = LayerConfig(), args.seed
    agents = synthetic_population(args.agents, contacts_per_agent=0, agents_per_zone=max(1, args.agents // 200),
                                  seed=seed).agents
    prem = prem2021_contacts()
    matrices = {name: contact_matrix(prem, setting) for name, setting in SETTING_OF_LAYER.items()}
    print(f"{agents.n:,} agents, {torch.get_num_threads()} threads")

    def step(label, fn):
        t0 = time.perf_counter()
        out = fn()
        extra = f"{out.n_edges:>12,} edges ({out.n_edges / agents.n:5.2f} per agent)" if hasattr(out, "n_edges") else ""
        print(f"{label:<24}{time.perf_counter() - t0:7.2f} s  {extra}")
        return out

    t_start = time.perf_counter()
    classes = step("assign_school_classes", lambda: assign_school_classes(
        agents, class_size=config.class_size, pupil_ages=config.pupil_ages, seed=seed))
    places = step("assign_workplaces", lambda: assign_workplaces(agents, sizes=config.workplace_sizes, seed=seed))
    agents = agents.with_columns(school_class=classes, workplace=places)
    layers = {
        "household": step("household_layer", lambda: household_layer(agents, contact_matrix=matrices["household"])),
        "school": step("school_layer", lambda: school_layer(agents, contact_matrix=matrices["school"])),
        "work": step("work_layer", lambda: work_layer(
            agents, contacts_per_worker=config.contacts_per_worker, contact_matrix=matrices["work"], seed=seed)),
        "community": step("community_layer", lambda: community_layer(
            agents, partners_per_agent=config.partners_per_agent, p_same_zone=config.p_same_zone,
            p_same_region=config.p_same_region, contact_matrix=matrices["community"], seed=seed)),
    }
    total_edges = sum(layer.n_edges for layer in layers.values())
    print(f"{'total':<24}{time.perf_counter() - t_start:7.2f} s  {total_edges:>12,} edges")
    size = torch.bincount(places[places >= 0].long())
    print(f"classes: {int(classes.max()) + 1:,}; workplaces: {size.numel():,}, "
          f"mean size {float(size.float().mean()):.1f}, largest {int(size.max())}")

    band = agents["age_band"].long()
    print("\nper agent, by age band: partners (degree) / contacts per day (weighted degree)")
    print(f"{'band':<8}" + "".join(f"{name:>18}" for name in layers))
    degree = {name: torch.zeros(18).index_add_(0, band, layer.degree().float()) / torch.bincount(band, minlength=18)
              for name, layer in layers.items()}
    per_day = {name: contacts_per_day_by_band(layer, agents["age_band"]) for name, layer in layers.items()}
    labels = [f"{5 * b}-{5 * b + 4}" for b in range(17)] + ["85+"]
    for b, label in enumerate(labels):
        print(f"{label:<8}" + "".join(f"{float(degree[n][b]):>10.2f} /{float(per_day[n][b]):>6.2f}" for n in layers))
    ones = torch.ones(agents.n, dtype=torch.float64)
    print(f"{'all':<8}" + "".join(f"{layer.n_edges / agents.n:>10.2f} /{float(layer.aggregate(ones).mean()):>6.2f}"
                                  for layer in layers.values()))


if __name__ == "__main__":
    main()
