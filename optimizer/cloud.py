"""Cloud capacity in the program: on-demand and spot hours, reservations and their pools,
quotas (SPEC section 5, "Cloud")."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace

from tco.pricing.models import HOURS_PER_DAY, HOURS_PER_MONTH, ComputePrice, Purchase

from .cuts import bound_small_use
from .ledger import Tag
from .model import Model, _n, workload_months
from .program import LE, Var
from .records import Cap, Cuts, Limit, Reserved, UnitGroup
from .venues import quote_offer, scenario_quotes, usd_per_hour_paid

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
    # a pool is (venue, gpu, booked by the day): capacity blocks serve training jobs only, so
    # they are a pool of their own beside the reservations and savings plans of the class
    used_pools: dict[tuple[str, str, bool], list[Cap]] = defaultdict(list)
    pool_terms: dict[tuple[str, str, bool], set[Purchase]] = defaultdict(set)
    for w in plan.workloads:
        terms_at: dict[tuple[str, str, bool], list[Purchase]] = defaultdict(list)
        for venue, gpu, term in sorted(model.offers[w.name].reserved_pools):
            terms_at[(venue, gpu, term == Purchase.CAPACITY_BLOCK)].append(term)
        for (venue, gpu, daily), terms in sorted(terms_at.items()):
            pool_terms[(venue, gpu, daily)].update(terms)
            prefix = _n(f"{'ub' if daily else 'u'}[{w.name},{venue},{gpu},")
            held = tuple(terms)
            for m in workload_months(plan, w):
                if model.demand[w.name][m] <= 0:
                    continue
                var = model.prob.var(f"{prefix}{model.label(m)}_", 0)
                cap = Cap(var, w.name, venue, gpu, terms[0], m, w.speeds[gpu], terms=held)
                out.caps.append(cap)
                used_pools[(venue, gpu, daily)].append(cap)
    every = plan.cloud.commit_every_months
    quotes = _define_quotes(model, out)
    for pool, caps in sorted(used_pools.items()):
        venue, gpu, daily = pool
        first = min(c.month for c in caps)
        last = max(c.month for c in caps)
        most = [0.0] * model.months      # the pool's users' whole need, by month
        for c in caps:
            most[c.month] += model.demand[c.workload][c.month] / c.factor
        active: dict[int, list[tuple[object, float]]] = defaultdict(list)
        if venue in quotes:
            var, offer, start = quotes[venue]
            for m in range(max(start, 0), min(start + offer.term_months, model.months)):
                active[m].append((var, offer.gpu_count * HOURS_PER_MONTH))
        bounded: list[tuple[Var, int, int, float]] = []    # whole units bounded by ``most``
        if daily:
            bounded += _define_blocks(model, out, venue, gpu, sorted({c.month for c in caps}),
                                      most, active)
        for term in sorted(pool_terms[pool] - {Purchase.QUOTE, Purchase.CAPACITY_BLOCK}):
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
                    # a savings plan is committed in whole instances' worth of dollars an
                    # hour, as a reservation is (a finer commitment could only cost less)
                    var = model.prob.var(
                        f"{prefix}{model.label(start)}_",
                        0, math.ceil(peak / hours - 1e-9), integer=True)
                    key = (venue, gpu, term, offer.instance_type, start)
                    out.reservations[key] = (var, offer)
                    bounded.append((var, start, term.term_months, hours))
                    paid = range(start, start + term.term_months)
                    model.add_monthly_cost("cloud_reserved", paid, var,
                                           monthly * plan.trends.cloud_factor(gpu, start),
                                           Tag("reservation", key))
                    for m in range(start, min(paid.stop, model.months)):
                        active[m].append((var, hours))
        if model.uses is not None:
            model.uses.pools.append((tuple((c.workload, c.month, c.factor) for c in caps),
                                     tuple(bounded)))
        by_month: dict[int, list[Cap]] = defaultdict(list)
        for c in caps:
            by_month[c.month].append(c)
            bound_small_use(model, c, active[c.month], "reserved_use", gpu)
        pool_name = _n(f"{venue},{gpu},{'block,' if daily else ''}")
        for m, used in sorted(by_month.items()):
            # GPU-hours used from the pool ≤ GPU-hours of the reservations active that month
            name = f"{pool_name}{model.label(m)}"
            model.constrain([*((c.var, 1.0) for c in used),
                             *((var, -hours) for var, hours in active[m])],
                            LE, 0.0, f"reserved_pool_{name}_")
            cuts.unit_groups.append(UnitGroup(name, used, active[m]))
    return out


def _define_blocks(model: Model, out: Reserved, venue: str, gpu: str, months: list[int],
                   most: list[float], active: dict[int, list[tuple[object, float]]]
                   ) -> list[tuple[Var, int, int, float]]:
    """Capacity blocks ``b[venue,type,month]``: instance-days booked in a month (whole days),
    each paid ``24 × $/instance-hour`` at the month's list price whether used or not, and each
    holding ``24 × GPUs`` GPU-hours for the training jobs of that month; never more days than
    the pool's users could fill that month. Returns each block with its month, 1 (the months
    it is active) and the GPU-hours it holds."""
    plan = model.plan
    out_units: list[tuple[Var, int, int, float]] = []
    for offer in model.pools[(venue, gpu, Purchase.CAPACITY_BLOCK)]:
        daily = usd_per_hour_paid(plan, offer) * HOURS_PER_DAY
        hours = offer.gpu_count * HOURS_PER_DAY
        booked = replace(offer, term_months=1)      # active in its own month only
        prefix = _n(f"b[{venue},{offer.instance_type},")
        for m in months:
            var = model.prob.var(f"{prefix}{model.label(m)}_", 0,
                                 math.ceil(most[m] / hours - 1e-9), integer=True)
            key = (venue, gpu, Purchase.CAPACITY_BLOCK, offer.instance_type, m)
            out.reservations[key] = (var, booked)
            model.add_cost("cloud_reserved", m, var, daily * plan.trends.cloud_factor(gpu, m),
                           Tag("reservation", key))
            active[m].append((var, hours))
            out_units.append((var, m, 1, hours))
    return out_units


def _define_quotes(model: Model, out: Reserved) -> dict[str, tuple[Var, ComputePrice, int]]:
    """Each quote of the scenario taken or not, ``q[name]`` (1 and fixed when signed): it pays
    ``usd_per_gpu_hour × gpus × 730`` every month of its term, used or not (past the horizon
    too), and ``upfront_usd`` in its first month, at the quoted price (no discount, no trend: the
    price is signed). Keyed in ``out.reservations`` as (venue, gpu, quote, name, start)."""
    made: dict[str, tuple[Var, ComputePrice, int]] = {}
    for q in scenario_quotes(model.plan, model.scenario):
        offer = quote_offer(q)
        start = model.plan.offset(q.start)
        var = model.prob.var(_n(f"q[{q.name}]"), 0 if q.optional else 1, 1, integer=True)
        key = (q.venue, q.gpu, Purchase.QUOTE, q.name, start)
        out.reservations[key] = (var, offer)
        tag = Tag("reservation", key)
        paid = range(max(start, 0), start + q.months)
        if len(paid):
            model.add_monthly_cost("cloud_reserved", paid, var, q.usd_per_month, tag)
        if q.upfront_usd and start >= 0:
            model.add_cost("cloud_reserved", start, var, q.upfront_usd, tag)
        made[q.venue] = (var, offer, start)
    return made


def define_quotas(model: Model, reserved: Reserved) -> list[Limit]:
    """Concurrent GPUs of a class in a region: on-demand/spot GPU-hours / 730 + GPUs of active
    reservations ≤ ``max_gpus``."""
    out = []
    for i, q in enumerate(model.plan.cloud.quotas):
        venue = f"{q.provider.value}:{q.region}"
        for m in range(model.months):
            hourly = [c.var for c in model.caps if c.venue == venue and c.gpu == q.gpu and c.month == m
                      and c.purchase in (Purchase.ON_DEMAND, Purchase.SPOT)]
            # a capacity block's instance-days are GPUs for a day each: on average that month
            held = [(var, offer.gpu_count * (HOURS_PER_DAY / HOURS_PER_MONTH
                                             if offer.purchase == Purchase.CAPACITY_BLOCK else 1))
                    for var, offer in reserved.active(venue, q.gpu, m)]
            if not hourly and not held:
                continue
            row = model.constrain([*((var, 1 / HOURS_PER_MONTH) for var in hourly), *held], LE,
                                  q.max_gpus, _n(f"quota[{i},{venue},{q.gpu},{model.label(m)}]"))
            out.append(Limit("cloud quotas", 1.0, row))
    return out
