"""The independent solves a decision analysis is made of, as functions a worker process (or a
Dask worker) can run: the plan re-optimized at some lever values, and a plan's first-stage
decisions held fixed at some lever values (its committed NPV). Each takes and returns plain
data that pickles, and parses its levers itself."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

from tco.optimizer.plan import LoadedPlan, Plan
from tco.optimizer.result import Decisions, Result, ScenarioResult
from tco.optimizer.scenarios import committed_npv, scenarios_for, solve
from tco.optimizer.solver import SolverName
from tco.pricing.models import Catalog

from .levers import lever

__all__ = ["Outcome", "Signature", "at", "committed", "relevant", "reoptimized", "signature"]

# what a recommendation commits to, as a decision maker reads it: the scenario, how many servers
# of each type are bought, what is reserved (provider, region, instance type, term: count)
Signature = tuple[str | None, tuple[tuple[str, int], ...],
                  tuple[tuple[tuple[str, str, str, str], int], ...]]


def signature(result: Result) -> Signature:
    if not result.feasible:
        return (None, (), ())
    rec = result.recommended
    servers: Counter[str] = Counter()
    for p in rec.procurement:
        servers[p.server] += p.count
    reserved: Counter[tuple[str, str, str, str]] = Counter()
    for c in rec.commitments:
        reserved[(c.provider, c.region, c.instance_type, c.purchase)] += c.count
    return (result.recommended_name, tuple(sorted(servers.items())),
            tuple(sorted(reserved.items())))


@dataclass(frozen=True)
class Outcome:
    """The plan re-optimized at some lever values, in brief."""

    values: dict[str, float]
    npv_usd: float | None                 # the recommendation's (None: nothing is feasible)
    recommended: str | None
    signature: Signature
    decisions: Decisions | None
    unproven: bool = False


def relevant(plan: Plan, catalog: Catalog) -> Catalog:
    """The catalog without the compute prices no scenario of the plan can use (other
    providers, other GPU classes): what every task carries and every lever re-prices."""
    providers = {p.value for p in plan.cloud.providers}
    wanted = {g for w in plan.workloads for g in w.speeds}
    kept = [r for r in catalog.compute if r.provider in providers and r.gpu in wanted]
    # a provider none of whose prices fit keeps them all, so that the plan solves as it does
    # in ``tco compare`` (where such a provider is priced, and simply not used)
    unfit = providers - {r.provider for r in kept}
    kept += [r for r in catalog.compute if r.provider in unfit]
    return replace(catalog, compute=tuple(kept))


def at(plan: Plan, catalog: Catalog, values: Mapping[str, float]) -> tuple[Plan, Catalog]:
    """The plan and catalog with each named lever at its value (in name order)."""
    for name in sorted(values):
        plan, catalog = lever(name, plan).apply(plan, catalog, values[name])
    return plan, catalog


def reoptimized(plan: Plan, catalog: Catalog, values: Mapping[str, float],
                solver: SolverName | None, time_limit: float | None) -> Outcome:
    """Every scenario solved again at ``values``; the recommendation."""
    p, c = at(plan, catalog, values)
    result = solve(LoadedPlan(p, (), "<plan>"), c, solver=solver, time_limit=time_limit,
                   workers=1)
    rec: ScenarioResult | None = result.recommended if result.feasible else None
    return Outcome(dict(values), rec.npv_usd if rec else None, result.recommended_name,
                   signature(result), rec.decisions if rec else None,
                   bool(rec and rec.unproven))


def committed(plan: Plan, catalog: Catalog, values: Mapping[str, float], scenario: str,
              decisions: Decisions, solver: SolverName | None,
              time_limit: float | None) -> float | None:
    """The committed NPV of ``decisions`` (first-stage decisions of a plan of ``scenario``)
    at ``values``: they are held, the hourly use re-optimized; None when no hourly use meets
    demand (or the decisions cannot be carried out under these inputs)."""
    p, c = at(plan, catalog, values)
    chosen = next(s for s in scenarios_for(p) if s.name == scenario)
    return committed_npv(p, c, chosen, decisions, SolverName(solver or p.plan.solver),
                         time_limit)
