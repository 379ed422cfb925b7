"""A first plan for the solver to improve on, found from the LP relaxation.

Whole reservations are what makes the program hard: its LP relaxation is solved in a fraction
of a second, but branch-and-bound can take minutes to find a good integer plan on its own. So
before the real solve:

1. solve the LP relaxation; then, on programs of ``COVERS_FROM`` variables or more, up to
   ``COVER_ROUNDS`` times, add the rounding inequality of each group of whole units (reserved
   instances, servers) whose fraction the relaxation fills, and solve it again
   (``model.add_unit_covers``);
2. place each single-venue workload where the relaxation put most of it, and solve the
   relaxation again with those placements fixed (so the reservations follow the workload);
3. allow each reservation count only the two whole numbers around its relaxed value, keep
   each workload on the cloud regions the relaxation used (sites stay open: whole servers
   leave room the relaxation did not have), and solve that restricted program (server
   orders stay integer) with each tiered total kept in the tier the relaxation reached — a
   small, quick MILP, stopped at 0.2% or at the first plan within the requested gap of the
   relaxation's bound; when that plan is not yet within the gap and the plan is small, solve
   once more from it with the cloud regions and tiers reopened (whole reservations can leave
   room where the relaxation put nothing); when the restricted program has no plan at all,
   solve it again with the regions and tiers reopened;
4. hand that plan to the solver as its starting incumbent.

The relaxation's cost is also a lower bound on every plan, so when the start is already within
the requested gap of it the start is the answer and the full program need not be solved. The
start never changes what is optimal: otherwise the full program is still solved to the
requested gap, and a start that cannot be completed is simply not used.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, replace

from .decisions import DecisionsError, fix, simple_decisions
from .model import Model, add_shortfall_cuts, add_unit_covers
from .program import Var
from .solve import SolveInfo, SolverName, SolveStatus, run

_EPS = 1e-6
# Reopening cloud regions for a second restricted solve pays off on plans of up to a few
# thousand venue-months; beyond that the second solve costs more than the full program.
REOPEN_AT_MOST = 2000
# The restricted programs are small: solving them closer than the final gap costs little and
# gives the full solve a start it rarely needs to improve.
RESTRICTED_GAP = 0.002
# Rounds of rounding inequalities after the first relaxation. On the generated 50-workload
# plans the first round raises the bound by up to 0.35% and the later ones find nothing more;
# each round re-solves the relaxation from its last basis (0.1 s on those plans). Below
# COVERS_FROM variables the solver's own cuts close such gaps in a fraction of a second, and
# on the examples the rounds raised no bound by more than 0.01% while costing up to 0.2 s.
COVER_ROUNDS = 3
COVERS_FROM = 10_000
# The simple plans are a floor and a first incumbent, not an answer: solved to 5% they take a
# fraction of the time a 1% solve takes on the larger plans (benchmarks/README.md)
SIMPLE_GAP = 0.05


def relative_gap(objective: float, bound: float | None, spend: float) -> float | None:
    """How far a plan of NPV ``objective`` may be from the best one, given that no plan costs
    less than ``bound``, relative to the plan's spending (the present value of its outflows,
    ``Model.spend``). Relative to spending rather than to NPV: a fleet's resale value can make
    the NPV small, or negative, while the decisions and their possible error stay as large."""
    if bound is None or not math.isfinite(bound):
        return None
    return max(0.0, objective - bound) / max(spend, 1.0)


@dataclass(frozen=True)
class Start:
    """A feasible plan to start from, with how far it can be from the best one."""

    values: dict[Var, float]
    objective: float      # NPV of this plan
    bound: float          # NPV of the LP relaxation: no plan costs less
    seconds: float        # solver time spent finding it
    spend: float          # present value of the plan's outflows

    @property
    def gap(self) -> float:
        """Relative gap to the bound (``relative_gap``)."""
        gap = relative_gap(self.objective, self.bound, self.spend)
        return math.inf if gap is None else gap

    def load(self) -> None:
        """Put this plan's values into the model's variables."""
        for var, value in self.values.items():
            var.varValue = value


def _start(model: Model, lower_bound: float, seconds: float) -> Start:
    values = {v: v.varValue for v in model.prob.vars if v.varValue is not None}
    return Start(values, model.prob.objective.value(), lower_bound, seconds, model.spend())


def warm_start(model: Model, solver: SolverName, budget_s: float | None) -> Start | None:
    """A complete feasible assignment of ``model``'s variables, or None."""
    if not model.reservations and not model.picks:
        return None
    started = time.perf_counter()
    seconds = 0.0

    def left(share: float) -> float | None:
        return None if budget_s is None else max(1.0, budget_s * share - (time.perf_counter() - started))

    relaxed_info = run(model.prob, solver, left(0.1), 0.0, relax=True)
    seconds += relaxed_info.seconds
    if relaxed_info.status != SolveStatus.OPTIMAL:
        return None
    lower_bound = model.prob.objective.value()
    # the relaxation spends no more than a whole plan will: a gap measured against it is
    # never smaller than the one measured against the plan's own spending
    scale = max(model.spend(), 1.0)
    covers = len(model.prob.vars) >= COVERS_FROM
    for _ in range(COVER_ROUNDS):
        # whole units the relaxation rounded away: cut them off, raising the bound
        if not add_shortfall_cuts(model) + (add_unit_covers(model) if covers else 0):
            break
        again = run(model.prob, solver, left(0.1), 0.0, relax=True)
        seconds += again.seconds
        if again.status != SolveStatus.OPTIMAL:
            return None
        lower_bound = model.prob.objective.value()
    saved: list[tuple[Var, float | None, float | None]] = []

    def bound(var: Var, lo: float, up: float) -> None:
        saved.append((var, var.lowBound, var.upBound))
        var.lowBound, var.upBound = lo, up

    try:
        if model.picks:
            best: dict[str, tuple[Var | None, float]] = defaultdict(lambda: (None, -1.0))
            for (workload, _), var in model.picks.items():
                if (var.varValue or 0.0) > best[workload][1]:
                    best[workload] = (var, var.varValue or 0.0)
            for (workload, _), var in model.picks.items():
                value = 1.0 if best[workload][0] is var else 0.0
                bound(var, value, value)
            again = run(model.prob, solver, left(0.1), 0.0, relax=True)
            seconds += again.seconds
            if not again.status.has_solution:
                return None
        relaxed = {var: var.varValue or 0.0 for var, _ in model.reservations.values()}
        for var, value in relaxed.items():
            bound(var, float(math.floor(value + _EPS)), float(math.ceil(value - _EPS)))
        # storage is billed wherever the relaxation used a venue, and nowhere else in the
        # cloud; at a site, whole servers leave room the relaxation did not have, so
        # workloads stay free to use it
        closed: list[Var] = []
        for (_, venue, _), use in model.storage_use.items():
            if not isinstance(use, Var) or not use.name.startswith("use"):
                continue
            if (use.varValue or 0.0) > _EPS:
                bound(use, 1.0, 1.0)
            elif not model.venues[venue].is_site:
                bound(use, 0.0, 0.0)
                closed.append(use)
        # tiered prices: keep each total in the tier the relaxation reached
        for seg, starts, fulls in model.tiered:
            total = sum(s.varValue or 0.0 for s in seg)
            for k, full in enumerate(fulls):
                value = 1.0 if total >= starts[k + 1] - _EPS else 0.0
                bound(full, value, value)
                closed.append(full)
        # stop as soon as a plan is within the requested gap of the relaxation's bound
        target = lower_bound + model.plan.plan.mip_gap * scale
        info = run(model.prob, solver, left(0.25), RESTRICTED_GAP, target=target,
                   abs_gap=RESTRICTED_GAP * scale)
        seconds += info.seconds
        if info.status == SolveStatus.INFEASIBLE and 0 < len(closed) <= REOPEN_AT_MOST:
            # a fraction can hide a whole step: a dataset the relaxation moved 1% of moves
            # whole, and its egress leaves the tier the relaxation reached. Reopen and retry.
            for var in closed:
                var.lowBound, var.upBound = 0.0, 1.0
            closed = []
            info = run(model.prob, solver, left(0.35), RESTRICTED_GAP, target=target,
                       abs_gap=RESTRICTED_GAP * scale)
            seconds += info.seconds
        if not info.status.has_solution:
            return None
        start = _start(model, lower_bound, seconds)
        if start.gap > model.plan.plan.mip_gap and 0 < len(closed) <= REOPEN_AT_MOST:
            # whole reservations can leave room in regions the relaxation did not use: let
            # workloads move there too, and totals change tier, starting from the plan found
            for var in closed:
                var.lowBound, var.upBound = 0.0, 1.0
            info = run(model.prob, solver, left(0.35), RESTRICTED_GAP, start=start.values,
                       target=target, abs_gap=RESTRICTED_GAP * scale)
            seconds += info.seconds
            if info.status.has_solution and model.prob.objective.value() < start.objective:
                return _start(model, lower_bound, seconds)
            start.load()
        return replace(start, seconds=seconds)
    finally:
        for var, lo, up in reversed(saved):
            var.lowBound, var.upBound = lo, up


