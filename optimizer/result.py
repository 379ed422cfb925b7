"""Plain result objects and the JSON document of SPEC section 7 (``Result.to_dict``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .plan import Assumption
from .solve import SolveInfo


@dataclass(frozen=True)
class Allocation:
    scenario: str
    workload: str
    month: str
    venue: str
    provider: str | None
    region: str | None
    instance_type: str
    gpu: str
    purchase: str
    gpu_hours: float
    cost_usd: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Procurement:
    scenario: str
    site: str
    server: str
    order_month: str
    arrival_month: str
    count: int
    capex_usd: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Commitment:
    scenario: str
    provider: str
    region: str
    instance_type: str
    purchase: str
    start_month: str
    end_month: str
    count: int
    usd_per_month: float
    upfront_usd: float
    months_past_horizon: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    feasible: bool
    reason: str | None
    npv_usd: float | None = None
    total_usd: float | None = None
    capex_usd: float | None = None
    opex_usd: float | None = None
    breakdown: dict[str, float] = field(default_factory=dict)
    breakdown_npv: dict[str, float] = field(default_factory=dict)
    gpu_hours: float = 0.0
    allocations: tuple[Allocation, ...] = ()
    procurement: tuple[Procurement, ...] = ()
    commitments: tuple[Commitment, ...] = ()
    solver: SolveInfo | None = None
    savings_vs_best_single_usd: float | None = None
    notes: tuple[str, ...] = ()

    @property
    def usd_per_gpu_hour(self) -> float | None:
        if self.total_usd is None or self.gpu_hours <= 0:
            return None
        return self.total_usd / self.gpu_hours

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "feasible": self.feasible, "reason": self.reason,
            "npv_usd": _r(self.npv_usd), "total_usd": _r(self.total_usd),
            "capex_usd": _r(self.capex_usd), "opex_usd": _r(self.opex_usd),
            "usd_per_gpu_hour": _r(self.usd_per_gpu_hour, 4),
            "savings_vs_best_single_usd": _r(self.savings_vs_best_single_usd),
            "breakdown": {k: _r(v) for k, v in self.breakdown.items()},
            "breakdown_npv": {k: _r(v) for k, v in self.breakdown_npv.items()},
            "gpu_hours": _r(self.gpu_hours),
            "notes": list(self.notes),
            "solver": self.solver.to_dict() if self.solver else None,
        }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Result:
    """Every scenario of one plan, solved, and the recommendation."""

    plan_name: str
    start: str
    months: int
    scenarios: tuple[ScenarioResult, ...]
    recommended_name: str | None
    prices: tuple[dict[str, Any], ...]
    assumptions: tuple[Assumption, ...]
    warnings: tuple[str, ...] = ()

    @property
    def recommended(self) -> ScenarioResult:
        """The cheapest feasible scenario by NPV (or the hybrid one, infeasible, when none is)."""
        name = self.recommended_name or "hybrid"
        return self.scenario(name)

    def scenario(self, name: str) -> ScenarioResult:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def feasible(self) -> bool:
        return self.recommended_name is not None

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommended
        solver = rec.solver.to_dict() if rec.solver else None
        return {
            "plan": {"name": self.plan_name, "start": self.start, "months": self.months},
            "recommended": self.recommended_name,
            "scenarios": [s.summary() for s in self.scenarios],
            "allocations": [a.to_dict() for s in self.scenarios for a in s.allocations],
            "procurement": [p.to_dict() for s in self.scenarios for p in s.procurement],
            "commitments": [c.to_dict() for s in self.scenarios for c in s.commitments],
            "prices": list(self.prices),
            "assumptions": [a.to_dict() for a in self.assumptions],
            "warnings": list(self.warnings),
            "solver": solver,
        }
