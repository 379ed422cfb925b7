"""``tco sensitivity`` (SPEC 12): each lever a swing below and above its value in the plan,
the plan re-optimized there, and the base recommendation's committed NPV there (its
first-stage decisions held, the hourly use re-optimized). Sorted by how far the re-optimized
NPV swings: a tornado."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from tco.optimizer.gaps import Npv, joint_gap
from tco.optimizer.plan import LoadedPlan, Plan
from tco.optimizer.solver import SolverName
from tco.optimizer.warmstart import FleetHint
from tco.pricing.models import Catalog

from .evaluate import (
    DEFAULT_GAP,
    Outcome,
    base_dict,
    committed_with_plan,
    relevant,
    reoptimized,
    with_gap,
)
from .levers import Lever, Scale, lever, plan_levers
from .runner import Failed, Phases, Progress, run, stopped_by_time

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
    """One lever at its low and high value. Each of the four NPVs carries its proof (SPEC 16):
    the re-optimized NPVs (``npv_*``, the cheaper of the plan re-optimized there and the base
    decisions held) and the base decisions' committed NPVs (``committed_npv_*``). A side's
    decisions change only when both its NPVs are proven and told apart, the base decisions
    dearer; when the re-optimized decisions differ but the two cannot be told apart, the side
    is a tie within ``tie_*_usd``."""

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
    gap_low_usd: float | None = None
    gap_high_usd: float | None = None
    committed_gap_low_usd: float | None = None
    committed_gap_high_usd: float | None = None
    proven_low: bool = False
    proven_high: bool = False
    committed_proven_low: bool = False
    committed_proven_high: bool = False
    tie_low_usd: float | None = None
    tie_high_usd: float | None = None
    unproven_change_low: bool = False
    unproven_change_high: bool = False

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
                "gap_low_usd": _r(self.gap_low_usd), "gap_high_usd": _r(self.gap_high_usd),
                "proven_low": self.proven_low, "proven_high": self.proven_high,
                "committed_npv_low_usd": _r(self.committed_npv_low_usd),
                "committed_npv_high_usd": _r(self.committed_npv_high_usd),
                "committed_gap_low_usd": _r(self.committed_gap_low_usd),
                "committed_gap_high_usd": _r(self.committed_gap_high_usd),
                "committed_proven_low": self.committed_proven_low,
                "committed_proven_high": self.committed_proven_high,
                "regret_low_usd": _r(self.regret_low_usd),
                "regret_high_usd": _r(self.regret_high_usd),
                "recommended_low": self.recommended_low,
                "recommended_high": self.recommended_high,
                "decision_changes_low": self.decision_changes_low,
                "decision_changes_high": self.decision_changes_high,
                "tie_low_usd": _r(self.tie_low_usd), "tie_high_usd": _r(self.tie_high_usd),
                "unproven_change_low": self.unproven_change_low,
                "unproven_change_high": self.unproven_change_high}


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
    gap: float = DEFAULT_GAP
    stopped_by_time_limit: int = 0      # solves the time limit stopped (runner.stopped_by_time)

    @property
    def unproven(self) -> bool:
        """The base solve is unproven (SPEC 15): the command exits 4."""
        return self.base.unproven

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan_name, "swing": self.swing, "gap": self.gap,
                "base": base_dict(self.base), "unproven": self.unproven,
                "parameters": [p.to_dict() for p in self.parameters],
                "failed": list(self.failed),
                "stopped_by_time_limit": self.stopped_by_time_limit}


def _side(plan: Plan, catalog: Catalog, values: dict[str, float], base: Outcome,
          solver: SolverName | None, time_limit: float | None,
          ) -> tuple[Outcome, Npv | None]:
    """One side of one lever: the base decisions committed there, then the plan
    re-optimized, its warm start holding the committed plan's fleet instead of solving for
    one (a lever moved by a fifth rarely moves the fleet far; the plan found is proven
    within the gap all the same, docs/analysis.md)."""
    held: Npv | None = None
    hint = None
    if base.recommended is not None and base.decisions is not None:
        held, plan_values = committed_with_plan(plan, catalog, values, base.recommended,
                                                base.decisions, solver, time_limit)
        if held is not None and held.known and plan_values:
            hint = FleetHint(dict(plan_values), held.usd)
    return reoptimized(plan, catalog, values, solver, time_limit, fleet_hint=hint), held


@dataclass(frozen=True)
class _Side:
    npv: Npv | None             # the best plan known there
    proven: bool
    recommended: str | None
    changes: bool
    tie_usd: float | None
    # told apart, but a solve not proven within the gap asked for: not a change (SPEC 16)
    unproven_change: bool = False


def _best(side: tuple[Outcome, Npv | None], base: Outcome, target: float) -> _Side:
    """The best NPV known at one side, with its proof, the scenario recommended, and whether
    the first-stage decisions change (SPEC 16). The base decisions held are a plan of the same
    inputs too: when they cost less than the plan the solver returned, they are the best plan
    known, and its gap is measured against the re-optimized solve's bound."""
    again, held = side
    if held is not None and not held.known:
        # the base decisions' solve stopped without a plan: nothing to tell apart
        return _Side(again.npv, again.proven, again.recommended, False, None)
    bound = None if again.npv_usd is None or again.gap_usd is None else (
        again.npv_usd - again.gap_usd)
    if held is not None and (again.npv_usd is None or held.usd < again.npv_usd):
        gap = None if bound is None else max(0.0, held.usd - bound)
        best = Npv(held.usd, gap)
        return _Side(best, best.proven(target), base.recommended, False, None)
    best_npv = again.npv
    differ = again.signature != base.signature
    if not differ or best_npv is None:
        return _Side(best_npv, again.proven, again.recommended, False, None)
    if held is None:
        # the base decisions cannot serve here: the change is certain when this side is proven
        return _Side(best_npv, again.proven, again.recommended, again.proven and base.proven,
                     None)
    apart = best_npv.apart_from(held)
    proven = again.proven and held.proven(target) and base.proven
    tie = None if apart else joint_gap(best_npv.gap_usd, held.gap_usd)
    return _Side(best_npv, again.proven, again.recommended, apart and proven, tie,
                 apart and not proven)


