"""Why a scenario cannot be served: first by checks that need no solver (no offer of the GPU
class, none within the latency bound, too few failure domains), then, if the program is still
infeasible, by an elastic re-solve that finds which workloads fall short and which limits
(capex budget, site power, quotas) bind."""

from __future__ import annotations

from collections import defaultdict

from tco.pricing.models import Catalog, Purchase
from tco.pricing.reference import regions

from .build import build
from .model import Model
from .plan import Plan, Workload
from .service import redundancy_level
from .solver import SolverName, node_budget, run, safety_net
from .venues import Scenario, fits_nodes, holds_weights, metro_reach

__all__ = ["diagnose", "precheck", "why_not"]


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


def why_not(model: Model, w: Workload, venue: str) -> str | None:
    """Why ``w`` cannot use ``venue`` of the scenario: the first missing price or constraint
    that excludes it, in the order the offers are filtered (SPEC 17); None when nothing of
    ``w``'s classes is sold or built there at all (an absence, not an exclusion), or when the
    venue is usable."""
    plan = model.plan
    v = model.venues.get(venue)
    if v is None:
        return None
    if v.is_site:
        if not model.scenario.sites:
            return None
        servers = [z for z in plan.onprem.servers if z.gpu in w.speeds]
        if not servers:
            return None
        if venue in model.excluded.get(w.name, {}):
            return model.excluded[w.name][venue]
        if not any(holds_weights(w, z.gpu, z.gpus) for z in servers):
            return f"no server holds {w.weights_gb:,.1f} GB of weights"
        if not any(fits_nodes(plan, w, z.gpu, z.gpus) for z in servers):
            return f"no server of {w.node_gpus} GPUs or more for a multi-node run"
        return None
    purchases = {p.value for p in plan.cloud.purchase_options}
    offers = [r for r in model.compute_at.get(venue, []) if r.gpu in w.speeds
              and r.purchase.value in purchases]
    if not offers:
        return None
    if venue in model.excluded.get(w.name, {}):
        return model.excluded[w.name][venue]
    offers = [r for r in offers if holds_weights(w, r.gpu, r.gpu_count, r.gpu_memory_gib)]
    if not offers:
        return f"no instance holds {w.weights_gb:,.1f} GB of weights"
    offers = [r for r in offers if fits_nodes(plan, w, r.gpu, r.gpu_count)]
    if not offers:
        return f"no instance of {w.node_gpus} GPUs or more for a multi-node run"
    if not w.interruptible and all(r.purchase == Purchase.SPOT for r in offers):
        return "only spot offers for a workload that is not interruptible"
    quotas = [q for q in plan.cloud.quotas if f"{q.provider.value}:{q.region}" == venue
              and q.gpu in w.speeds]
    if quotas and {r.gpu for r in offers} <= {q.gpu for q in quotas if q.max_gpus <= 0}:
        return "a quota of 0 GPUs"
    return None


def _excluded_text(model: Model, w: Workload, within: set[str]) -> str | None:
    """The venues among ``within`` that offer ``w``'s classes but are excluded, grouped by
    reason ("no storage price in aws:eu-west-2, aws:eu-north-1"); None when none offers
    them (then the bound itself, or the scope, is the reason)."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for venue in sorted(within):
        why = why_not(model, w, venue)
        if why is not None:
            by_reason[why].append(venue)
    if not by_reason:
        return None
    return "; ".join(f"{why} in {', '.join(venues)}" for why, venues in by_reason.items())


def _unplaced_text(model: Model, w: Workload, metro: str) -> str:
    """The regions of the scenario that sell ``w``'s classes but publish no location (some GPU
    clouds name data centres without a city), so that no latency can be estimated to them;
    "" when none."""
    given = model.plan.latency.get(metro, {})
    unplaced = sorted(key for key, offers in model.compute_at.items()
                      if key not in given and any(r.gpu in w.speeds for r in offers)
                      and (offers[0].provider, offers[0].region) not in regions())
    if not unplaced:
        return ""
    shown = ", ".join(unplaced[:3]) + (f" and {len(unplaced) - 3} more" if len(unplaced) > 3
                                       else "")
    if len(unplaced) == 1:
        return (f" ({shown} sells it but publishes no location, so no latency is estimated to "
                f"it: give its round trip from {metro} in [latency] to use it)")
    return (f" ({shown} sell it but publish no location, so no latency is estimated to them: "
            f"give their round trip from {metro} in [latency] to use them)")


def precheck(model: Model) -> str | None:
    """Reasons a scenario cannot work that need no solver, naming workload and constraint:
    for a metro no usable venue reaches, the first missing price or constraint of each venue
    within its latency bound that sells the workload's classes, and the latency bound only
    when none does (SPEC 17)."""
    plan = model.plan
    reasons: list[str] = []
    for w in plan.workloads:
        offers = model.offers[w.name]
        venues = offers.venues()
        gpus = _gpus_text(w)
        if w.max_latency_ms is not None and w.users:
            everywhere = metro_reach(plan, w, model.venues)
            usable = metro_reach(plan, w, {k: model.venues[k] for k in venues})
            for metro in w.users:
                if metro not in everywhere or usable.get(metro):
                    continue
                excluded = _excluded_text(model, w, everywhere[metro])
                if excluded is None:
                    reasons.append(f"{w.name}: no {gpus} within {w.max_latency_ms:g} ms of "
                                   f"{metro} in {_scope(model)}"
                                   + _unplaced_text(model, w, metro))
                else:
                    reasons.append(f"{w.name}: no usable {'/'.join(w.speeds)} offer within "
                                   f"{w.max_latency_ms:g} ms of {metro} in {_scope(model)}: "
                                   f"{excluded}")
            if not venues:
                continue
        elif not venues:
            excluded = _excluded_text(model, w, set(model.venues))
            reasons.append(f"{w.name}: no {gpus} in {_scope(model)}" if excluded is None else
                           f"{w.name}: no usable {'/'.join(w.speeds)} offer in {_scope(model)}: "
                           f"{excluded}")
            continue
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
    with safety_net(time_limit):
        info = run(model.prob, solver, None, plan.plan.mip_gap, nodes=node_budget(model.prob))
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
