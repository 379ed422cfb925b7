"""``tco breakeven`` (SPEC 12, 16): where, as one lever moves across a range, the recommended
first-stage decisions change (which scenario, how many servers of each type are bought, what
is reserved), each flip located to an interval by bisection, with the decisions and NPV on
both sides, and the NPV curve across the range. A change the solves cannot tell apart from
a tie is reported as a tie, not a flip."""

from __future__ import annotations

import itertools
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from tco.optimizer.gaps import Npv, joint_gap
from tco.optimizer.plan import LoadedPlan, Plan
from tco.optimizer.solver import SolverName
from tco.pricing.models import Catalog

from .evaluate import (
    DEFAULT_GAP,
    Outcome,
    base_dict,
    committed,
    relevant,
    reoptimized,
    with_gap,
)
from .levers import Scale, lever
from .runner import AnalysisError, Failed, Progress, run, stopped_by_time

__all__ = ["BreakevenResult", "Flip", "Tie", "breakeven", "default_range"]


def default_range(scale: Scale, base: float) -> tuple[float, float]:
    """A multiplier from 0.5 to 1.5; an absolute lever half its value either side, or ±0.1
    when it is 0."""
    if scale == Scale.MULTIPLIER:
        return 0.5, 1.5
    step = 0.5 * abs(base) if base else 0.1
    return base - step, base + step


@dataclass(frozen=True)
class Point:
    value: float
    outcome: Outcome


@dataclass(frozen=True)
class Flip:
    """The recommended decisions change between ``before.value`` and ``after.value``, the
    interval that locates the flip (SPEC 16): at ``before.value`` the decisions before it
    (``before``: held there, with their NPV and proof) are proven cheaper than the decisions
    after it held there (``after_held``), and at ``after.value`` the reverse (``before_held``),
    each by more than the two NPVs' gaps. ``None`` as a held NPV: those decisions cannot
    serve there at all."""

    before: Point
    after: Point
    after_held: Npv | None
    before_held: Npv | None
    gap: float

    @property
    def value(self) -> float:
        return (self.before.value + self.after.value) / 2

    def to_dict(self) -> dict[str, Any]:
        return {"value": round(self.value, 10),
                "interval": [round(self.before.value, 10), round(self.after.value, 10)],
                "before": _point(self.before), "after": _point(self.after),
                "after_held_at_before": _held(self.after_held, self.gap),
                "before_held_at_after": _held(self.before_held, self.gap)}


@dataclass(frozen=True)
class Tie:
    """Between ``low.value`` and ``high.value`` the re-optimized decisions differ, but that is
    no flip (SPEC 16): each set of decisions is nowhere proven cheaper than the other beyond
    the two NPVs' gaps (``reason`` "tie"; ``within_usd`` the sum of the gaps, None when one is
    unknown), a solve is not proven within the gap asked for ("unproven"), or holding one
    side's decisions at the other failed ("failed")."""

    low: Point
    high: Point
    within_usd: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"interval": [round(self.low.value, 10), round(self.high.value, 10)],
                "reason": self.reason,
                "within_usd": None if self.within_usd is None else round(self.within_usd, 2),
                "low": _point(self.low), "high": _point(self.high)}


def _point(p: Point) -> dict[str, Any]:
    scenario, servers, reserved = p.outcome.signature
    npv = p.outcome.npv_usd
    return {"value": round(p.value, 10), "npv_usd": None if npv is None else round(npv, 2),
            "gap_usd": None if p.outcome.gap_usd is None else round(p.outcome.gap_usd, 2),
            "proven": p.outcome.proven,
            "recommended": scenario, "servers": dict(servers),
            "commitments": [{"provider": k[0], "region": k[1], "instance_type": k[2],
                             "purchase": k[3], "count": n} for k, n in reserved]}


def _held(npv: Npv | None, gap: float) -> dict[str, Any] | None:
    return None if npv is None else npv.to_dict(gap)


@dataclass(frozen=True)
class BreakevenResult:
    plan_name: str
    param: str
    low: float
    high: float
    tolerance: float
    flips: tuple[Flip, ...]
    curve: tuple[Point, ...]
    failed: tuple[float, ...] = ()
    ties: tuple[Tie, ...] = ()
    base: Outcome | None = None
    gap: float = DEFAULT_GAP
    stopped_by_time_limit: int = 0      # solves the time limit stopped (runner.stopped_by_time)

    @property
    def unproven(self) -> bool:
        """The base solve is unproven (SPEC 15): the command exits 4."""
        return self.base is not None and self.base.unproven

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan_name, "param": self.param, "low": self.low, "high": self.high,
                "tolerance": self.tolerance, "gap": self.gap,
                "stopped_by_time_limit": self.stopped_by_time_limit,
                "base": None if self.base is None else base_dict(self.base),
                "unproven": self.unproven,
                "flips": [f.to_dict() for f in self.flips],
                "ties": [t.to_dict() for t in self.ties],
                "curve": [{"value": round(p.value, 10),
                           "npv_usd": None if p.outcome.npv_usd is None
                           else round(p.outcome.npv_usd, 2),
                           "gap_usd": None if p.outcome.gap_usd is None
                           else round(p.outcome.gap_usd, 2),
                           "proven": p.outcome.proven,
                           "recommended": p.outcome.recommended} for p in self.curve],
                "failed": list(self.failed)}


