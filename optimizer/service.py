"""Service in the program (SPEC section 6): demand met every month, each metro's traffic
within its latency bound, served traffic for egress, and redundancy across failure domains."""

from __future__ import annotations

import itertools

from tco.pricing.models import Purchase

from .ledger import Tag
from .model import Model, _n, delivered, linear, terms_of, workload_months
from .plan import Workload
from .program import EQ, GE, LE, Expr, Var
from .records import CapIndex, EgressTerms, Service
from .venues import metro_reach

__all__ = ["SHORTFALL_PENALTY_USD_PER_GPU_HOUR", "define_demand",
           "define_latency_and_egress", "define_redundancy", "define_shortfall",
           "redundancy_level"]

# A shortfall costs more than any GPU-hour could; used only to explain infeasibility.
SHORTFALL_PENALTY_USD_PER_GPU_HOUR = 1e5




def define_shortfall(model: Model) -> dict[tuple[str, int], Var]:
    """Unmet demand ``short[w,m]``, allowed at a penalty: an elastic run, to find out which
    workloads and months an infeasible scenario cannot serve."""
    out = {}
    for w in model.plan.workloads:
        for m in workload_months(model.plan, w):
            if model.demand[w.name][m] > 0:
                out[(w.name, m)] = model.prob.var(
                    _n(f"short[{w.name},{model.label(m)}]"), 0, model.demand[w.name][m])
    return out


def define_demand(model: Model) -> None:
    """Delivered reference GPU-hours ≥ demand, for every workload and month of its window.

    Each capacity variable is also bounded by the month's demand in its own GPU-hours: no
    constraint asks one variable for more, and more never costs less, so some optimal plan
    meets the bound; given as a bound, it lets the solver derive far stronger cuts."""
    by: dict[tuple[str, int], list] = {}
    uses = model.uses
    for c in model.caps:
        by.setdefault((c.workload, c.month), []).append(c)
        c.var.upBound = model.demand[c.workload][c.month] / c.factor
        if uses is not None:
            uses.bounds.append((c.var, c.workload, c.month, 1 / c.factor))
    for w in model.plan.workloads:
        prefix = _n(f"demand[{w.name},")
        for m in workload_months(model.plan, w):
            if model.demand[w.name][m] <= 0:
                continue
            row = model.constrain([*terms_of(by.get((w.name, m), [])),
                                   (model.need(w.name, m), -1.0)],
                                  GE, 0.0, f"{prefix}{model.label(m)}_")
            if uses is not None:
                uses.constants.append((row, w.name, m, -1.0))


def define_latency_and_egress(model: Model, index: CapIndex) -> Service:
    """Latency: for every set S of a workload's metros, capacity (or served traffic) within
    reach of S ≥ share(S) × demand (Hall's condition for routing each metro's share to venues
    within ``max_latency_ms``). Egress: served GPU-hours ``serve[w,v,m]`` ≤ capacity there,
    Σ serve = demand, and egress GB = serve × egress per GPU-hour; tiered per provider-month
    (``data.define_egress_tiers``)."""
    plan = model.plan
    out = Service()
    egress: EgressTerms = {}
    uses = model.uses
    for w in plan.workloads:
        per_venue = index.of(w.name)
        if not per_venue:
            continue
        reach = metro_reach(plan, w, {k: model.venues[k] for k in {v for v, _ in per_venue}})
        constrained = w.max_latency_ms is not None and bool(reach)
        has_egress = any(e > 0 for e in model.egress_gb[w.name])
        if not (constrained or has_egress):
            continue
        all_venues = {v for v, _ in per_venue}
        for m in workload_months(plan, w):
            if model.demand[w.name][m] <= 0:
                continue
            need = model.need(w.name, m)
            terms: dict[str, object] = {}
            if has_egress:
                serve_vars = {}
                for v in sorted(all_venues):
                    caps = per_venue.get((v, m), [])
                    if not caps:
                        continue
                    at = f"{model.safe(w.name)}_{model.safe(v)}_{model.label(m)}_"
                    s = model.prob.var(f"serve_{at}", 0, model.demand[w.name][m])
                    serve_vars[v] = s
                    out.serve[(w.name, v, m)] = s
                    row = model.constrain([(s, 1.0), *terms_of(caps, -1.0)], LE, 0.0,
                                          f"serve_cap_{at}")
                    if uses is not None:
                        uses.bounds.append((s, w.name, m, 1.0))
                        uses.serve.append((s, w.name, m))
                        uses.serving.add(id(row))
                row = model.constrain([*((s, 1.0) for s in serve_vars.values()), (need, -1.0)],
                                      EQ, 0.0,
                                      f"serve_all_{model.safe(w.name)}_{model.label(m)}_")
                if uses is not None:
                    uses.constants.append((row, w.name, m, -1.0))
                    uses.serving.add(id(row))
                gb_per_hour = model.egress_gb[w.name][m] / model.demand[w.name][m]
                for v, s in serve_vars.items():
                    venue = model.venues[v]
                    if venue.site is not None:
                        model.add_cost("egress", m, s, gb_per_hour * venue.site.egress_usd_per_gb,
                                       Tag("egress", (v,)))
                    else:
                        egress.setdefault((v, m), []).append((
                            linear([(s, gb_per_hour)]), model.egress_gb[w.name][m],
                            f"serve:{w.name}"))
                terms = dict(serve_vars)
            else:
                terms = {v: delivered(per_venue[(v, m)]) for v in all_venues if (v, m) in per_venue}
            if not constrained:
                continue
            _define_latency(model, w, m, reach, terms, need)
    out.egress = egress
    return out