def simple_plan(model: Model, solver: SolverName) -> Start | None:
    """The cheaper of the simple plans (SPEC 15): no orders and no reservations, the servers
    already owned kept to the end of their life or sold at once, and the hourly use
    re-optimized. No plan returned is worse than it. Solved without a time limit: with every
    whole-unit decision fixed, what remains is small."""
    best: Start | None = None
    seconds = 0.0
    for keep in (False, True):
        try:
            restore = fix(model, simple_decisions(model, keep))
        except DecisionsError:
            continue       # a scenario without sites cannot keep servers
        try:
            info = run(model.prob, solver, None, SIMPLE_GAP)
            seconds += info.seconds
            if info.status.has_solution:
                found = _start(model, -math.inf, seconds)
                if best is None or found.objective < best.objective:
                    best = found
        finally:
            restore()
        if not model.cohorts or all(not c.cohort.existing for c in model.cohorts):
            break          # nothing owned: keeping and selling are the same plan
    return None if best is None else replace(best, seconds=seconds)


def _tighten(model: Model, solver: SolverName) -> float:
    """Add the site-shortfall inequalities the relaxation violates, a few rounds (for a program
    the warm start did not run on). Returns the seconds spent."""
    seconds = 0.0
    for _ in range(COVER_ROUNDS):
        info = run(model.prob, solver, None, 0.0, relax=True)
        seconds += info.seconds
        if info.status != SolveStatus.OPTIMAL or not add_shortfall_cuts(model):
            break
    return seconds