def _at(plan: Plan, catalog: Catalog, name: str, value: float, solver: SolverName | None,
        time_limit: float | None) -> Outcome:
    return reoptimized(plan, catalog, {name: value}, solver, time_limit)


def _solve_at(plan: Plan, catalog: Catalog, name: str | None, value: float,
              solver: SolverName | None, time_limit: float | None) -> Outcome:
    """The plan re-optimized with lever ``name`` at ``value``; at its own values when
    ``name`` is None (the base)."""
    if name is None:
        return reoptimized(plan, catalog, {}, solver, time_limit)
    return _at(plan, catalog, name, value, solver, time_limit)


def _held_at(plan: Plan, catalog: Catalog, name: str, value: float, decided: Outcome,
             solver: SolverName | None, time_limit: float | None) -> Npv | None:
    """``decided``'s first-stage decisions held at ``value``; None when they cannot serve."""
    if decided.recommended is None or decided.decisions is None:
        return None
    return committed(plan, catalog, {name: value}, decided.recommended, decided.decisions,
                     solver, time_limit)


# Which of two sets of decisions X and Y is cheaper at a value, as far as the solves can tell
_X, _TIE, _Y = -1, 0, 1


def _state(x: Npv | None, y: Npv | None, gap: float) -> int:
    """X cheaper beyond the two NPVs' gaps, Y cheaper, or neither (a tie; also when a solve is
    not proven within ``gap``). ``None``: those decisions cannot serve there."""
    if (x is not None and not x.known) or (y is not None and not y.known):
        return _TIE                 # a solve stopped without a plan: nothing is known
    if x is None or y is None:
        if x is None and y is None:
            return _TIE
        return _Y if x is None else _X
    if not (x.proven(gap) and y.proven(gap)) or not x.apart_from(y):
        return _TIE
    return _X if x.usd < y.usd else _Y


@dataclass
class _Search:
    """One change of decisions, X below it and Y above it, being located: every value
    evaluated so far, with X's and Y's NPVs there, and the brackets still to narrow (each a
    pair of values whose states differ)."""

    x: Outcome
    y: Outcome
    known: dict[float, tuple[Npv | None, Npv | None]]
    brackets: list[tuple[float, float]]

    def state(self, value: float, gap: float) -> int:
        return _state(*self.known[value], gap)

    def ends(self, gap: float) -> tuple[float, float] | None:
        """The highest value where X is proven cheaper and the lowest above it where Y is."""
        xs = [v for v in self.known if self.state(v, gap) == _X]
        if not xs:
            return None
        low = max(xs)
        ys = [v for v in self.known if v > low and self.state(v, gap) == _Y]
        return None if not ys else (low, min(ys))


