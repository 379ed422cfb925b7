"""Why a scenario cannot be served: first by checks that need no solver (no offer of the GPU
class, none within the latency bound, too few failure domains), then, if the program is still
infeasible, by an elastic re-solve that finds which workloads fall short and which limits
(capex budget, site power, quotas) bind."""

from __future__ import annotations

from collections import defaultdict

from tco.pricing.models import Catalog

from .build import build
from .model import Model
from .plan import Plan, Workload
from .service import redundancy_level
from .solver import SolverName, run
from .venues import Scenario, metro_reach

__all__ = ["diagnose", "precheck"]


def _gpus_text(w: Workload) -> str:
    """"H100/L4 offer", or "L4 offer that holds 84.0 GB of weights" for a model (SPEC 14)."""
    holds = f" that holds {w.weights_gb:,.1f} GB of weights" if w.weights_gb is not None else ""
    return "/".join(w.speeds) + " offer" + holds


def _scope(model: Model) -> str:
    s = model.scenario
    parts = []
    if s.providers:
        parts.append(", ".join(s.providers))
    if s.sites and model.plan.onprem.sites:
        parts.append("sites " + ", ".join(x.name for x in model.plan.onprem.sites))
    return " or ".join(parts) if parts else "nothing"


def precheck(model: Model) -> str | None:
    """Reasons a scenario cannot work that need no solver, naming workload and constraint."""
    plan = model.plan
    reasons: list[str] = []
    for w in plan.workloads:
        offers = model.offers[w.name]
        venues = offers.venues()
        gpus = _gpus_text(w)
        if not venues:
            why = ""
            if model.excluded.get(w.name):
                why = " (" + "; ".join(f"{v}: {r}" for v, r in sorted(model.excluded[w.name].items())[:3]) + ")"
            if w.max_latency_ms is not None and w.users:
                for metro in w.users:
                    reasons.append(f"{w.name}: no {gpus} within {w.max_latency_ms:g} ms of "
                                   f"{metro} in {_scope(model)}{why}")
                    break
            else:
                reasons.append(f"{w.name}: no {gpus} in {_scope(model)}{why}")
            continue
        if w.max_latency_ms is not None and w.users:
            reach = metro_reach(plan, w, {k: model.venues[k] for k in venues})
            for metro, ok in reach.items():
                if not ok:
                    reasons.append(f"{w.name}: no {gpus} within {w.max_latency_ms:g} ms of "
                                   f"{metro} in {_scope(model)}")
        nonspot = offers.nonspot_venues()
        level = redundancy_level(w, [model.venues[d].availability for d in venues])
        weak = [d for d in nonspot if w.availability and model.venues[d].availability < w.availability]
        if w.availability is not None and (level > 0 or weak):
            needed = level + 1 if level else 2
            if len(nonspot) < needed and (level or len(nonspot) == len(weak)):
                reasons.append(f"{w.name}: availability {w.availability:g} needs non-spot capacity "
                               f"in {needed} failure domains; only {len(nonspot)} offer {gpus} in "
                               f"{_scope(model)}")
            elif w.single_venue and (level > 0 or len(weak) == len(nonspot)):
                reasons.append(f"{w.name}: single_venue = true cannot meet availability "
                               f"{w.availability:g}, which needs a second failure domain")
    return "; ".join(reasons) if reasons else None


def diagnose(plan: Plan, catalog: Catalog, scenario: Scenario, solver: SolverName,
             time_limit: float | None) -> str:
    """Re-solve with unmet demand allowed at a penalty; say what falls short and what binds."""
    model = build(plan, catalog, scenario, elastic=True)
    info = run(model.prob, solver, time_limit, plan.plan.mip_gap)
    if not info.status.has_solution:
        return "infeasible (the limits of the plan cannot all hold at once)"
    shortfalls: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for (w, m), var in model.short.items():
        value = var.varValue or 0.0
        if value > 1e-3:
            shortfalls[w].append((m, value))
    # a limit binds when less than one more unit (a server, a GPU) fits under it
    binding: list[str] = []
    for limit in model.limits:
        slack = limit.row.slack
        if slack is not None and slack < limit.unit - 1e-9 and limit.label not in binding:
            binding.append(limit.label)
    if not shortfalls:
        return "infeasible (the limits of the plan cannot all hold at once)"
    parts = []
    for w, items in sorted(shortfalls.items()):
        total = sum(v for _, v in items)
        months = sorted(m for m, _ in items)
        span = model.label(months[0]) + (f"..{model.label(months[-1])}" if len(months) > 1 else "")
        parts.append(f"{w}: {total:,.0f} GPU-hours short in {span}")
    limits = f" (limited by {', '.join(binding)})" if binding else ""
    return "; ".join(parts) + limits
