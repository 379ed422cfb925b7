"""What the prices mean: the plan, the on-prem model, the program, its scenarios and results.

Names are imported on first use, so that ``import tco.optimizer.errors`` (the CLI's exit
codes) does not load the solver and the program's modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .decisions import DecisionsError
    from .errors import PlanError
    from .plan import Assumption, LoadedPlan, Plan, load_plan, plan_from_dict
    from .result import (
        Allocation,
        CashFlow,
        Commitment,
        Decisions,
        Procurement,
        Result,
        Retirement,
        ScenarioResult,
    )
    from .scenarios import scenarios_for, solve, solve_scenario
    from .solver import SolverName, SolveStatus

_WHERE = {
    "Allocation": "result", "Assumption": "plan", "CashFlow": "result", "Commitment": "result",
    "Decisions": "result", "DecisionsError": "decisions", "LoadedPlan": "plan", "Plan": "plan",
    "PlanError": "errors", "Procurement": "result", "Result": "result", "Retirement": "result",
    "ScenarioResult": "result", "SolveStatus": "solver", "SolverName": "solver",
    "load_plan": "plan", "plan_from_dict": "plan", "scenarios_for": "scenarios",
    "solve": "scenarios", "solve_scenario": "scenarios",
}

__all__ = [
    "Allocation", "Assumption", "CashFlow", "Commitment", "Decisions", "DecisionsError",
    "LoadedPlan", "Plan", "PlanError", "Procurement", "Result", "Retirement", "ScenarioResult",
    "SolveStatus", "SolverName", "load_plan", "plan_from_dict", "scenarios_for", "solve",
    "solve_scenario",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
