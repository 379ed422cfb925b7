"""Are the reported bounds valid? Each scenario of `tco compare` against a much tighter solve.

    python benchmarks/bench_bounds.py [--tight 0.0001] [--limit 600] [PLAN ...]
    python benchmarks/bench_bounds.py --generated 100 --seed 7

For every example (or each PLAN given, or a generated plan of N workloads), every scenario is
solved as `tco compare` solves it (the plan's own gap, 1% by default), then its program is
built again and solved to `--tight` (0.01%) from the plan found, for at most `--limit`
seconds. A reported bound is valid when it is not above the NPV of the tight solve's plan
(any plan's NPV bounds the optimum from above); the reported plan is then at most
NPV − tight bound from the best plan, which the last column gives in the SPEC 15 measure.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from pathlib import Path

from generate_plan import generate  # type: ignore[import-not-found]

from tco.optimizer import load_plan, solve
from tco.optimizer.build import build
from tco.optimizer.gaps import relative_gap
from tco.optimizer.plan import LoadedPlan, plan_from_dict
from tco.optimizer.scenarios import scenarios_for
from tco.optimizer.solver import run
from tco.pricing import load_catalog

ROOT = Path(__file__).resolve().parents[1]


def check(name: str, loaded: LoadedPlan, tight: float, limit: float) -> bool:
    catalog = load_catalog(offline=True)
    started = time.perf_counter()
    result = solve(loaded, catalog, workers=1)
    print(f"{name}: tco compare's solves in {time.perf_counter() - started:.1f} s")
    scenarios = {s.name: s for s in scenarios_for(loaded.plan)}
    valid = True
    for s in result.scenarios:
        if not s.feasible or s.solver is None or s.solver.bound is None:
            continue
        model = build(loaded.plan, catalog, scenarios[s.name])
        given = dict(s.values)
        start = {v: given.get(v.name, 0.0) for v in model.prob.vars}
        began = time.perf_counter()
        info = run(model.prob, "highs", limit, tight, start=start)
        seconds = time.perf_counter() - began
        best = model.prob.cost() if info.status.has_solution else None
        ok = best is None or s.solver.bound <= best + 1e-9 * max(1.0, abs(best))
        valid = valid and ok
        truth = None if info.bound is None else relative_gap(s.npv_usd or 0.0,
                                                              max(info.bound, s.solver.bound))
        print(f"  {s.name:12} NPV {s.npv_usd:>14,.0f}  bound {s.solver.bound:>14,.0f}  "
              f"gap {s.solver.mip_gap:.3%}  | tight: NPV "
              f"{'-' if best is None else f'{best:,.0f}':>14}  bound "
              f"{'-' if info.bound is None else f'{info.bound:,.0f}':>14} "
              f"({info.status.value}, {seconds:.1f} s)  bound valid: {'yes' if ok else 'NO'}"
              f"  reported plan within {'-' if truth is None else f'{truth:.3%}'}")
    return valid


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("plans", nargs="*")
    parser.add_argument("--tight", type=float, default=0.0001)
    parser.add_argument("--limit", type=float, default=600.0)
    parser.add_argument("--generated", type=int, metavar="N")
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    valid = True
    if args.generated:
        text = generate(args.generated, args.months, args.seed)
        loaded = plan_from_dict(tomllib.loads(text))
        valid = check(f"generated {args.generated}x{args.months} seed {args.seed}", loaded,
                      args.tight, args.limit)
    else:
        paths = [Path(p) for p in args.plans] or sorted((ROOT / "examples").glob("*.toml"))
        for path in paths:
            valid = check(path.stem, load_plan(path), args.tight, args.limit) and valid
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
