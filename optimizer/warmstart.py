"""A first plan for the solver to improve on, found from the LP relaxation.

Whole reservations are what makes the program hard: its LP relaxation is solved in a fraction
of a second, but branch-and-bound can take minutes to find a good integer plan on its own. So
before the real solve:

1. solve the LP relaxation;
2. round every reservation count to the nearest whole instance, place each single-venue
   workload where the relaxation put most of it, and keep storage wherever the relaxation used a
   venue; then solve the program with those fixed (server orders and tier indicators stay
   integer) — a small, quick MILP;
3. hand that plan to the solver as its starting incumbent.

The start never changes what is optimal: the full program is still solved to the requested
gap, and a start that cannot be completed is simply not used.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import pulp

from .model import Model
from .solve import SolverName, run

Start = dict[pulp.LpVariable, float]


def warm_start(model: Model, solver: SolverName, budget_s: float | None) -> Start | None:
    """A complete feasible assignment of ``model``'s variables, or None."""
    if not model.reservations and not model.picks:
        return None
    started = time.perf_counter()
    relaxed = run(model.prob, solver, budget_s, 0.0, relax=True)
    if not relaxed.status.has_solution:
        return None
    saved: list[tuple[pulp.LpVariable, float | None, float | None]] = []

    def fix(var: pulp.LpVariable, value: float) -> None:
        saved.append((var, var.lowBound, var.upBound))
        var.lowBound = var.upBound = value

    best: dict[str, tuple[pulp.LpVariable | None, float]] = defaultdict(lambda: (None, -1.0))
    for (workload, _), var in model.picks.items():
        if (var.varValue or 0.0) > best[workload][1]:
            best[workload] = (var, var.varValue or 0.0)
    relaxed_counts = {var: var.varValue or 0.0 for var, _ in model.reservations.values()}
    try:
        for (workload, _), var in model.picks.items():
            fix(var, 1.0 if best[workload][0] is var else 0.0)
        for var, value in relaxed_counts.items():
            fix(var, float(math.floor(value + 0.5)))
        # storage is billed where the relaxation used a venue at all
        for key, use in model.storage_use.items():
            if isinstance(use, pulp.LpVariable) and use.name.startswith("use"):
                fix(use, 1.0 if (use.varValue or 0.0) > 1e-6 else 0.0)
        left = None if budget_s is None else max(1.0, budget_s / 4 - (time.perf_counter() - started))
        info = run(model.prob, solver, left, 0.01)
        if not info.status.has_solution:
            # rounding up can break a quota: fall back to rounding every count down
            for var, value in relaxed_counts.items():
                var.lowBound = var.upBound = float(math.floor(value + 1e-6))
            info = run(model.prob, solver, left, 0.01)
        if not info.status.has_solution:
            return None
        return {v: v.varValue for v in model.prob.variables() if v.varValue is not None}
    finally:
        for var, lo, up in reversed(saved):
            var.lowBound, var.upBound = lo, up
