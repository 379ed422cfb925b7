"""``tco sensitivity`` (SPEC 12): each lever a swing below and above its value in the plan,
the plan re-optimized there, and the base recommendation's committed NPV there (its
first-stage decisions held, the hourly use re-optimized). Sorted by how far the re-optimized
NPV swings: a tornado."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from tco.optimizer.plan import LoadedPlan, Plan
from tco.optimizer.solver import SolverName
from tco.pricing.models import Catalog

from .evaluate import Outcome, committed, relevant, reoptimized
from .levers import Lever, Scale, lever, plan_levers
from .runner import Failed, Progress, run

__all__ = ["SensitivityResult", "SensitivityRow", "sensitivity", "swing_values"]


def swing_values(lv: Lever, swing: float) -> tuple[float, float]:
    """A multiplier at ``1 ∓ swing``; an absolute lever at ``base ∓ swing × |base|``, or
    ∓ 0.05 when its base is 0."""
    if lv.scale == Scale.MULTIPLIER:
        return 1.0 - swing, 1.0 + swing
    step = swing * abs(lv.base) if lv.base else 0.05
    return lv.base - step, lv.base + step


@dataclass(frozen=True)
class SensitivityRow:
    param: str
    low: float
    high: float
    npv_low_usd: float | None
    npv_high_usd: float | None
    committed_npv_low_usd: float | None
    committed_npv_high_usd: float | None
    recommended_low: str | None
    recommended_high: str | None
    decision_changes_low: bool
    decision_changes_high: bool

    @property
    def swing_usd(self) -> float:
        """How far the re-optimized NPV moves across the swing (infinite when a side has no
        feasible plan)."""
        if self.npv_low_usd is None or self.npv_high_usd is None:
            return float("inf")
        return abs(self.npv_high_usd - self.npv_low_usd)

    @property
    def regret_low_usd(self) -> float | None:
        return _regret(self.committed_npv_low_usd, self.npv_low_usd)

    @property
    def regret_high_usd(self) -> float | None:
        return _regret(self.committed_npv_high_usd, self.npv_high_usd)

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "low": self.low, "high": self.high,
                "npv_low_usd": _r(self.npv_low_usd), "npv_high_usd": _r(self.npv_high_usd),
                "committed_npv_low_usd": _r(self.committed_npv_low_usd),
                "committed_npv_high_usd": _r(self.committed_npv_high_usd),
                "regret_low_usd": _r(self.regret_low_usd),
                "regret_high_usd": _r(self.regret_high_usd),
                "recommended_low": self.recommended_low,
                "recommended_high": self.recommended_high,
                "decision_changes_low": self.decision_changes_low,
                "decision_changes_high": self.decision_changes_high}


def _regret(committed_usd: float | None, best: float | None) -> float | None:
    if committed_usd is None or best is None:
        return None
    return max(0.0, committed_usd - best)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


@dataclass(frozen=True)
class SensitivityResult:
    plan_name: str
    swing: float
    base: Outcome
    parameters: tuple[SensitivityRow, ...]
    failed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan_name, "swing": self.swing,
                "base": {"npv_usd": _r(self.base.npv_usd), "recommended": self.base.recommended},
                "parameters": [p.to_dict() for p in self.parameters],
                "failed": list(self.failed)}


def _side(plan: Plan, catalog: Catalog, name: str, value: float, base: Outcome,
          solver: SolverName | None, time_limit: float | None,
          ) -> tuple[Outcome, float | None]:
    """One side of one lever: re-optimized, and the base decisions committed."""
    values = {name: value}
    again = reoptimized(plan, catalog, values, solver, time_limit)
    held = None
    if base.recommended is not None and base.decisions is not None:
        held = committed(plan, catalog, values, base.recommended, base.decisions, solver,
                         time_limit)
    return again, held


def _best(side: tuple[Outcome, float | None], base: Outcome,
          ) -> tuple[float | None, str | None, bool]:
    """The re-optimized NPV, the scenario recommended and whether the first-stage decisions
    changed. The base decisions held are a plan of the same inputs too: when they cost less
    than the plan the solver returned (within its gap), they are the best plan known."""
    again, held = side
    if held is not None and (again.npv_usd is None or held < again.npv_usd):
        return held, base.recommended, False
    return again.npv_usd, again.recommended, again.signature != base.signature


def sensitivity(plan: LoadedPlan | Plan, catalog: Catalog, params: Sequence[str] | None = None,
                swing: float = 0.2, executor: Executor | None = None,
                solver: SolverName | str | None = None, time_limit: float | None = None,
                progress: Progress | None = None) -> SensitivityResult:
    """Each lever at ``base × (1 ∓ swing)`` (absolute ones at ``base ∓ swing × |base|``), the
    plan re-optimized and the base recommendation committed there. ``params`` default to the
    named levers the plan uses; ``executor`` runs the solves (here, one after the other, when
    None)."""
    p = plan.plan if isinstance(plan, LoadedPlan) else plan
    catalog = relevant(p, catalog)
    name = SolverName(solver) if solver else None
    levers = [lever(x, p, "--param") for x in (params or plan_levers(p))]
    base = reoptimized(p, catalog, {}, name, time_limit)
    tasks = []
    for lv in levers:
        low, high = swing_values(lv, swing)
        tasks += [(p, catalog, lv.name, low, base, name, time_limit),
                  (p, catalog, lv.name, high, base, name, time_limit)]
    results = run(_side, tasks, executor, progress)
    rows, failed = [], []
    for k, lv in enumerate(levers):
        lo, hi = results[2 * k], results[2 * k + 1]
        if isinstance(lo, Failed) or isinstance(hi, Failed):
            failed.append(lv.name)
            continue
        low, high = swing_values(lv, swing)
        (lo_npv, lo_rec, lo_changed), (hi_npv, hi_rec, hi_changed) = (
            _best(side, base) for side in (lo, hi))
        rows.append(SensitivityRow(lv.name, low, high, lo_npv, hi_npv, lo[1], hi[1], lo_rec,
                                   hi_rec, lo_changed, hi_changed))
    rows.sort(key=lambda r: (-r.swing_usd, r.param))
    return SensitivityResult(p.plan.name, swing, base, tuple(rows), tuple(failed))
