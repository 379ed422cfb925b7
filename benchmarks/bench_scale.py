"""The scale curve: `tco compare` on generated plans of growing size, end to end.

    python benchmarks/bench_scale.py [--seed 7] [SIZE ...]     # SIZE: WORKLOADSxMONTHS

For each size (default 50x36 100x36 200x36 100x60 400x36) it writes the plan with
`generate_plan.py`, then runs `tco compare PLAN --offline --format json` in a child process
and reports: the wall time of the whole command, the peak memory of any of its processes
(ru_maxrss of the children), each solved scenario's status, gap and solver seconds, and the
hybrid program's size and build time (built once more in this process).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from generate_plan import generate  # type: ignore[import-not-found]

from tco.optimizer.build import build
from tco.optimizer.plan import plan_from_dict
from tco.optimizer.scenarios import scenarios_for
from tco.pricing import load_catalog

SIZES = ("50x36", "100x36", "200x36", "100x60", "400x36")


def _hybrid_build(text: str) -> tuple[float, int, int, int]:
    plan = plan_from_dict(tomllib.loads(text)).plan
    catalog = load_catalog(offline=True)
    scenario = next(s for s in scenarios_for(plan) if s.name == "hybrid")
    started = time.perf_counter()
    model = build(plan, catalog, scenario)
    seconds = time.perf_counter() - started
    return (seconds, len(model.prob.vars), sum(1 for v in model.prob.vars if v.integer),
            len(model.prob.rows))


def measure(workloads: int, months: int, seed: int) -> None:
    text = generate(workloads, months, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.toml"
        path.write_text(text, encoding="utf-8")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "tco.cli.main", "compare", str(path),
                               "--offline", "--format", "json"],
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    built, columns, integers, rows = _hybrid_build(text)
    print(f"{workloads} workloads x {months} months (seed {seed}): exit {done.returncode}, "
          f"wall {wall:.1f} s, peak memory {peak:,.0f} MiB; hybrid program {columns:,} "
          f"columns ({integers:,} integer), {rows:,} rows, built in {built:.1f} s", flush=True)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print("  no report:", done.stderr.strip()[-300:])
        return
    for s in report["scenarios"]:
        if not s["feasible"]:
            continue
        solver = s.get("solver") or {}
        gap = solver.get("mip_gap")
        print(f"  {s['name']:<11} {solver.get('status', '-'):<9} gap "
              f"{'-' if gap is None else f'{gap:.2%}':>6}  solve {solver.get('seconds', 0):6.1f} s"
              f"  NPV ${s['npv_usd']:,.0f}{'  (recommended)' if s['name'] == report['recommended'] else ''}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("sizes", nargs="*", default=list(SIZES))
    args = parser.parse_args()
    if args.one:
        workloads, _, months = args.sizes[0].partition("x")
        measure(int(workloads), int(months or 36), args.seed)
        return 0
    for size in args.sizes:
        # each size in a process of its own, so the peak memory is that size's
        subprocess.run([sys.executable, __file__, "--one", "--seed", str(args.seed), size],
                       check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
