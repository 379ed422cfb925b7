"""How much freedom the cheapest plan leaves (SPEC 19): within a slack of the optimal hybrid
NPV, the least and the most of each dimension of the plan (servers ordered, hours on owned
servers and on each cloud, capex, commitments), the NPV at each extreme, and plans in random
directions over the chosen dimensions (modelling to generate alternatives, as PyPSA's
``optimize_mga_in_multiple_directions``).

Every solve is independent and runs on the analyses' executors (a local process pool or a
Dask cluster): first the optimum, then both extremes of every dimension, then the directions,
whose weights are scaled by the ranges the extremes found so that each dimension counts alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tco.optimizer.alternatives import Explored, dimension_names, explore
from tco.optimizer.plan import LoadedPlan, Plan
from tco.optimizer.result import ScenarioResult
from tco.optimizer.scenarios import scenarios_for, solve_scenario
from tco.optimizer.solver import SolverName
from tco.pricing.models import Catalog

from .evaluate import DEFAULT_GAP, relevant, with_gap
from .runner import AnalysisError, Failed, Progress, run

__all__ = ["DEFAULT_SLACK", "AlternativesResult", "DimRange", "Point", "alternatives"]

DEFAULT_SLACK = 0.05


@dataclass(frozen=True)
class DimRange:
    """One dimension's least and most within the slack, each with the cheapest plan there."""

    dim: str
    optimum: float                 # its value in the optimal plan
    low: Explored
    high: Explored

    @property
    def min(self) -> float | None:
        return self.low.values.get(self.dim) if self.low.result else None

    @property
    def max(self) -> float | None:
        return self.high.values.get(self.dim) if self.high.result else None

    @property
    def min_bound(self) -> float | None:
        """No plan within the slack has less of the dimension than this (proven)."""
        return self.low.bound

    @property
    def max_bound(self) -> float | None:
        """No plan within the slack has more than this."""
        return None if self.high.bound is None else -self.high.bound

    def to_dict(self) -> dict[str, Any]:
        return {"dim": self.dim, "optimum": self.optimum, "min": self.min, "max": self.max,
                "npv_at_min_usd": _money(self.low.npv_usd),
                "npv_at_max_usd": _money(self.high.npv_usd),
                "excess_gpu_hours_at_min": self.low.excess_gpu_hours,
                "excess_gpu_hours_at_max": self.high.excess_gpu_hours,
                "min_bound": _round(self.min_bound), "max_bound": _round(self.max_bound),
                "at_min": _plan(self.low), "at_max": _plan(self.high)}


@dataclass(frozen=True)
class Point:
    """A plan in one random direction: its weights (per unit of the dimension's range), every
    dimension's value and its NPV."""

    weights: dict[str, float]
    explored: Explored

    def to_dict(self) -> dict[str, Any]:
        return {"weights": {d: round(w, 6) for d, w in self.weights.items()},
                "values": dict(self.explored.values),
                "npv_usd": _money(self.explored.npv_usd)}


@dataclass(frozen=True)
class AlternativesResult:
    plan_name: str
    start: str
    months: int
    slack: float
    gap: float
    optimum: ScenarioResult
    optimum_values: dict[str, float]
    budget_usd: float | None
    dims: tuple[DimRange, ...]
    points: tuple[Point, ...]
    seed: int
    plot: tuple[str, str] | None
    failed: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def optimum_npv_usd(self) -> float | None:
        return self.optimum.npv_usd if self.optimum.feasible else None

    @property
    def unproven(self) -> bool:
        return self.optimum.unproven

    @property
    def stopped_by_time(self) -> int:
        """Solves stopped by the wall-clock safety net rather than their work budget."""
        explored = [e for d in self.dims for e in (d.low, d.high)] + [
            p.explored for p in self.points]
        return sum(1 for e in explored if e.time_limited)

    def to_dict(self) -> dict[str, Any]:
        return {"plan": {"name": self.plan_name, "start": self.start, "months": self.months},
                "slack": self.slack, "gap": self.gap,
                "optimum_npv_usd": _money(self.optimum_npv_usd),
                "budget_usd": _money(self.budget_usd),
                "optimum": {"values": self.optimum_values, "gap_usd": _money(
                    self.optimum.solver.gap_usd if self.optimum.solver else None),
                    "reason": self.optimum.reason},
                "dims": [d.to_dict() for d in self.dims],
                "points": [p.to_dict() for p in self.points],
                "seed": self.seed, "failed": list(self.failed), "notes": list(self.notes)}


def _money(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6) + 0.0