def sensitivity(plan: LoadedPlan | Plan, catalog: Catalog, params: Sequence[str] | None = None,
                swing: float = 0.2, executor: Executor | None = None,
                solver: SolverName | str | None = None, time_limit: float | None = None,
                progress: Progress | None = None, gap: float = DEFAULT_GAP,
                ) -> SensitivityResult:
    """Each lever at ``base × (1 ∓ swing)`` (absolute ones at ``base ∓ swing × |base|``), the
    plan re-optimized and the base recommendation committed there, every solve to ``gap``
    (SPEC 16). ``params`` default to the named levers the plan uses; ``executor`` runs the
    solves (here, one after the other, when None)."""
    p = with_gap(plan.plan if isinstance(plan, LoadedPlan) else plan, gap)
    catalog = relevant(p, catalog)
    name = SolverName(solver) if solver else None
    levers = [lever(x, p, "--param") for x in (params or plan_levers(p))]
    sides = [{lv.name: value} for lv in levers for value in swing_values(lv, swing)]
    # the base first, here: each side starts from its fleet (``_side``)
    phases = Phases(progress, 1 + len(sides))
    (base,) = run(reoptimized, [(p, catalog, {}, name, time_limit)], None, phases.part(0))
    assert not isinstance(base, Failed), "a task run here raises what it raises"
    results = run(_side, [(p, catalog, values, base, name, time_limit) for values in sides],
                  executor, phases.part(1))
    rows, failed = [], []
    for k, lv in enumerate(levers):
        lo, hi = results[2 * k], results[2 * k + 1]
        if isinstance(lo, Failed) or isinstance(hi, Failed):
            failed.append(lv.name)
            continue
        held_lo, held_hi = lo[1], hi[1]
        low, high = swing_values(lv, swing)
        a, b = (_best(side, base, gap) for side in (lo, hi))
        rows.append(SensitivityRow(
            lv.name, low, high, _usd(a.npv), _usd(b.npv), _usd(held_lo), _usd(held_hi),
            a.recommended, b.recommended, a.changes, b.changes,
            gap_low_usd=_gap(a.npv), gap_high_usd=_gap(b.npv),
            committed_gap_low_usd=_gap(held_lo), committed_gap_high_usd=_gap(held_hi),
            proven_low=a.proven, proven_high=b.proven,
            committed_proven_low=held_lo is not None and held_lo.proven(gap),
            committed_proven_high=held_hi is not None and held_hi.proven(gap),
            tie_low_usd=a.tie_usd, tie_high_usd=b.tie_usd,
            unproven_change_low=a.unproven_change, unproven_change_high=b.unproven_change))
    rows.sort(key=lambda r: (-r.swing_usd, r.param))
    return SensitivityResult(p.plan.name, swing, base, tuple(rows), tuple(failed), gap,
                             stopped_by_time(base, results))


def _usd(npv: Npv | None) -> float | None:
    return None if npv is None or not npv.known else npv.usd


def _gap(npv: Npv | None) -> float | None:
    return None if npv is None else npv.gap_usd
