"""Solving one scenario's program to its gap (``optimize``), honestly (SPEC 15).

1. The simple plans: no orders and no reservations, the servers already owned kept to the end
   of their life or sold at once, the hourly use optimized. No plan returned is worse.
2. The warm start (``warmstart.py``): a plan from the LP relaxation, and the relaxation's
   bound, tightened by the valid inequalities it breaks (``cuts.py``).
3. The best of them is the answer when it is within the gap of the bound; otherwise the full
   program is solved from it, and the better of the two kept.
4. Storage left paid where the plan runs nothing is dropped (``drop_unused_venues``).

Gaps are measured in the solvers' own way: (NPV − bound) / max(|NPV|, |bound|, 1)
(``gaps.relative_gap``).
"""

from __future__ import annotations

import math
from dataclasses import replace

from .cuts import add_shortfall_cuts
from .decisions import DecisionsError, fix, simple_decisions
from .gaps import gap_usd, relative_gap, sure_target
from .model import Model
from .solver import SolveInfo, SolverName, SolveStatus, node_budget, run, safety_net
from .warmstart import COVER_ROUNDS, RESTRICTED_GAP, FleetHint, Start, start_of, warm_start

__all__ = ["drop_unused_venues", "optimize", "simple_plan"]

_EPS = 1e-6
# The simple plans are a floor and a first incumbent, not an answer: solved to 5%, which is
# much quicker than 1% on the larger plans (benchmarks/README.md)
SIMPLE_GAP = 0.05
SIMPLE_SHARE = 0.25
# storage dropped where nothing runs: each search of it may take this share of the nodes
DROP_SHARE = 0.1


def simple_plan(model: Model, solver: SolverName, beaten_by: float | None = None
                ) -> Start | None:
    """The cheaper of the simple plans (SPEC 15): no orders and no reservations, the servers
    already owned kept to the end of their life or sold at once, and the hourly use
    re-optimized. No plan returned is worse than it. With every whole-unit decision fixed what
    remains is small, but on plans of a hundred workloads over five years it still takes
    seconds (storage indicators), so each may take ``SIMPLE_SHARE`` of the search's nodes.

    With ``beaten_by`` (the NPV of a plan already found), a simple plan whose relaxation
    already costs at least that much is not solved: it cannot be cheaper. The relaxation
    starts from the last one solved, which takes a second or two where the whole-number
    program takes up to half a minute (400 workloads over 36 months)."""
    nodes = node_budget(model.prob, SIMPLE_SHARE)
    best: Start | None = None
    seconds = 0.0
    for keep in (False, True):
        try:
            restore = fix(model, simple_decisions(model, keep))
        except DecisionsError:
            continue       # a scenario without sites cannot keep servers
        try:
            hopeless = False
            if beaten_by is not None:
                relaxed = run(model.prob, solver, None, 0.0, relax=True)
                seconds += relaxed.seconds
                hopeless = relaxed.status == SolveStatus.INFEASIBLE or (
                    relaxed.status == SolveStatus.OPTIMAL and model.prob.cost() >= beaten_by)
            if not hopeless:
                info = run(model.prob, solver, None, SIMPLE_GAP, nodes=nodes)
                seconds += info.seconds
                if info.status.has_solution:
                    found = start_of(model, -math.inf, seconds)
                    if best is None or found.objective < best.objective:
                        best = found
        finally:
            restore()
        cohorts = model.fleet.cohorts
        if not cohorts or all(not c.cohort.existing for c in cohorts):
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


def optimize(model: Model, solver: SolverName, time_limit: float | None,
             fleet_hint: FleetHint | None = None) -> SolveInfo:
    """Solve ``model`` to its plan's gap: the simple plan and the warm start first, then the
    full program if needed, and never a plan worse than the simple one.

    Every whole-number search is bounded by nodes (``solver.node_budget``), the same on any
    machine; ``time_limit`` (seconds) is only the safety net over the whole solve, and the
    result says when it stopped a search (``SolveInfo.time_limited``). The reported gap is
    measured against the best bound known, the relaxation's or the full solve's
    (``relative_gap``). ``fleet_hint``: see ``warmstart.warm_start``.
    """
    with safety_net(time_limit) as net:
        info = _optimize(model, solver, fleet_hint)
    return replace(info, time_limited=net.fired)


