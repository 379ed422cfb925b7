"""A generated plan of 50 workloads over every GPU class in the snapshot, 36 months.

    python benchmarks/bench_large.py [--workloads 50] [--seed 7] [--time-limit 60]

Measures, for the hybrid scenario and as `tco compare` runs it: model-build time, the solve
(warm start from the LP relaxation, then the full program if needed), the solver's status and
gap, model size, and the peak memory of the process (ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import time

from generate_plan import generate  # type: ignore[import-not-found]

from tco.optimizer.build import build
from tco.optimizer.optimize import optimize
from tco.optimizer.plan import plan_from_dict
from tco.optimizer.scenarios import scenarios_for
from tco.optimizer.solver import SolverName
from tco.pricing import load_catalog


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", type=int, default=50)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--scenario", default="hybrid")
    args = parser.parse_args()
    import tomllib
    plan = plan_from_dict(tomllib.loads(generate(args.workloads, args.months, args.seed))).plan
    catalog = load_catalog(offline=True)
    scenario = next(s for s in scenarios_for(plan) if s.name == args.scenario)
    started = time.perf_counter()
    model = build(plan, catalog, scenario)
    built = time.perf_counter() - started
    variables = model.prob.vars
    integers = sum(1 for v in variables if v.integer)
    rows = len(model.prob.rows)
    started = time.perf_counter()
    info = optimize(model, SolverName.HIGHS, args.time_limit)
    solved = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"workloads {args.workloads}, months {args.months}, seed {args.seed}, "
          f"scenario {args.scenario}")
    print(f"variables {len(variables)} ({integers} integer), constraints {rows} "
          f"(and {model.cuts.covers} rounding inequalities added while solving)")
    print(f"build {built:.2f} s, solve {solved:.2f} s (warm start and solver) "
          f"({info.status.value}, gap "
          f"{info.mip_gap if info.mip_gap is None else f'{info.mip_gap:.4%}'}), "
          f"peak memory {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
