"""`populace run tax-policy`: US federal, Saez (one round, fixed point), gradient planner; table, Parquet, PNG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib
import pandas as pd
import torch

from populace import arguments
from populace.core.errors import InputError
from populace.manifest import RunManifest, cli_arguments
from populace.models.tax.model import TaxPolicy
from populace.models.tax.planners import GradientPlanner, SaezPlanner, USFederalPlanner
from populace.models.tax.schedule import TaxSchedule
from populace.models.tax.welfare import OBJECTIVES, welfare_metrics
from populace.models.tax.workers import BoundedLabourSupply, RationalLabourSupply

matplotlib.use("Agg")
import matplotlib.pyplot as plt

TABLE_COLUMNS = {
    "revenue_usd": "revenue/worker",
    "productivity_usd": "productivity",
    "equality": "equality",
    "equality_x_productivity_usd": "eq x prod",
    "utilitarian_usd": "utilitarian",
    "inverse_income_weighted_usd": "inv-income",
}


def add_parser(models: argparse._SubParsersAction) -> None:
    """Register `tax-policy` under `populace run`."""
    tax = models.add_parser(
        "tax-policy",
        help="income-tax planners (US federal, Saez, gradient) over workers",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    tax.add_argument("--workers", type=arguments.positive_int, default=100_000, help="number of workers")
    arguments.add_run_flags(
        tax, out=Path("populace-out/tax-policy"), seed_help="seed of the population's random numbers"
    )
    tax.add_argument(
        "--behaviour",
        choices=("rational", "bounded"),
        default="rational",
        help="workers' labour supply: exact best response, or noisy persona-dependent choice",
    )
    tax.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="equality_x_productivity_usd",
        help="welfare metric the gradient planner maximises",
    )
    tax.add_argument("--steps", type=arguments.positive_int, default=100, help="gradient planner steps (Adam)")
    tax.add_argument("--learning-rate", type=arguments.positive_float, default=0.05, help="Adam step on logit rates")
    tax.add_argument(
        "--saez-iterations",
        type=arguments.positive_int,
        default=50,
        help="cap on the damped Saez fixed-point rounds (1: one-round Saez under the US schedule)",
    )
    tax.set_defaults(handler=run_tax_policy)


def run_tax_policy(args: argparse.Namespace) -> int:
    if args.workers < 1000:
        raise InputError(
            f"--workers must be at least 1000 so that every 2018 US bracket has workers in it "
            f"(the Saez planner measures each), got {args.workers}"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    with RunManifest(
        args.out, arguments=cli_arguments(args), seeds={"run": args.seed}, command=args.command_line
    ) as manifest:
        started = time.perf_counter()
        labour_supply = BoundedLabourSupply() if args.behaviour == "bounded" else RationalLabourSupply()
        model = TaxPolicy(args.workers, labour_supply=labour_supply)
        world = model.initial_world(seed=args.seed, differentiable=True)
        us = USFederalPlanner().propose(model, world)
        saez_one_round = SaezPlanner(iterations=1).propose(model, world)
        saez_planner = SaezPlanner(iterations=args.saez_iterations)
        saez = saez_planner.propose(model, world)
        planner = GradientPlanner(args.objective, steps=args.steps, learning_rate=args.learning_rate)
        optimise_started = time.perf_counter()
        gradient = planner.propose(model, world, start=saez)
        optimise_seconds = time.perf_counter() - optimise_started
        schedules = {
            "US federal 2018": us,
            "Saez, one round": saez_one_round,
            "Saez": saez,
            "gradient planner": gradient,
        }
        with torch.no_grad():
            metrics = {
                name: {k: float(v) for k, v in welfare_metrics(model.respond(world, s).agents).items()}
                for name, s in schedules.items()
            }
        welfare = pd.DataFrame.from_dict(metrics, orient="index").rename_axis("planner").reset_index()
        manifest.add_output(_write(welfare, args.out / "welfare.parquet"))
        manifest.add_output(_write(_schedule_frame(schedules), args.out / "schedules.parquet"))
        history = pd.DataFrame({"step": range(len(planner.history.values)), args.objective: planner.history.values})
        manifest.add_output(_write(history, args.out / "gradient_planner_history.parquet"))
        figure = plot_schedules(schedules, title=f"Tax schedules, {args.workers:,} {args.behaviour} workers")
        figure.savefig(args.out / "tax-schedules.png", dpi=120)
        plt.close(figure)
        manifest.add_output(args.out / "tax-schedules.png")
        gain = metrics["gradient planner"][args.objective] / metrics["Saez"][args.objective] - 1
        manifest.results.update(
            seconds=round(time.perf_counter() - started, 2),
            gradient_planner_seconds=round(optimise_seconds, 2),
            gradient_vs_saez=gain,
            saez_rounds=saez_planner.rounds,
            saez_converged=saez_planner.converged,
            welfare=metrics,
        )
    convergence = "converged" if saez_planner.converged else "NOT converged: raise --saez-iterations or --workers"
    print(
        f"tax policy: {args.workers:,} {args.behaviour} workers, seed {args.seed}; Saez fixed point: "
        f"{saez_planner.rounds} rounds ({convergence}); gradient planner: {args.steps} steps on {args.objective} "
        f"in {optimise_seconds:.1f} s"
    )
    print(format_table(metrics))
    print(f"gradient planner vs Saez on {args.objective}: {gain:+.2%}")
    for name in (
        "welfare.parquet",
        "schedules.parquet",
        "gradient_planner_history.parquet",
        "tax-schedules.png",
        "manifest.json",
    ):
        print(f"{name:34s} {args.out / name}")
    return 0


def format_table(metrics: dict[str, dict[str, float]]) -> str:
    """The welfare table: one row per planner, USD per worker except equality."""
    header = f"{'planner':20s}" + "".join(f"{label:>15s}" for label in TABLE_COLUMNS.values())
    rows = [header, "-" * len(header)]
    for name, values in metrics.items():
        cells = "".join(f"{values[k]:>15.4f}" if k == "equality" else f"{values[k]:>15,.0f}" for k in TABLE_COLUMNS)
        rows.append(f"{name:20s}{cells}")
    return "\n".join(rows)


def plot_schedules(schedules: dict[str, TaxSchedule], *, title: str) -> plt.Figure:
    """Marginal rate against income (log scale) for each schedule."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    income = torch.logspace(3, 6.5, 2000, dtype=torch.float64)  # 1,000 to 3.2M USD
    for name, schedule in schedules.items():
        axes.step(income.numpy(), schedule.marginal_rate(income).detach().numpy() * 100, where="post", label=name)
    axes.set(
        xscale="log", xlabel="taxable income (USD a year)", ylabel="marginal tax rate (%)", title=title, ylim=(0, 100)
    )
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def _schedule_frame(schedules: dict[str, TaxSchedule]) -> pd.DataFrame:
    rows = [
        {"planner": name, "bracket": k, "threshold_usd": b, "rate": r}
        for name, s in schedules.items()
        for k, (b, r) in enumerate(zip(s.thresholds_usd.tolist(), s.rates.detach().tolist(), strict=True))
    ]
    return pd.DataFrame(rows)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path
