"""Cloud capacity in the program: on-demand and spot hours, reservations and their pools,
quotas (SPEC section 5, "Cloud")."""

from __future__ import annotations

import math
from collections import defaultdict

from tco.pricing.models import HOURS_PER_MONTH, Purchase

from .cuts import bound_small_use
from .ledger import Tag
from .model import Model, _n, workload_months
from .program import LE
from .records import Cap, Cuts, Limit, Reserved, UnitGroup
from .venues import usd_per_hour_paid

__all__ = ["define_cloud_capacity", "define_quotas", "define_reservations"]


def define_cloud_capacity(model: Model) -> list[Cap]:
    """On-demand and spot GPU-hours: ``x[w,venue,gpu,purchase,m]``, paid per hour used at the
    month's list price (``trends``)."""
    trends = model.plan.trends
    caps: list[Cap] = []
    for w in model.plan.workloads:
        offers = model.offers[w.name]
        months = workload_months(model.plan, w)
        for purchase, table in ((Purchase.ON_DEMAND, offers.on_demand), (Purchase.SPOT, offers.spot)):
            for (venue, gpu), offer in sorted(table.items()):
                factor = w.speeds[gpu]
                if purchase == Purchase.SPOT:
                    factor /= 1 + w.spot_overhead
                price = usd_per_hour_paid(model.plan, offer) / offer.gpu_count
                prefix = _n(f"x[{w.name},{venue},{gpu},{purchase.value},")
                for m in months:
                    if model.demand[w.name][m] <= 0:
                        continue
                    var = model.prob.var(f"{prefix}{model.label(m)}_", 0)
                    cap = Cap(var, w.name, venue, gpu, purchase, m, factor, offer)
                    caps.append(cap)
                    model.add_cost("cloud_compute", m, var,
                                   price * trends.cloud_factor(gpu, m), cap)
    return caps






def define_reservations(model: Model, cuts: Cuts) -> Reserved:
    """Whole reserved instances ``r[venue,type,term,start]``, paid every month of the term
    (past the horizon too), and per-workload use of each pool ``u[w,venue,gpu,m]``.

    A pool is every reservation of one GPU class in one region, of either term: an hour of a
    1-year reservation serves a workload exactly as an hour of a 3-year one does, so each
    workload has one use variable per pool-month and the report splits it over the terms in
    proportion to their hours that month. (A variable per term would only add columns and
    let the solver shuffle use between terms at no cost.)

    A reservation may start in the first month the pool is needed and then every
    ``cloud.commit_every_months`` months from the plan's start (the commitment cadence). It
    pays its start month's list price for its whole term (``trends``): it locks the price.
    A workload's use is also bounded by its need times the active reservations
    (``cuts.bound_small_use``), and a reservation count by what the pool's users could fill
    in the busiest month of its term (more would pay for instances no plan can use)."""
    plan = model.plan
    out = Reserved()
    used_pools: dict[tuple[str, str], list[Cap]] = defaultdict(list)
    pool_terms: dict[tuple[str, str], set[Purchase]] = defaultdict(set)
    for w in plan.workloads:
        terms_at: dict[tuple[str, str], list[Purchase]] = defaultdict(list)
        for venue, gpu, term in sorted(model.offers[w.name].reserved_pools):
            terms_at[(venue, gpu)].append(term)
        for (venue, gpu), terms in sorted(terms_at.items()):
            pool_terms[(venue, gpu)].update(terms)
            prefix = _n(f"u[{w.name},{venue},{gpu},")
            held = tuple(terms)
            for m in workload_months(plan, w):
                if model.demand[w.name][m] <= 0:
                    continue
                var = model.prob.var(f"{prefix}{model.label(m)}_", 0)
                cap = Cap(var, w.name, venue, gpu, terms[0], m, w.speeds[gpu], terms=held)
                out.caps.append(cap)
                used_pools[(venue, gpu)].append(cap)
    every = plan.cloud.commit_every_months
    for pool, caps in sorted(used_pools.items()):
        venue, gpu = pool
        first = min(c.month for c in caps)
        last = max(c.month for c in caps)
        most = [0.0] * model.months      # the pool's users' whole need, by month
        for c in caps:
            most[c.month] += model.demand[c.workload][c.month] / c.factor
        active: dict[int, list[tuple[object, float]]] = defaultdict(list)
        for term in sorted(pool_terms[pool]):
            for offer in model.pools[(venue, gpu, term)]:
                monthly = usd_per_hour_paid(plan, offer) * HOURS_PER_MONTH
                hours = offer.gpu_count * HOURS_PER_MONTH
                prefix = _n(f"r[{venue},{offer.instance_type},{term.value},")
                for start in range(first, last + 1):
                    if start != first and start % every:
                        continue
                    # never more instances than the pool's users could fill in any month of
                    # the term
                    peak = max(most[start:start + term.term_months])
                    var = model.prob.var(
                        f"{prefix}{model.label(start)}_",
                        0, math.ceil(peak / hours - 1e-9), integer=True)
                    key = (venue, gpu, term, offer.instance_type, start)
                    out.reservations[key] = (var, offer)
                    paid = range(start, start + term.term_months)
                    model.add_monthly_cost("cloud_reserved", paid, var,
                                           monthly * plan.trends.cloud_factor(gpu, start),
                                           Tag("reservation", key))
                    for m in range(start, min(paid.stop, model.months)):
                        active[m].append((var, hours))
        by_month: dict[int, list[Cap]] = defaultdict(list)
        for c in caps:
            by_month[c.month].append(c)
            bound_small_use(model, c, active[c.month], "reserved_use", gpu)
        pool_name = _n(f"{venue},{gpu},")
        for m, used in sorted(by_month.items()):
            # GPU-hours used from the pool ≤ GPU-hours of the reservations active that month
            name = f"{pool_name}{model.label(m)}"
            model.constrain([*((c.var, 1.0) for c in used),
                             *((var, -hours) for var, hours in active[m])],
                            LE, 0.0, f"reserved_pool_{name}_")
            cuts.unit_groups.append(UnitGroup(name, used, active[m]))
    return out


def define_quotas(model: Model, reserved: Reserved) -> list[Limit]:
    """Concurrent GPUs of a class in a region: on-demand/spot GPU-hours / 730 + GPUs of active
    reservations ≤ ``max_gpus``."""
    out = []
    for i, q in enumerate(model.plan.cloud.quotas):
        venue = f"{q.provider.value}:{q.region}"
        for m in range(model.months):
            hourly = [c.var for c in model.caps if c.venue == venue and c.gpu == q.gpu and c.month == m
                      and c.purchase in (Purchase.ON_DEMAND, Purchase.SPOT)]
            held = [(var, offer.gpu_count) for var, offer in reserved.active(venue, q.gpu, m)]
            if not hourly and not held:
                continue
            row = model.constrain([*((var, 1 / HOURS_PER_MONTH) for var in hourly), *held], LE,
                                  q.max_gpus, _n(f"quota[{i},{venue},{q.gpu},{model.label(m)}]"))
            out.append(Limit("cloud quotas", 1.0, row))
    return out
