"""Plans near the optimum (SPEC 19): the program of a scenario with its cost held within a
budget, and another objective, a dimension of the plan or a weighted sum of several, to
minimize.

A dimension is an expression in the program's variables:

- ``onprem_gpus``: GPUs of the servers ordered (those already owned are not counted);
- ``onprem_gpu_hours``, ``cloud_gpu_hours``: GPU-hours run on owned servers, on any cloud
  (hours paid for: a plan within the budget may pay for more than its workloads need, which
  ``Explored.excess_gpu_hours`` says);
- ``cloud_gpu_hours.<provider>``: on one provider (its quotes included);
- ``capex_usd``: the price of the servers ordered, undiscounted;
- ``committed_usd``: what reservations, savings plans, capacity blocks and quotes cost over
  their terms, undiscounted (months past the horizon included).

``explore`` solves in two steps: the dimension (or weighted sum) over the plans whose NPV is
within the budget, then the cheapest plan at the value found, so that the NPV reported at an
extreme is what that extreme costs, not any plan under the budget that happens to reach it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from tco.pricing.models import Catalog, Purchase

from .build import define_program, prepare
from .diagnosis import precheck
from .extract import extract
from .gaps import relative_gap
from .ledger import Category
from .model import Model, linear
from .optimize import optimize
from .plan import Plan
from .program import LE, Expr
from .result import ScenarioResult
from .solver import SolveInfo, SolverName, SolveStatus, node_budget, run, safety_net
from .venues import Scenario
from .warmstart import start_of

# each of the two searches may take this share of a whole solve's nodes (``node_budget``): a
# dimension's least or most is a harder program than the cheapest plan (its relaxation bound
# is weak), and a full budget took up to five minutes per search on the research lab;
# the range each search proves is reported beside it
SEARCH_SHARE = 0.05

__all__ = ["BASE_DIMENSIONS", "Explored", "dimension_names", "dimensions", "explore"]

BASE_DIMENSIONS = ("onprem_gpus", "onprem_gpu_hours", "cloud_gpu_hours", "capex_usd",
                   "committed_usd")


def dimension_names(plan: Plan) -> list[str]:
    """Every dimension of ``plan``: the base ones, then one per provider."""
    return [*BASE_DIMENSIONS, *(f"cloud_gpu_hours.{p.value}" for p in plan.cloud.providers)]


def _category_total(model: Model, category: str) -> Expr:
    """The undiscounted sum of a ledger category, every month of it."""
    ledger = model.ledger
    return linear([
        *((term, coef) for c, _, term, coef, _ in ledger.flows if c == category),
        *((term, float(sum(coef)) if isinstance(coef, tuple) else coef * len(months))
          for c, months, term, coef, _ in ledger.recurring if c == category)])


def dimensions(model: Model) -> dict[str, Expr]:
    """Each dimension of ``model``'s plan as an expression in its variables."""
    owned = [c for c in model.caps if c.purchase == Purchase.OWNED]
    cloud = [c for c in model.caps if c.purchase != Purchase.OWNED]
    out = {
        "onprem_gpus": linear([(var, float(cohort.server.gpus))
                               for var, cohort in model.fleet.orders.values()]),
        "onprem_gpu_hours": linear([(c.var, 1.0) for c in owned]),
        "cloud_gpu_hours": linear([(c.var, 1.0) for c in cloud]),
        "capex_usd": _category_total(model, Category.ONPREM_CAPEX.value),
        "committed_usd": _category_total(model, Category.CLOUD_RESERVED.value),
    }
    for p in model.plan.cloud.providers:
        out[f"cloud_gpu_hours.{p.value}"] = linear([
            (c.var, 1.0) for c in cloud if model.venues[c.venue].provider == p.value])
    return out


@dataclass(frozen=True)
class Explored:
    """One solve near the optimum: the ``weights`` minimized (a dimension's +1 for its minimum,
    −1 for its maximum), every dimension's value in the plan found, the plan's NPV, and
    ``bound``: what no plan within the budget can beat on the weighted sum (so a minimum is
    proven to within ``value - bound``). ``result`` is the plan in full; ``reason`` says why
    there is none."""

    weights: tuple[tuple[str, float], ...]
    values: dict[str, float]
    npv_usd: float | None
    objective: float | None
    bound: float | None
    result: ScenarioResult | None
    reason: str | None = None
    time_limited: bool = False
    # every dimension's value in the plan the search started from (the optimum)
    start_values: dict[str, float] = field(default_factory=dict)
    # reference GPU-hours paid for beyond every workload's demand, summed over its months: a
    # plan within the budget may buy hours it does not need (or hold them for redundancy)
    excess_gpu_hours: float = 0.0

    @property
    def gap_usd(self) -> float | None:
        """The plan's own gap as its cheapest at its value: NPV less the bound proven."""
        if self.result is None or self.result.solver is None:
            return None
        return self.result.solver.gap_usd


