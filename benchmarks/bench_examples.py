"""End-to-end wall time of `tco compare` on every shipped example, offline.

    python benchmarks/bench_examples.py [--repeat N]

Runs the installed `tco` command (a fresh process each time, so start-up and imports count),
prints one line per example, and the solver's per-scenario seconds and gaps from the JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from command import TCO  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for plan in sorted((ROOT / "examples").glob("*.toml")):
        times = []
        doc = {}
        for _ in range(args.repeat):
            started = time.perf_counter()
            proc = subprocess.run([TCO, "compare", str(plan), "--offline", "--format", "json"],
                                  capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - started)
            if proc.returncode != 0:
                print(f"{plan.name}: exit {proc.returncode}\n{proc.stderr}", file=sys.stderr)
                return 1
            doc = json.loads(proc.stdout)
        solves = ", ".join(f"{s['name']} {s['solver']['seconds']:.2f}s"
                           for s in doc["scenarios"] if s.get("solver"))
        print(f"{plan.name:28s} median {statistics.median(times):6.2f} s  "
              f"(min {min(times):.2f}, max {max(times):.2f}; {len(times)} runs)  "
              f"recommended {doc['recommended']}; solves: {solves}")
    started = time.perf_counter()
    subprocess.run([TCO, "--help"], capture_output=True, check=True)
    print(f"{'tco --help (start-up)':28s} {time.perf_counter() - started:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
