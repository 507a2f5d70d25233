"""Commuting in the synthetic New York City: realised home x work borough shares against the ACS table, and each
borough's daytime workers (NYC residents working there) against its resident workers.

    python docs/scripts/nyc_commuting.py [--scale 0.1] [--seed 1]

Synthesises the people (`synthesize_nyc`, no contact layers) and prints, as markdown for docs/nyc-population.md:
the shares of each home borough's workers by work borough (synthetic, with the ACS 2009-2013 share in brackets),
then per borough the resident workers, the workers working there, and their ratio, with the ACS figures.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from populace.data import BOROUGHS, acs_commuting_flows, commuting_shares
from populace.population.nyc import synthesize_nyc
from populace.population.storage import NO_CODE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    agents = synthesize_nyc(scale=args.scale, seed=args.seed).agents
    employed = agents["is_employed"]
    home = agents["region"].long()[employed]
    work = agents["work_region"].long()[employed]
    work = torch.where(work == NO_CODE, len(BOROUGHS), work)
    counts = torch.zeros(len(BOROUGHS), len(BOROUGHS) + 1, dtype=torch.float64)
    counts.index_put_((home, work), torch.ones(home.numel(), dtype=torch.float64), accumulate=True)
    counts = counts.numpy()
    flows = acs_commuting_flows()
    table = commuting_shares(flows)
    columns = [*BOROUGHS, "outside NYC"]
    print(f"scale {args.scale}, seed {args.seed}: {int(counts.sum()):,} employed agents\n")
    print("| home \\ work | " + " | ".join(columns) + " |")
    print("|---|" + "--:|" * len(columns))
    for h, borough in enumerate(BOROUGHS):
        shares = counts[h] / counts[h].sum()
        print(f"| {borough} | " + " | ".join(f"{100 * s:.1f}% ({100 * t:.1f}%)" for s, t in zip(shares, table[h],
                                                                                            strict=True)) + " |")
    acs = flows.pivot(index="home_borough", columns="work_borough", values="workers").to_numpy(np.float64)
    print("\n| borough | resident workers | working there (NYC residents) | ratio | ACS ratio |")
    print("|---|--:|--:|--:|--:|")
    for b, borough in enumerate(BOROUGHS):
        residents, daytime = counts[b].sum(), counts[:, b].sum()
        print(f"| {borough} | {residents:,.0f} | {daytime:,.0f} | {daytime / residents:.2f} | "
              f"{acs[:, b].sum() / acs[b].sum():.2f} |")
    print(f"| outside NYC | | {counts[:, -1].sum():,.0f} | {counts[:, -1].sum() / counts.sum():.3f} of workers | "
          f"{acs[:, -1].sum() / acs.sum():.3f} |")


if __name__ == "__main__":
    main()