def _optimize(model: Model, solver: SolverName,
              fleet_hint: FleetHint | None = None) -> SolveInfo:
    gap = model.plan.plan.mip_gap
    start = warm_start(model, solver, fleet_hint)
    # the simple plans after the warm start: they are solved only when they could be cheaper
    simple = simple_plan(model, solver,
                         beaten_by=start.objective if start is not None else None)
    spent = (simple.seconds if simple else 0.0) + (start.seconds if start else 0.0)
    # a warm start that found no plan may still have solved the relaxation: its bound holds
    relaxed = start.bound if start is not None else model.relaxed_bound
    best = min((s for s in (start, simple) if s is not None), key=lambda s: s.objective,
               default=None)
    name = SolverName(solver).value
    if best is not None and relaxed is not None:
        within = relative_gap(best.objective, relaxed)
        if within is not None and within <= gap:
            # within the gap of the relaxation's bound: it is the answer
            best.load()
            spent += drop_unused_venues(model, solver)
            return _measured(SolveInfo(name, SolveStatus.OPTIMAL, spent, None, relaxed),
                             model.prob.cost(), relaxed, gap)
    if start is None and model.cuts.shortfall:
        spent += _tighten(model, solver)
    # stop at the first plan surely within the gap of the relaxation's bound, which the
    # solver's own bound may not reach as soon; the solver's own relative gap is never
    # smaller than ours (its denominator is the plan's |NPV|), so its stop is ours too
    info = run(model.prob, solver, None, gap, start=best.values if best else None,
               target=None if relaxed is None else sure_target(relaxed, gap),
               nodes=node_budget(model.prob))
    info = replace(info, seconds=info.seconds + spent)
    found = model.prob.cost() if info.status.has_solution else None
    if best is not None and (found is None
                             or best.objective < found - 1e-6 * max(1.0, abs(best.objective))):
        # the solver kept nothing better within its budget: the best start is the plan
        best.load()
        found = best.objective
    if found is None:
        return info
    bounds = [b for b in (info.bound, relaxed) if b is not None and math.isfinite(b)]
    bound = max(bounds) if bounds else None
    info = replace(info, seconds=info.seconds + drop_unused_venues(model, solver))
    return _measured(info, model.prob.cost(), bound, gap)


def _measured(info: SolveInfo, objective: float, bound: float | None, gap: float) -> SolveInfo:
    """``info`` with the plan's gap against ``bound`` (SPEC 15), and ``optimal`` when that is
    within ``gap``."""
    measured = relative_gap(objective, bound)
    status = SolveStatus.OPTIMAL if measured is not None and measured <= gap + 1e-9 else (
        SolveStatus.FEASIBLE)
    return replace(info, status=status, mip_gap=measured, bound=bound,
                   gap_usd=gap_usd(objective, bound))


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
    picks = {id(v) for v in model.use.placements()}
    tiers = {id(v) for v in model.tiers.indicators}
    for _ in range(rounds):
        used: dict[tuple[str, str, int], float] = {}
        for c in model.caps:
            key = (c.workload, c.venue, c.month)
            used[key] = used.get(key, 0.0) + (c.var.varValue or 0.0)
        stray = [u for key, u in model.use.uses.items()
                 if id(u) not in picks and (u.varValue or 0.0) > 0.5
                 and used.get(key, 0.0) <= _EPS]
        if not stray:
            break
        before = start_of(model, -math.inf, 0.0)
        saved = [(v, v.lowBound, v.upBound) for v in model.prob.vars if v.integer]
        info = None
        try:
            for free_tiers in (False, True):
                for var in model.prob.vars:
                    if var.integer and not (free_tiers and id(var) in tiers):
                        var.lowBound = var.upBound = float(round(var.varValue or 0.0))
                for var in stray:
                    var.lowBound = var.upBound = 0.0
                info = run(model.prob, solver, None, RESTRICTED_GAP,
                           nodes=node_budget(model.prob, DROP_SHARE) if free_tiers else None)
                seconds += info.seconds
                if info.status.has_solution:
                    break
                before.load()
        finally:
            for var, lo, up in saved:
                var.lowBound, var.upBound = lo, up
        if (info is None or not info.status.has_solution
                or model.prob.cost() > before.objective):
            before.load()
            break
    return seconds
