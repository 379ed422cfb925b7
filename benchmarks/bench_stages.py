"""Model-building time against solving time, per scenario of every shipped example.

    python benchmarks/bench_stages.py [--rounds N] [EXAMPLE ...]

Each scenario goes through the steps `tco compare` takes: `build` (the plan and catalog turned
into the venues and offers, then into the program), `solve` (`optimize`: the program handed
to HiGHS, the warm start and the full solve if needed, values read back into the variables)
and `read` (`extract`: the report's costs, allocations and commitments from those values, and
the model freed, as `tco compare` frees it before the next scenario). A
scenario that `precheck` rules out before its program is built is marked so: its build is the
venues and offers only, and it has nothing to solve. Each figure is the least CPU time
(`time.process_time`) over the rounds, so a busy machine inflates it less than wall time; the
solver runs on one thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tco.optimizer import load_plan
from tco.optimizer.build import define_program, prepare
from tco.optimizer.diagnosis import precheck
from tco.optimizer.extract import extract
from tco.optimizer.optimize import optimize
from tco.optimizer.scenarios import scenarios_for
from tco.optimizer.solver import SolverName
from tco.pricing import load_catalog

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("examples", nargs="*", help="example names (default: all)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    catalog = load_catalog(offline=True)
    names = args.examples or sorted(p.stem for p in (ROOT / "examples").glob("*.toml"))
    for name in names:
        plan = load_plan(ROOT / "examples" / f"{name}.toml").plan
        scenarios = scenarios_for(plan)
        best = {s.name: [float("inf")] * 3 for s in scenarios}
        ruled_out: set[str] = set()
        for _ in range(args.rounds):
            for scenario in scenarios:
                t0 = time.process_time()
                model = prepare(plan, catalog, scenario, lean=True)   # as `tco compare` builds it
                if precheck(model):
                    del model
                    t1 = t2 = t3 = time.process_time()
                    ruled_out.add(scenario.name)
                else:
                    define_program(model)
                    t1 = time.process_time()
                    info = optimize(model, SolverName.HIGHS, 60)
                    t2 = time.process_time()
                    extract(model, info)
                    del model, info  # freed here, as `solve_scenario` frees it when it returns
                    t3 = time.process_time()
                best[scenario.name] = [min(a, b) for a, b in
                                       zip(best[scenario.name], (t1 - t0, t2 - t1, t3 - t2))]
        print(f"{name}")
        for scenario, (b, s, r) in best.items():
            if scenario in ruled_out:
                print(f"  {scenario:12s} build {b * 1000:7.1f} ms  ruled out before its program "
                      f"was built (precheck)")
            else:
                print(f"  {scenario:12s} build {b * 1000:7.1f} ms  solve {s * 1000:7.1f} ms  "
                      f"read {r * 1000:6.1f} ms  (build / solve {b / s:.2f})")
        b, s, r = (sum(v[i] for v in best.values()) for i in range(3))
        print(f"  {'all':12s} build {b * 1000:7.1f} ms  solve {s * 1000:7.1f} ms  "
              f"read {r * 1000:6.1f} ms  (build / solve {b / s:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
