"""``tco breakeven`` (SPEC 12): where, as one lever moves across a range, the recommended
first-stage decisions change (which scenario, how many servers of each type are bought, what
is reserved), each flip located to a share of the range by bisection, with the decisions and
NPV on both sides, and the NPV curve across the range."""

from __future__ import annotations

import itertools
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from tco.optimizer.plan import LoadedPlan, Plan
from tco.optimizer.solver import SolverName
from tco.pricing.models import Catalog

from .evaluate import Outcome, relevant, reoptimized
from .levers import Scale, lever
from .runner import AnalysisError, Failed, Progress, run

__all__ = ["BreakevenResult", "Flip", "breakeven", "default_range"]


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
    """The recommendation changes between ``before.value`` and ``after.value``."""

    value: float
    before: Point
    after: Point

    def to_dict(self) -> dict[str, Any]:
        return {"value": round(self.value, 10), "before": _point(self.before),
                "after": _point(self.after)}


def _point(p: Point) -> dict[str, Any]:
    scenario, servers, reserved = p.outcome.signature
    npv = p.outcome.npv_usd
    return {"value": round(p.value, 10), "npv_usd": None if npv is None else round(npv, 2),
            "recommended": scenario, "servers": dict(servers),
            "commitments": [{"provider": k[0], "region": k[1], "instance_type": k[2],
                             "purchase": k[3], "count": n} for k, n in reserved]}


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

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan_name, "param": self.param, "low": self.low, "high": self.high,
                "tolerance": self.tolerance,
                "flips": [f.to_dict() for f in self.flips],
                "curve": [{"value": round(p.value, 10),
                           "npv_usd": None if p.outcome.npv_usd is None
                           else round(p.outcome.npv_usd, 2),
                           "recommended": p.outcome.recommended} for p in self.curve],
                "failed": list(self.failed)}


def _at(plan: Plan, catalog: Catalog, name: str, value: float, solver: SolverName | None,
        time_limit: float | None) -> Outcome:
    return reoptimized(plan, catalog, {name: value}, solver, time_limit)


def breakeven(plan: LoadedPlan | Plan, catalog: Catalog, param: str,
              low: float | None = None, high: float | None = None, points: int = 11,
              tolerance: float = 0.001, executor: Executor | None = None,
              solver: SolverName | str | None = None, time_limit: float | None = None,
              progress: Progress | None = None) -> BreakevenResult:
    """The values of ``param`` in ``[low, high]`` at which the recommended first-stage
    decisions change, each located to ``tolerance`` of the range (0.1% by default): the range
    is sampled at ``points`` values, and every interval whose ends recommend differently is
    halved until it is that narrow (an interval whose middle differs from both ends is split
    in two, so flips that come and go between samples are found when the middle shows them)."""
    p = plan.plan if isinstance(plan, LoadedPlan) else plan
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

    def evaluate(values: list[float]) -> None:
        results = run(_at, [(p, catalog, lv.name, v, name, time_limit) for v in values],
                      executor, progress)
        for v, out in zip(values, results, strict=True):
            if isinstance(out, Failed):
                failed.append(v)
            else:
                seen[v] = out

    evaluate(grid)
    known = [v for v in grid if v in seen]
    open_ = [(a, b) for a, b in itertools.pairwise(known)
             if seen[a].signature != seen[b].signature]
    flips: list[tuple[float, float]] = []
    while open_:
        done = [(a, b) for a, b in open_ if b - a <= width]
        flips += done
        open_ = [(a, b) for a, b in open_ if b - a > width]
        if not open_:
            break
        middles = [(a + b) / 2 for a, b in open_]
        evaluate(middles)
        next_: list[tuple[float, float]] = []
        for (a, b), m in zip(open_, middles, strict=True):
            if m not in seen:
                continue        # failed twice: this flip cannot be located further
            if seen[m].signature != seen[a].signature:
                next_.append((a, m))
            if seen[m].signature != seen[b].signature:
                next_.append((m, b))
        open_ = next_
    flips.sort()
    return BreakevenResult(
        p.plan.name, lv.name, lo, hi, tolerance,
        tuple(Flip((a + b) / 2, Point(a, seen[a]), Point(b, seen[b])) for a, b in flips),
        tuple(Point(v, seen[v]) for v in sorted(seen)), tuple(sorted(failed)))