def optimize(model: Model, solver: SolverName, time_limit: float | None) -> SolveInfo:
    """Solve ``model`` to its plan's gap: the simple plan and the warm start first, then the
    full program if needed, and never a plan worse than the simple one.

    ``time_limit`` bounds the warm start and the full solve (seconds); the reported seconds
    include the simple plan's solve, which no time limit stops. The reported gap is measured
    against the best bound known, the relaxation's or the full solve's, relative to the
    plan's spending (``relative_gap``).
    """
    gap = model.plan.plan.mip_gap
    simple = simple_plan(model, solver)
    started = time.perf_counter()
    start = warm_start(model, solver, time_limit)
    spent = (simple.seconds if simple else 0.0) + (start.seconds if start else 0.0)
    relaxed = start.bound if start is not None else None
    best = min((s for s in (start, simple) if s is not None), key=lambda s: s.objective,
               default=None)
    name = SolverName(solver).value
    if best is not None and relaxed is not None:
        within = relative_gap(best.objective, relaxed, best.spend)
        if within is not None and within <= gap:
            # within the gap of the relaxation's bound: it is the answer
            best.load()
            spent += drop_unused_venues(model, solver)
            within = relative_gap(model.prob.objective.value(), relaxed, model.spend())
            return SolveInfo(name, SolveStatus.OPTIMAL, spent, within, relaxed)
    if start is None and model.shortfall_cuts:
        spent += _tighten(model, solver)
    left = None if time_limit is None else max(1.0, time_limit - (time.perf_counter() - started))
    info = run(model.prob, solver, left, gap, start=best.values if best else None,
               abs_gap=gap * best.spend if best else None)
    info = replace(info, seconds=info.seconds + spent)
    found = model.prob.objective.value() if info.status.has_solution else None
    if best is not None and (found is None
                             or best.objective < found - 1e-6 * max(1.0, abs(best.objective))):
        # the solver kept nothing better within its time: the best start is the plan
        best.load()
        found = best.objective
    if found is None:
        return info
    bounds = [b for b in (info.bound, relaxed) if b is not None and math.isfinite(b)]
    bound = max(bounds) if bounds else None
    info = replace(info, seconds=info.seconds + drop_unused_venues(model, solver))
    found = model.prob.objective.value()
    measured = relative_gap(found, bound, model.spend())
    status = SolveStatus.OPTIMAL if measured is not None and measured <= gap + 1e-9 else (
        SolveStatus.FEASIBLE)
    return replace(info, status=status, mip_gap=measured, bound=bound)


def drop_unused_venues(model: Model, solver: SolverName, rounds: int = 3) -> float:
    """Stop paying storage where the plan runs nothing.

    A plan within the gap may leave a venue-use indicator at 1 where the workload uses no
    capacity that month: a whole plan that pays storage for nothing. Such indicators are set
    to 0 and the plan's hours solved again with every whole-number decision held (a linear
    program, quick); if holding the tier indicators leaves no plan, they are freed for a short
    search. The plan can only get cheaper. A new solve may move hours off another venue, so
    this repeats, a few rounds at most. Returns the seconds spent.
    """
    seconds = 0.0
    picks = {id(v) for v in model.picks.values()}
    tiers = {id(v) for v in model.tier_vars}
    for _ in range(rounds):
        used: dict[tuple[str, str, int], float] = {}
        for c in model.caps:
            key = (c.workload, c.venue, c.month)
            used[key] = used.get(key, 0.0) + (c.var.varValue or 0.0)
        stray = [u for key, u in model.storage_use.items()
                 if isinstance(u, Var) and id(u) not in picks and (u.varValue or 0.0) > 0.5
                 and used.get(key, 0.0) <= _EPS]
        if not stray:
            break
        before = _start(model, -math.inf, 0.0)
        saved = [(v, v.lowBound, v.upBound) for v in model.prob.vars if v.integer]
        info = None
        try:
            for free_tiers in (False, True):
                for var in model.prob.vars:
                    if var.integer and not (free_tiers and id(var) in tiers):
                        var.lowBound = var.upBound = float(round(var.varValue or 0.0))
                for var in stray:
                    var.lowBound = var.upBound = 0.0
                info = run(model.prob, solver, 5.0 if free_tiers else None, RESTRICTED_GAP)
                seconds += info.seconds
                if info.status.has_solution:
                    break
                before.load()
        finally:
            for var, lo, up in saved:
                var.lowBound, var.upBound = lo, up
        if (info is None or not info.status.has_solution
                or model.prob.objective.value() > before.objective):
            before.load()
            break
    return seconds
