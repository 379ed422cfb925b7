"""What the prices mean: the plan, the on-prem model, the program, its scenarios and results."""

from .errors import PlanError
from .plan import Assumption, LoadedPlan, Plan, load_plan, plan_from_dict
from .result import Allocation, Commitment, Procurement, Result, ScenarioResult
from .scenarios import scenarios_for, solve
from .solve import SolverName, SolveStatus

__all__ = [
    "Allocation", "Assumption", "Commitment", "LoadedPlan", "Plan", "PlanError", "Procurement",
    "Result",
    "ScenarioResult", "SolveStatus", "SolverName", "load_plan", "plan_from_dict",
    "scenarios_for", "solve",
]
