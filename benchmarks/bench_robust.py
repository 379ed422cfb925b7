"""How the robust candidate's two-stage program (SPEC 19) grows with the samples, on the
research-lab example, offline.

    python benchmarks/bench_robust.py program [--criterion mean] 5 10 20 40
    python benchmarks/bench_robust.py risk --samples 20 [--per-program 20] [--workers K]

``program`` solves one joint program (``tco.optimizer.stochastic.joint``) over the first N
samples of seed 0 for each N, in this process, starting from the scenario candidates'
decisions as ``tco risk --optimize`` does: its size, the seconds to build, price the starts,
search and price the answer, the criterion found, the bound and the gap between them.
``risk`` times the whole command (a fresh process: the base solve, the robust search, every
candidate on the samples of seed 1 and the re-optimized NPVs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench_analysis import PLAN, loop_seconds
from command import TCO  # type: ignore[import-not-found]


def program(sizes: list[int], criterion: str) -> None:
    from tco.analysis.evaluate import at, relevant, with_gap
    from tco.analysis.montecarlo import candidates
    from tco.analysis.sampling import sample
    from tco.optimizer.plan import load_plan
    from tco.optimizer.scenarios import scenarios_for
    from tco.optimizer.stochastic import joint
    from tco.pricing.snapshot import load_snapshot

    print(f"loop {loop_seconds():.2f} s")
    plan = with_gap(load_plan(PLAN).plan, 0.001)
    catalog = relevant(plan, load_snapshot())
    chosen, _ = candidates(plan, catalog)
    starts = [c.decisions for c in chosen]
    print("| samples | columns | rows | whole-number | seconds | criterion | bound | gap | "
          "started from |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for n in sizes:
        futures = [at(plan, catalog, sample(plan.uncertainty, 0, i)) for i in range(n)]
        started = time.perf_counter()
        j = joint(futures, scenarios_for(plan)[0], criterion, starts, gap=0.001)
        seconds = time.perf_counter() - started
        if j is None:
            print(f"| {n} | - | - | - | {seconds:.1f} | no plan | | | |")
            continue
        gap = "" if j.bound_usd is None else f"{(j.objective_usd - j.bound_usd) / abs(j.objective_usd):.2%}"
        start = "" if j.started_from is None else (
            f"{chosen[j.started_from].scenario} ${j.start_objective_usd:,.0f}")
        print(f"| {n} | {j.columns:,} | {j.rows:,} | {j.integers:,} | {seconds:.1f} | "
              f"${j.objective_usd:,.0f} | "
              f"{'-' if j.bound_usd is None else f'${j.bound_usd:,.0f}'} | {gap} | {start} |",
              flush=True)


def risk(samples: int, per_program: int | None, workers: int | None) -> None:
    extra = [*(["--per-program", str(per_program)] if per_program else []),
             *(["--workers", str(workers)] if workers else [])]
    print(f"loop {loop_seconds():.2f} s")
    started = time.perf_counter()
    proc = subprocess.run([TCO, "risk", str(PLAN), "--offline", "--format", "json",
                           "--optimize", "--samples", str(samples), *extra],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"tco risk --optimize: exit {proc.returncode}\n{proc.stderr}")
    doc = json.loads(proc.stdout)
    means = ", ".join(f"{c['scenario']} {c['mean_usd']}" for c in doc["candidates"])
    print(f"tco risk --optimize --samples {samples} {' '.join(extra)}: {seconds:.1f} s; "
          f"recommended {doc['recommended']}; robust {doc['robust']}; vss {doc['vss_usd']}; "
          f"evpi {doc['evpi_usd']}; means: {means}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("program")
    p.add_argument("sizes", type=int, nargs="+")
    p.add_argument("--criterion", default="mean", choices=["mean", "cvar"])
    r = sub.add_parser("risk")
    r.add_argument("--samples", type=int, default=20)
    r.add_argument("--per-program", type=int)
    r.add_argument("--workers", type=int)
    args = parser.parse_args()
    if args.what == "program":
        program(args.sizes, args.criterion)
    else:
        risk(args.samples, args.per_program, args.workers)


if __name__ == "__main__":
    main()
