"""Wall time of the decision analyses (SPEC 12) on the research-lab example, offline.

    python benchmarks/bench_analysis.py risk [--samples 500] [--workers K]
    python benchmarks/bench_analysis.py dask [--samples 200]
    python benchmarks/bench_analysis.py sensitivity

``risk`` runs the installed ``tco risk`` command (a fresh process: start-up, the base solve and
the pool's start count) on the local process pool. ``dask`` starts a Dask cluster on loopback
with 1 and then 2 single-threaded worker processes, runs the same risk analysis on each
through ``dask://`` and prints both times, their ratio, and whether the results are identical.
``sensitivity`` times ``tco sensitivity`` with every default lever.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from command import TCO  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "examples" / "research-lab.toml"


def loop_seconds() -> float:
    """The fixed CPU-bound loop each figure in README.md is paired with."""
    started = time.time()
    sum(i * i for i in range(10**7))
    return time.time() - started


def tco(*args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    proc = subprocess.run([TCO, *args, str(PLAN), "--offline", "--format", "json"],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"tco {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
    return seconds, json.loads(proc.stdout)


def risk(samples: int, workers: int | None) -> None:
    extra = ["--workers", str(workers)] if workers else []
    print(f"loop {loop_seconds():.2f} s")
    seconds, doc = tco("risk", "--samples", str(samples), *extra)
    means = ", ".join(f"{c['scenario']} {c['mean_usd']}" for c in doc["candidates"])
    print(f"tco risk --samples {samples}{' --workers ' + str(workers) if workers else ''}: "
          f"{seconds:.1f} s; recommended {doc['recommended']}; means: {means}; "
          f"failed samples: {len(doc['failed_samples'])}")


def dask(samples: int) -> None:
    from distributed import LocalCluster

    from tco.analysis import executor
    from tco.analysis import risk as run_risk
    from tco.cli.main import _load_plan
    from tco.pricing import load_catalog

    loaded = _load_plan(str(PLAN))
    catalog = load_catalog(offline=True)
    print(f"loop {loop_seconds():.2f} s")
    times, docs = {}, {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None) as cluster:
            spec = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
            with executor(spec) as pool:
                started = time.perf_counter()
                result = run_risk(loaded, catalog, samples=samples, executor=pool)
                times[workers] = time.perf_counter() - started
                docs[workers] = (json.dumps(result.to_dict(), sort_keys=True), result.npvs)
        print(f"dask, {workers} worker(s), {samples} samples: {times[workers]:.1f} s")
    print(f"speed-up 2 vs 1: {times[1] / times[2]:.2f}x; results identical: "
          f"{docs[1] == docs[2]}")


def sensitivity() -> None:
    print(f"loop {loop_seconds():.2f} s")
    seconds, doc = tco("sensitivity")
    rows = ", ".join(f"{p['param']} {p['npv_low_usd']}..{p['npv_high_usd']}"
                     for p in doc["parameters"])
    print(f"tco sensitivity: {seconds:.1f} s; {rows}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["risk", "dask", "sensitivity"])
    parser.add_argument("--samples", type=int)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    if args.what == "risk":
        risk(args.samples or 500, args.workers)
    elif args.what == "dask":
        dask(args.samples or 200)
    else:
        sensitivity()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
