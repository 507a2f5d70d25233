"""Time one contact aggregation y = A x over a random graph, for the chosen kernel and the alternatives.

    python benchmarks/aggregate.py --agents 1000000 --contacts 20

The graph has N * contacts / 2 random undirected edges, each used both ways (so about `contacts` directed
contacts per agent, E ~ N * contacts), built with ContactLayer.from_edges. Each figure is the best (and
median) of --repeats runs, in milliseconds, on float32 x unless said otherwise. Contacts are in random
order (no locality), the worst case for the gathers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from torch import Tensor

from populace.network import ContactLayer

Report = Callable[[str, Callable[[], object]], None]


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    fn()  # warm-up (twice: first calls allocate)
    fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return min(runs) * 1e3, statistics.median(runs) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=20, help="mean directed contacts per agent")
    parser.add_argument("--k", type=int, default=4, help="columns of the [N, K] case")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="skip the slow alternatives (COO, index_add_)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")

    n = args.agents
    g = torch.Generator().manual_seed(0)
    n_pairs = n * args.contacts // 2
    src = torch.randint(0, n, (n_pairs,), generator=g, dtype=torch.int32)
    dst = torch.randint(0, n, (n_pairs,), generator=g, dtype=torch.int32)
    t0 = time.perf_counter()
    layer = ContactLayer.from_edges(n, src, dst, torch.rand(n_pairs, generator=g))
    build_s = time.perf_counter() - t0
    e = layer.n_edges
    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load:.2f} before")
    print(
        f"N = {n:,} agents, E = {e:,} directed contacts ({e / n:.1f} per agent); from_edges {build_s:.2f} s"
    )
    print(f"{'kernel':58s} {'best ms':>9s} {'median':>9s} {'Medges/s':>9s}")

    def report(label: str, fn: Callable[[], object], n_edges: int = e) -> None:
        best, median = timed(fn, args.repeats)
        print(f"{label:58s} {best:9.1f} {median:9.1f} {n_edges / best / 1e3:9.0f}")

    forward_figures(layer, args, g, report)
    backward_figures(layer, src, dst, g, report)


def forward_figures(
    layer: ContactLayer, args: argparse.Namespace, g: torch.Generator, report: Report
) -> None:
    n, w, k = layer.n_agents, layer.weight, args.k
    x, xk = torch.rand(n, generator=g), torch.rand(n, k, generator=g)
    crow64, col64 = layer.crow.long(), layer.col.long()
    csr64 = torch.sparse_csr_tensor(crow64, col64, w, (n, n), check_invariants=False)

    report("CHOSEN layer.aggregate(x): CSR int32 @ x (MKL)", lambda: layer.aggregate(x))
    report("  CSR int64 indices @ x", lambda: csr64 @ x)
    report(
        "  gather w * x[col] + segment_reduce(sum, offsets=crow)",
        lambda: torch.segment_reduce(w * x[col64], "sum", offsets=crow64),
    )
    if not args.quick:
        rows = torch.repeat_interleave(torch.arange(n), layer.degree().long())
        report(
            "  gather w * x[col] + index_add_ by row",
            lambda: torch.zeros(n).index_add_(0, rows, w * x[col64]),
        )
        coo = torch.sparse_coo_tensor(torch.stack([rows, col64]), w, (n, n)).coalesce()
        report("  torch.sparse.mm(COO, x[:, None])", lambda: torch.sparse.mm(coo, x[:, None]))
    report(f"CHOSEN layer.aggregate(x [N, {k}])", lambda: layer.aggregate(xk))
    report(f"  CSR int64 @ x [N, {k}]", lambda: csr64 @ xk)
    report(
        f"  gather + segment_reduce, x [N, {k}]",
        lambda: torch.segment_reduce(w[:, None] * xk[col64], "sum", offsets=crow64),
    )
    unweighted = layer.with_weight(None, is_symmetric=True)
    report("CHOSEN unweighted layer (cached ones)", lambda: unweighted.aggregate(x))
    ones_view = torch.ones(1).expand(layer.n_edges)
    csr_view = torch.sparse_csr_tensor(layer.crow, layer.col, ones_view, (n, n), check_invariants=False)
    report("  unweighted, CSR with a broadcast view of one 1", lambda: csr_view @ x)
    x64, layer64 = x.double(), layer.to(dtype=torch.float64)
    report("CHOSEN float64 x, float64 weights", lambda: layer64.aggregate(x64))
    report("  float64 x, float32 weights (cast per call)", lambda: layer.aggregate(x64))


def backward_figures(
    layer: ContactLayer, src: Tensor, dst: Tensor, g: torch.Generator, report: Report
) -> None:
    print("backward (forward + backward of y.sum()):")
    n = layer.n_agents
    x = torch.rand(n, generator=g, requires_grad=True)
    report("  symmetric layer, grad x (reuses A)", lambda: layer.aggregate(x).sum().backward())
    w = layer.weight.clone().requires_grad_()
    with_w = layer.with_weight(w, is_symmetric=True, validate=False)
    report(
        "  symmetric layer, grad x and w (grad w by sampled_addmm)",
        lambda: with_w.aggregate(x).sum().backward(),
    )
    xd, col64 = x.detach(), layer.col.long()

    def grad_w_by_gathers() -> Tensor:
        rows = torch.repeat_interleave(torch.arange(n), layer.degree().long(), output_size=layer.n_edges)
        return xd[rows] * xd[col64]

    report("  grad w alone, alternative: rows, then g[row] * x[col]", grad_w_by_gathers)
    pattern = layer.to_sparse_csr()
    report(
        "  grad w alone, chosen: sampled_addmm on A's pattern",
        lambda: torch.sparse.sampled_addmm(pattern, xd[:, None], xd[None, :], beta=0.0),
    )
    directed = ContactLayer.from_edges(n, src, dst, symmetric=False)
    t0 = time.perf_counter()
    directed.transpose()
    seconds = time.perf_counter() - t0
    print(f"  directed layer (E = {directed.n_edges:,}): transpose built once in {seconds:.2f} s")
    report("  directed layer, grad x (cached transpose)", lambda: directed.aggregate(x).sum().backward())


if __name__ == "__main__":
    main()