def _plan(e: Explored) -> dict[str, Any] | None:
    """The plan at an extreme in full: its decisions and cost, as ``tco compare`` reports a
    scenario."""
    r = e.result
    if r is None:
        return {"reason": e.reason}
    return {"npv_usd": _money(r.npv_usd), "total_usd": _money(r.total_usd),
            "gap_usd": _money(e.gap_usd), "values": dict(e.values),
            "breakdown": {k: round(v, 2) for k, v in r.breakdown.items()},
            "procurement": [p.to_dict() for p in r.procurement],
            "retirements": [x.to_dict() for x in r.retirements],
            "commitments": [c.to_dict() for c in r.commitments],
            "allocations": [a.to_dict() for a in r.allocations]}


def _dims_of(plan: Plan, dims: Sequence[str] | None) -> list[str]:
    known = dimension_names(plan)
    if not dims:
        return known
    unknown = [d for d in dims if d not in known]
    if unknown:
        raise AnalysisError(f"--dims: no dimension {', '.join(unknown)}; expected one of "
                            f"{', '.join(known)}")
    return list(dict.fromkeys(dims))


def alternatives(plan: LoadedPlan | Plan, catalog: Catalog, slack: float = DEFAULT_SLACK,
                 dims: Sequence[str] | None = None, directions: int = 0, seed: int = 0,
                 plot: tuple[str, str] | None = None, executor: Executor | None = None,
                 solver: SolverName | str | None = None, time_limit: float | None = None,
                 progress: Progress | None = None, gap: float = DEFAULT_GAP,
                 ) -> AlternativesResult:
    """Within ``slack`` of the optimal hybrid NPV (NPV ≤ NPV* + slack × |NPV*|): the least and
    the most of each of ``dims`` (every dimension by default), the cheapest plan at each, and
    ``directions`` plans in random directions over ``dims`` (drawn with ``seed``). Every solve
    to ``gap``; ``executor`` runs them (here, one after the other, when None)."""
    if not math.isfinite(slack) or slack < 0:
        raise AnalysisError(f"--slack: expected a share of the optimal NPV, 0 or more (0.05 "
                            f"is 5%), got {slack:g}")
    if directions < 0:
        raise AnalysisError(f"--directions: expected 0 or more, got {directions}")
    p = with_gap(plan.plan if isinstance(plan, LoadedPlan) else plan, gap)
    chosen = _dims_of(p, dims)
    if plot is not None:
        _dims_of(p, plot)
    catalog = relevant(p, catalog)
    name = SolverName(solver or p.plan.solver)
    hybrid = scenarios_for(p)[0]
    base = solve_scenario(p, catalog, hybrid, name, time_limit)
    if not base.feasible or base.npv_usd is None:
        return AlternativesResult(p.plan.name, p.plan.start, p.plan.months, slack, gap, base,
                                  {}, None, (), (), seed, plot)
    npv = base.npv_usd
    budget = npv + slack * abs(npv)
    tasks: list[tuple[Any, ...]] = [
        (p, catalog, hybrid, budget, ((d, sign),), base.values, name, time_limit)
        for d in chosen for sign in (1.0, -1.0)]
    found = run(explore, tasks, executor, progress)
    failed: list[str] = []
    ranges: list[DimRange] = []
    for k, d in enumerate(chosen):
        low, high = found[2 * k], found[2 * k + 1]
        if isinstance(low, Failed) or isinstance(high, Failed):
            failed.append(d)
            continue
        ranges.append(DimRange(d, _optimum_value(low, high, d), low, high))
    optimum_values = {r.dim: r.optimum for r in ranges}
    points: list[Point] = []
    if directions:
        spans = {r.dim: (r.max or 0.0) - (r.min or 0.0) for r in ranges}
        useful = [d for d in chosen if spans.get(d, 0.0) > 1e-9]
        rng = np.random.default_rng(seed)
        drawn = []
        for _ in range(directions):
            w = rng.normal(size=len(useful))
            w = w / (np.linalg.norm(w) or 1.0)
            drawn.append({d: float(x) for d, x in zip(useful, w, strict=True)})
        if useful:
            tasks = [(p, catalog, hybrid, budget,
                      tuple((d, x / spans[d]) for d, x in weights.items()), base.values, name,
                      time_limit) for weights in drawn]
            for weights, e in zip(drawn, run(explore, tasks, executor, progress), strict=True):
                if isinstance(e, Failed):
                    failed.append(f"direction {len(points) + 1}")
                    continue
                points.append(Point(weights, e))
    notes = []
    if directions and not points and not failed:
        notes.append("no dimension has a range within the slack: every direction is the "
                     "optimum")
    return AlternativesResult(p.plan.name, p.plan.start, p.plan.months, slack, gap, base,
                              optimum_values, budget, tuple(ranges), tuple(points), seed,
                              plot, tuple(failed), tuple(notes))


def _optimum_value(low: Explored, high: Explored, dim: str) -> float:
    """The dimension's value in the optimal plan, which both searches started from."""
    return low.start_values.get(dim, high.start_values.get(dim, 0.0))