def breakeven(plan: LoadedPlan | Plan, catalog: Catalog, param: str,
              low: float | None = None, high: float | None = None, points: int = 11,
              tolerance: float = 0.001, executor: Executor | None = None,
              solver: SolverName | str | None = None, time_limit: float | None = None,
              progress: Progress | None = None, gap: float = DEFAULT_GAP) -> BreakevenResult:
    """The values of ``param`` in ``[low, high]`` at which the recommended first-stage
    decisions change, each located to an interval (SPEC 16).

    The range is sampled at ``points`` values, the plan re-optimized at each, every solve to
    ``gap``. Where neighbours recommend different decisions X and Y, each is held at the
    other's value: the change is a flip only where X is proven cheaper than Y at some value
    and Y than X at a higher one, each by more than the two NPVs' gaps (a neighbour that
    recommends X or Y but cannot tell them apart is passed over for the next one that
    does). Otherwise it is reported as a tie. A flip is then located by holding both X and Y
    at the middle of each bracket, down to ``tolerance`` of the range (0.1% by default): its
    interval runs from the highest value where X is proven cheaper to the lowest where Y is,
    and holds between them the values where the two cannot be told apart."""
    p = with_gap(plan.plan if isinstance(plan, LoadedPlan) else plan, gap)
    catalog = relevant(p, catalog)
    lv = lever(param, p, "--param")
    d_low, d_high = default_range(lv.scale, lv.base)
    lo = d_low if low is None else low
    hi = d_high if high is None else high
    if not lo < hi:
        raise AnalysisError(f"--low ({lo:g}) must be less than --high ({hi:g})")
    if points < 2:
        raise AnalysisError("breakeven needs at least 2 points")
    if param in ("mfu", "throughput") and lo <= 0:
        raise AnalysisError(f"--low ({lo:g}) must be above 0: {param} is a multiplier on a rate")
    name = SolverName(solver) if solver else None
    width = tolerance * (hi - lo)
    grid = [lo + (hi - lo) * k / (points - 1) for k in range(points)]
    seen: dict[float, Outcome] = {}
    failed: list[float] = []
    # the base beside the grid: none of these solves needs another
    solved = run(_solve_at, [(p, catalog, None, 0.0, name, time_limit),
                          *((p, catalog, lv.name, v, name, time_limit) for v in grid)],
                 executor, progress)
    base, results = solved[0], solved[1:]
    if isinstance(base, Failed):
        raise AnalysisError(f"the plan could not be solved at its own values: {base.reason}")
    for v, out in zip(grid, results, strict=True):
        if isinstance(out, Failed):
            failed.append(v)
        else:
            seen[v] = out
    known = [v for v in grid if v in seen]
    stopped = [stopped_by_time(base, results)]

    def held(wanted: list[tuple[float, Outcome]]) -> list[Npv | None | Failed]:
        found = run(_held_at, [(p, catalog, lv.name, v, o, name, time_limit)
                               for v, o in wanted], executor, progress)
        stopped[0] += stopped_by_time(found)
        return found

    flips: list[Flip] = []
    ties: list[Tie] = []
    searches: list[_Search] = []
    for a, b in itertools.pairwise(known):
        x, y = seen[a], seen[b]
        if x.signature == y.signature:
            continue
        if not (x.proven and y.proven):
            ties.append(Tie(Point(a, x), Point(b, y), None, "unproven"))
            continue
        # X at the grid values below that recommend it, Y at those above: each held at the
        # other's values, nearest first, until one tells them apart
        below = [v for v in reversed(known) if v <= a]
        below = below[:next((k for k, v in enumerate(below) if seen[v].signature != x.signature),
                            len(below))]
        above = [v for v in known if v >= b]
        above = above[:next((k for k, v in enumerate(above) if seen[v].signature != y.signature),
                            len(above))]
        search = _Search(x, y, {}, [])
        for side, mine in ((below, True), (above, False)):
            for v in side:
                (other,) = held([(v, y if mine else x)])
                if isinstance(other, Failed):
                    break
                own = seen[v].npv
                search.known[v] = (own, other) if mine else (other, own)
                if search.state(v, gap) == (_X if mine else _Y):
                    break
        ends = search.ends(gap)
        if ends is None:
            sums = [joint_gap(*(None if n is None else n.gap_usd for n in pair))
                    for pair in search.known.values()]
            certain = [x for x in sums if x is not None]
            within = max(certain) if certain and len(certain) == len(sums) else None
            ties.append(Tie(Point(a, x), Point(b, y), within,
                            "tie" if search.known else "failed"))
            continue
        # the brackets: between neighbouring values whose states differ, inside the ends
        inside = sorted(v for v in search.known if ends[0] <= v <= ends[1])
        search.brackets = [(u, v) for u, v in itertools.pairwise(inside)
                           if search.state(u, gap) != search.state(v, gap) and v - u > width]
        searches.append(search)
    while True:
        wanted = [(s, (u + v) / 2) for s in searches for u, v in s.brackets]
        if not wanted:
            break
        found = held([(m, o) for s, m in wanted for o in (s.x, s.y)])
        for k, (s, m) in enumerate(wanted):
            xm, ym = found[2 * k], found[2 * k + 1]
            if isinstance(xm, Failed) or isinstance(ym, Failed):
                failed.append(m)          # failed twice: this bracket is narrowed no further
            else:
                s.known[m] = (xm, ym)
        for s in searches:
            narrower = []
            for u, v in s.brackets:
                m = (u + v) / 2
                if m not in s.known:
                    continue
                su, sm, sv = s.state(u, gap), s.state(m, gap), s.state(v, gap)
                if sm != su:
                    narrower.append((u, m))
                if sm != sv:
                    narrower.append((m, v))
            s.brackets = [(u, v) for u, v in narrower if v - u > width]
    for s in searches:
        ends = s.ends(gap)
        if ends is None:         # a middle failed on the way: unreachable in practice
            continue
        a, b = ends
        xa, ya = s.known[a]
        xb, yb = s.known[b]
        assert xa is not None and yb is not None
        flips.append(Flip(Point(a, _held_outcome(s.x, xa, gap)),
                          Point(b, _held_outcome(s.y, yb, gap)), ya, xb, gap))
    flips.sort(key=lambda f: f.before.value)
    ties.sort(key=lambda t: t.low.value)
    return BreakevenResult(
        p.plan.name, lv.name, lo, hi, tolerance, tuple(flips),
        tuple(Point(v, seen[v]) for v in sorted(seen)), tuple(sorted(set(failed))),
        tuple(ties), base, gap, stopped[0])


def _held_outcome(decided: Outcome, npv: Npv, gap: float) -> Outcome:
    """``decided``'s decisions held at some value, priced ``npv`` there, in brief."""
    return Outcome({}, npv.usd, decided.recommended, decided.signature, decided.decisions,
                   False, npv.gap_usd, npv.proven(gap))