def _define_latency(model: Model, w: Workload, m: int, reach: dict[str, set[str]],
                    terms: dict[str, object], need: Expr | float) -> None:
    users = w.users or {}
    metros_ = sorted(reach)
    for size in range(1, len(metros_) + 1):
        for subset in itertools.combinations(metros_, size):
            within = set().union(*(reach[u] for u in subset))
            if within >= set(terms):
                continue
            share = sum(users[u] for u in subset)
            # in a fixed order: a set of names iterates in an order that varies by process
            row = model.constrain([*((terms[v], 1.0) for v in sorted(within) if v in terms),
                                   (need, -share)],
                                  GE, 0.0,
                                  _n(f"latency[{w.name},{'+'.join(subset)},{model.label(m)}]"))
            if model.uses is not None:
                model.uses.constants.append((row, w.name, m, -share))
                model.uses.serving.add(id(row))


def redundancy_level(w: Workload, domain_availability: list[float]) -> int:
    """0, 1 or 2 failure domains the workload must survive losing (SPEC 6).

    0 when the target is absent or some domain meets it alone; 1 when no single domain does;
    2 when even surviving one loss is short of it, estimated as ``1 - (1 - a1)(1 - a2)`` with
    the two least available domains. A workload that some domain alone satisfies still must
    survive the loss of any domain below its target that it uses (see ``define_redundancy``).
    """
    if w.availability is None or not domain_availability:
        return 0
    ordered = sorted(domain_availability)
    if max(ordered) >= w.availability:
        return 0
    if len(ordered) >= 2 and 1 - (1 - ordered[0]) * (1 - ordered[1]) < w.availability:
        return 2
    return 1


def define_redundancy(model: Model, index: CapIndex) -> None:
    """For every domain d below the workload's availability target: non-spot capacity outside
    d ≥ demand; at level 2, outside every pair of domains. Spot never counts."""
    plan = model.plan
    for w in plan.workloads:
        if w.availability is None:
            continue
        target = w.availability
        per_venue = index.of(w.name)
        domains = sorted({v for v, _ in per_venue})
        level = redundancy_level(w, [model.venues[d].availability for d in domains])
        weak = [d for d in domains if model.venues[d].availability < target]
        losses: list[tuple[str, ...]] = [(d,) for d in weak]
        if level == 2:
            losses = list(itertools.combinations(domains, 2))
        for m in workload_months(plan, w):
            if model.demand[w.name][m] <= 0:
                continue
            need = model.need(w.name, m)
            for lost in losses:
                keep = [c for d in domains if d not in lost for c in per_venue.get((d, m), [])
                        if c.purchase != Purchase.SPOT]
                row = model.constrain([*terms_of(keep), (need, -1.0)], GE, 0.0,
                                      _n(f"survive[{w.name},{'+'.join(lost)},"
                                         f"{model.label(m)}]"))
                if model.uses is not None:
                    model.uses.constants.append((row, w.name, m, -1.0))