def _nothing(weights: tuple[tuple[str, float], ...], reason: str) -> Explored:
    return Explored(weights, {}, None, None, None, None, reason)


def explore(plan: Plan, catalog: Catalog, scenario: Scenario, budget_usd: float,
            weights: tuple[tuple[str, float], ...], start: tuple[tuple[str, float], ...],
            solver: SolverName = SolverName.HIGHS, time_limit: float | None = None,
            gap: float | None = None) -> Explored:
    """Minimize Σ weight × dimension over the plans of ``scenario`` whose NPV is at most
    ``budget_usd``, then the NPV at the value found. ``start`` is a plan within the budget (the
    optimum's variable values by name, every other one 0): every search starts from it, so a
    plan is always found. Each search is bounded by nodes, to ``gap`` (the plan's by default);
    ``time_limit`` is the safety net over both."""
    model = prepare(plan, catalog, scenario)
    reason = precheck(model)
    if reason:
        return _nothing(weights, reason)
    define_program(model)
    dims = dimensions(model)
    unknown = [d for d, _ in weights if d not in dims]
    if unknown:
        raise ValueError(f"explore: no dimension {', '.join(unknown)}")
    gap = plan.plan.mip_gap if gap is None else gap
    prob = model.prob
    cost = prob.objective
    # the budget: NPV ≤ budget (the objective's constant moved to the right-hand side)
    prob.add(linear(cost.items()), LE, budget_usd - cost.constant, "npv_within_slack")
    goal = linear([(dims[d], w) for d, w in weights])
    given = dict(start)
    for v in prob.vars:
        v.varValue = given.get(v.name, 0.0)
    if not all(row.holds(1e-4 * max(1.0, abs(budget_usd))) if row.name == "npv_within_slack"
               else row.holds(1e-4) for row in prob.rows):
        return _nothing(weights, "the optimum's plan does not fit the program (a budget "
                                 "below its NPV?)")
    first = {v: v.varValue or 0.0 for v in prob.vars}
    at_start = {d: _clean(expr.value() or 0.0) for d, expr in dims.items()}
    with safety_net(time_limit) as net:
        prob.objective = goal
        prob.highs = None
        info = run(prob, solver, None, gap, start=first,
                   nodes=node_budget(prob, SEARCH_SHARE))
        if not info.status.has_solution:
            for var, value in first.items():
                var.varValue = value          # the optimum itself is within the budget
        reached = goal.value() or 0.0
        bound = info.bound if info.bound is not None and math.isfinite(info.bound) else None
        # the cheapest plan at that value: the weighted sum held where the search left it
        tolerance = 1e-9 * max(1.0, abs(reached))
        prob.add(linear(goal.items()), LE, reached - goal.constant + tolerance,
                 "held_at_extreme")
        prob.objective = cost
        prob.highs = None
        found = start_of(model, -math.inf, 0.0)
        # the optimum, when it is at that value too (a least it already had), is cheaper
        optimum_goal = sum(first[var] * w for var, w in goal.items()) + goal.constant
        if optimum_goal <= reached + tolerance:
            for var, value in first.items():
                var.varValue = value
            if prob.cost() < found.objective:
                found = start_of(model, -math.inf, 0.0)
            found.load()
        # solved as every scenario is (warm start, simple plans, then the search), the held
        # row one more row of the program
        priced = optimize(model, solver, None)
        if not priced.status.has_solution or prob.cost() > found.objective:
            found.load()
            priced = replace(priced, status=SolveStatus.FEASIBLE)
    npv = prob.cost()
    held = priced.bound if priced.bound is not None and math.isfinite(priced.bound) else None
    info_out = SolveInfo(priced.solver, priced.status, info.seconds + priced.seconds,
                         relative_gap(npv, held), held,
                         None if held is None else max(0.0, npv - held), net.fired)
    result = extract(model, info_out)
    values = {d: _clean(expr.value() or 0.0) for d, expr in dims.items()}
    return Explored(weights, values, result.npv_usd, reached, bound, result,
                    time_limited=net.fired, start_values=at_start,
                    excess_gpu_hours=_clean(_excess(model)))


def _excess(model: Model) -> float:
    """Reference GPU-hours delivered beyond the demand, over every workload and month."""
    delivered: dict[tuple[str, int], float] = {}
    for c in model.caps:
        key = (c.workload, c.month)
        delivered[key] = delivered.get(key, 0.0) + (c.var.varValue or 0.0) * c.factor
    return sum(max(0.0, amount - model.demand[w][m]) for (w, m), amount in delivered.items())


def _clean(x: float) -> float:
    """A value with solver noise (−1e-9, 7.999999) rounded off at a millionth."""
    return round(x, 6) + 0.0
