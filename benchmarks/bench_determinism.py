"""The same plan, quiet and on a busy machine: are the reports identical?

    python benchmarks/bench_determinism.py [--busy K] PLAN_OR_SIZE ...

Each argument is a plan file, or a generated plan's size (``WORKLOADSxMONTHS``, seed 7, as
``bench_scale.py`` writes it). For each, ``tco compare PLAN --offline --format json`` runs twice
in a child process: once on the machine as it is, and once beside ``K`` CPU-bound processes
(default: one per core). It prints both wall times, whether the two reports are identical once
the solver seconds are left out, each scenario's NPV and gap, and whether any solve was stopped
by the time limit rather than by its work budget.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from command import TCO  # type: ignore[import-not-found]
from generate_plan import generate  # type: ignore[import-not-found]


def _spin() -> None:
    while True:
        pass


def _without_seconds(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_seconds(v) for k, v in node.items() if k != "seconds"}
    if isinstance(node, list):
        return [_without_seconds(v) for v in node]
    return node


def _compare(plan: Path) -> tuple[float, dict[str, Any], int]:
    started = time.perf_counter()
    proc = subprocess.run([TCO, "compare", str(plan), "--offline", "--format", "json"],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 4):
        sys.exit(f"tco compare {plan}: exit {proc.returncode}\n{proc.stderr}")
    return seconds, json.loads(proc.stdout), proc.returncode


def _plan(arg: str, tmp: Path) -> Path:
    if Path(arg).exists():
        return Path(arg)
    workloads, months = (int(x) for x in arg.split("x"))
    path = tmp / f"{arg}.toml"
    path.write_text(generate(workloads, months, 7))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 1)
    parser.add_argument("plans", nargs="+")
    args = parser.parse_args()
    started = time.time()
    sum(i * i for i in range(10**7))
    print(f"loop {time.time() - started:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for arg in args.plans:
            plan = _plan(arg, Path(tmp))
            quiet_s, quiet, quiet_rc = _compare(plan)
            spinners = [mp.Process(target=_spin, daemon=True) for _ in range(args.busy)]
            for p in spinners:
                p.start()
            try:
                busy_s, busy, busy_rc = _compare(plan)
            finally:
                for p in spinners:
                    p.terminate()
                    p.join()
            same = (json.dumps(_without_seconds(quiet), sort_keys=True)
                    == json.dumps(_without_seconds(busy), sort_keys=True))
            stopped = [s["name"] for doc in (quiet, busy) for s in doc["scenarios"]
                       if (s.get("solver") or {}).get("stopped_by_time_limit")]
            print(f"{arg}: quiet {quiet_s:.1f} s (exit {quiet_rc}), beside {args.busy} busy "
                  f"processes {busy_s:.1f} s (exit {busy_rc}); reports identical: "
                  f"{'yes' if same else 'NO'}; stopped by the time limit: "
                  f"{', '.join(sorted(set(stopped))) or 'none'}")
            for s in quiet["scenarios"]:
                solver = s.get("solver") or {}
                gap = solver.get("mip_gap")
                npv = s.get("npv_usd")
                print(f"  {s['name']:<12} {solver.get('status', '-'):<9} "
                      f"gap {'-' if gap is None else f'{gap:.2%}':>6}  "
                      f"NPV {'-' if npv is None else f'${npv:,.0f}'}")


if __name__ == "__main__":
    main()
