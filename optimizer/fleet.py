"""Owned servers in the program (SPEC sections 5 and 10): cohorts ordered and already owned,
how many stay live and when the rest retire, their use, site power and the capex budget.
The money each server makes and costs is ``onprem``'s pure arithmetic."""

from __future__ import annotations

from collections import defaultdict

from tco.pricing.models import Purchase

from . import onprem
from .cuts import bound_small_use
from .ledger import Tag
from .model import Model, _n, linear, workload_months
from .onprem import Retired
from .plan import Plan, Server
from .program import LE, Expr, Var
from .records import Cap, CohortPlan, Cuts, Fleet, Limit, UnitGroup

__all__ = ["define_capex_budget", "define_onprem_capacity", "define_onprem_fleet",
           "define_site_power"]






def define_onprem_fleet(model: Model) -> Fleet:
    """Owned servers by cohort (SPEC 10): servers ordered ``n[site,server,order_month]``
    (whole) and those already owned, how many of each cohort stay live between the months they
    may be retired (``keep[site,server,cohort,month]``, whole, never more than before), and
    their cash flows: capex at arrival, idle energy, colo, maintenance and staff while live,
    what the sale brings in and ``decommission_usd`` paid at each retirement (end of life
    included), and the value of those still owned at the horizon's end.

    A scenario without sites retires every server already owned in its first month; one with
    sites chooses when. A server ordered in month m costs the type's price then (``trends``),
    and arrives no earlier than its type's ``available_from``."""
    plan = model.plan
    trend = plan.trends.servers
    out = Fleet()
    with_sites = model.scenario.sites and bool(plan.onprem.sites)
    needed = ({(s, z.name) for w in plan.workloads for s, z in model.offers[w.name].servers}
              if with_sites else set())
    every = plan.onprem.order_every_months
    for site in plan.onprem.sites:
        for server in plan.onprem.servers:
            # servers may also be retired when the window of a workload that could use them
            # has just ended
            ends = frozenset(workload_months(plan, w).stop for w in plan.workloads
                             if server.gpu in w.speeds)
            cohorts = [onprem.existing(site.name, server, e.age_months, e.count, i)
                       for i, e in enumerate(site.existing) if e.server == server.name]
            if (site.name, server.name) in needed:
                first = first_arrival(plan, server)
                # orders that arrive as a workload starts, or as the type becomes available
                starts = frozenset(workload_months(plan, w).start - server.lead_time_months
                                   for w in plan.workloads) | {first - server.lead_time_months}
                for order in onprem.order_months(server, model.months, every, starts):
                    cohort = onprem.bought(site.name, server, order)
                    if cohort.arrival < first:
                        continue
                    var = model.prob.var(
                        _n(f"n[{site.name},{server.name},{model.label(order)}]"), 0,
                        integer=True)
                    out.orders[(site.name, server.name, order)] = (var, cohort)
                    price = onprem.new_server_usd(server, order, trend)
                    model.add_cost("onprem_capex", cohort.arrival, var, price,
                                   Tag("order", (site.name, server.name, order)))
                    if server.financing is not None:
                        _define_financing(model, out, cohort, var, price)
                    cohorts.append(cohort)
            if not cohorts:
                continue
            alive: dict[int, list[tuple[object, float]]] = defaultdict(list)
            existing_by_month = [0] * model.months
            for cohort in cohorts:
                if cohort.existing:
                    for m in range(max(0, min(model.months, cohort.end_of_life))):
                        existing_by_month[m] += cohort.count
                plan_ = (_define_cohort(model, out, cohort, every, ends | _returned(cohort))
                         if with_sites else _sell_at_start(model, cohort))
                out.cohorts.append(plan_)
                for months, live in plan_.segments:
                    for m in months:
                        alive[m].append((live, 1.0))
            if with_sites:
                out.existing[(site.name, server.name)] = existing_by_month
                for m in range(model.months):
                    out.live[(site.name, server.name, m)] = linear(alive[m])
    return out


def _define_financing(model: Model, fleet: Fleet, cohort: onprem.Cohort, ordered: Var,
                      price: float) -> None:
    """How many of an order are leased or bought on a loan instead of outright (SPEC 20):
    ``lease[...]`` or ``loan[...]``, whole, at most the servers ordered, and their cash flows
    in place of the price.

    A loan pays ``down_fraction`` of the price at arrival and the annuity A = P·i / (1 − (1 +
    i)^−n) on the rest P, i = rate / 12, n = months, from the month after. A lease pays no
    price: ``usd_per_month`` in advance from the arrival month for its term, months past the
    horizon included, and ``buyout_usd`` at its end when it has one and that falls inside the
    horizon. What a leased server may do is ``_lease_terms``."""
    f = cohort.server.financing
    assert f is not None and cohort.order is not None
    key = (cohort.site, cohort.server.name, cohort.order)
    var = model.prob.var(_n(f"{f.kind}[{cohort.site},{cohort.server.name},"
                            f"{model.label(cohort.order)}]"), 0, integer=True)
    model.constrain([(var, 1.0), (ordered, -1.0)], LE, 0.0,
                    _n(f"financed_at_most[{cohort.site},{cohort.server.name},"
                       f"{model.label(cohort.order)}]"))
    fleet.financed[key] = (var, f.kind)
    tag = Tag("financing", key)
    if f.kind == "loan":
        principal = (1.0 - f.down_fraction) * price
        model.add_cost("onprem_capex", cohort.arrival, var, -principal, tag)
        model.add_monthly_cost("onprem_capex", range(cohort.arrival + 1,
                                                     cohort.arrival + 1 + f.months),
                               var, onprem.annuity_usd(principal, f.rate, f.months), tag)
        return
    model.add_cost("onprem_capex", cohort.arrival, var, -price, tag)
    model.add_monthly_cost("onprem_lease", range(cohort.arrival, cohort.arrival + f.months),
                           var, f.usd_per_month, tag)
    end = cohort.arrival + f.months
    if f.buyout_usd is not None and end < model.months:
        model.add_cost("onprem_capex", end, var, f.buyout_usd, tag)


def _returned(cohort: onprem.Cohort) -> frozenset[int]:
    """The month an order's leased servers go back, when they do (no buyout): a month the
    cohort's live count may change."""
    f = cohort.server.financing
    if cohort.order is None or f is None or f.kind != "lease" or f.buyout_usd is not None:
        return frozenset()
    return frozenset({cohort.arrival + f.months})


def _lease_terms(model: Model, fleet: Fleet, cohort: onprem.Cohort,
                 segments: list[tuple[range, Var | float]], ordered: Var) -> None:
    """What leased servers of a cohort may do: none is sold before its lease ends; without a
    buyout they all go back when it ends (no sale proceeds, no decommissioning), and with one
    they are owned from then; one still leased at the horizon's end is not the plan's to
    value."""
    assert cohort.order is not None
    key = (cohort.site, cohort.server.name, cohort.order)
    if key not in fleet.financed or fleet.financed[key][1] != "lease":
        return
    f = cohort.server.financing
    assert f is not None
    leased = fleet.financed[key][0]
    end = cohort.arrival + f.months
    name = f"{cohort.site},{cohort.server.name},{cohort.key}"
    prev: Var | float = ordered
    for span, live in segments:
        if isinstance(live, Var) and live is not ordered:
            if span.start < end:
                model.constrain([(leased, 1.0), (live, -1.0)], LE, 0.0,
                                _n(f"lease_kept[{name},{model.label(span.start)}]"))
            elif span.start == end and f.buyout_usd is None:
                # back to the lessor: at most the servers owned stay
                model.constrain([(live, 1.0), (leased, 1.0), (prev, -1.0)], LE, 0.0,
                                _n(f"lease_returned[{name},{model.label(span.start)}]"))
        prev = live
    server, trend = cohort.server, model.plan.trends.servers
    months = model.months
    if f.buyout_usd is None and end < months and end <= cohort.end_of_life:
        # the retirement at the lease's end (or at end of life) took them out: they bring in
        # nothing and cost nothing to decommission
        tag = Tag("retire", (cohort.site, server.name, cohort.key, end))
        model.add_cost("residual_credit", end, leased,
                       onprem.sale_proceeds_usd(server, cohort.age(end), end, trend), tag)
        model.add_cost("decommission", end, leased, -onprem.decommission_usd(server), tag)
    elif end >= months and cohort.end_of_life >= months:
        model.add_cost("residual_credit", months, leased,
                       onprem.value_usd(server, cohort.age(months), months, trend),
                       Tag("held", (cohort.site, server.name, cohort.key)))


def _sell_at_start(model: Model, cohort: onprem.Cohort) -> CohortPlan:
    """A scenario without sites: servers already owned are retired in the first month."""
    why = Retired.END_OF_LIFE if cohort.end_of_life <= 0 else Retired.SOLD
    _retire(model, cohort, 0, float(cohort.count))
    return CohortPlan(cohort, [], [(0, float(cohort.count), why)], 0.0)


def first_arrival(plan: Plan, server: Server) -> int:
    """The first month a server of the type can arrive: its ``available_from`` (the plan's
    first month when it has none)."""
    return 0 if server.available_from is None else plan.offset(server.available_from)


def _retire(model: Model, cohort: onprem.Cohort, month: int, count: Expr | float | Var) -> None:
    """``count`` servers of ``cohort`` retire at the start of ``month``: what their sale
    brings in is credited and ``decommission_usd`` paid for each."""
    tag = Tag("retire", (cohort.site, cohort.server.name, cohort.key, month))
    value = onprem.sale_proceeds_usd(cohort.server, cohort.age(month), month,
                                     model.plan.trends.servers)
    model.add_cost("residual_credit", month, count, -value, tag)
    model.add_cost("decommission", month, count, onprem.decommission_usd(cohort.server), tag)


def _define_cohort(model: Model, fleet: Fleet, cohort: onprem.Cohort, every: int,
                   ends: frozenset[int]) -> CohortPlan:
    """The live count of one cohort in each stretch between its possible retirement months,
    and its cash flows."""
    server = cohort.server
    site = model.plan.site(cohort.site)
    months = model.months
    start, stop = max(cohort.arrival, 0), min(cohort.end_of_life, months)
    if stop <= start:
        # already past its end of life when the plan starts: retired in the first month
        _retire(model, cohort, 0, float(cohort.count))
        return CohortPlan(cohort, [], [(0, float(cohort.count), Retired.END_OF_LIFE)], 0.0)
    points = onprem.retirement_months(cohort, months, every, ends)
    bounds = sorted({start, *points})
    name = f"keep[{cohort.site},{server.name},{cohort.key},"
    owned: Var | float = (float(cohort.count) if cohort.order is None
                          else fleet.orders[(cohort.site, server.name, cohort.order)][0])
    segments: list[tuple[range, Var | float]] = []
    retired: list[tuple[int, Var | Expr | float, Retired]] = []
    prev = owned
    for j, first in enumerate(bounds):
        last = bounds[j + 1] if j + 1 < len(bounds) else stop
        if first in points:
            live: Var | float = model.prob.var(
                _n(f"{name}{model.label(first)}]"), 0,
                float(cohort.count) if cohort.existing else None, integer=True)
            if not isinstance(prev, float):
                model.constrain([(live, 1.0), (prev, -1.0)], LE, 0.0,
                                _n(f"keep_at_most[{cohort.site},{server.name},{cohort.key},"
                                   f"{model.label(first)}]"))
            gone = linear([(prev, 1.0), (live, -1.0)])
            _retire(model, cohort, first, gone)
            retired.append((first, gone, Retired.SOLD))
        else:
            live = prev
        segments.append((range(first, last), live))
        prev = live
    tag = Tag("fleet", (cohort.site, server.name, cohort.key))
    trends = model.plan.trends
    # its own purchase price: the type's price in the month it was ordered
    capex = (onprem.capex_usd(server) if cohort.order is None
             else onprem.new_server_usd(server, cohort.order, trends.servers))
    idle = onprem.idle_energy_usd_per_server_month(site, server)
    rates = (("colo", onprem.colo_usd_per_server_month(site, server)),
             ("maintenance", onprem.maintenance_usd_per_server_month(server, capex)),
             ("staff", onprem.staff_usd_per_server_month(site)))
    for span, live in segments:
        energy: float | tuple[float, ...] = idle if not trends.electricity else tuple(
            idle * trends.electricity_factor(m) for m in span)
        model.add_monthly_cost("energy", span, live, energy, tag)
        for category, rate in rates:
            model.add_monthly_cost(category, span, live, rate, tag)
    if cohort.order is not None:
        _lease_terms(model, fleet, cohort, segments, owned)  # type: ignore[arg-type]
    if cohort.end_of_life < months:
        _retire(model, cohort, cohort.end_of_life, prev)
        retired.append((cohort.end_of_life, prev, Retired.END_OF_LIFE))
        return CohortPlan(cohort, segments, retired, 0.0)
    # still owned at the horizon's end: credited at its value then, with no decommission cost
    value = onprem.value_usd(server, cohort.age(months), months, trends.servers)
    model.add_cost("residual_credit", months, prev, -value,
                   Tag("held", (cohort.site, server.name, cohort.key)))
    return CohortPlan(cohort, segments, retired, prev)


def define_onprem_capacity(model: Model, fleet: Fleet, cuts: Cuts) -> list[Cap]:
    """GPU-hours on owned servers ``h[w,site,server,m]`` ≤ live servers × gpus × 730 ×
    max_utilization; each used GPU-hour adds its energy above idle. A workload's use is also
    bounded by its need times the live servers (``cuts.bound_small_use``)."""
    plan = model.plan
    caps: list[Cap] = []
    if not fleet.live:
        return caps
    usage: dict[tuple[str, str, int], list[Cap]] = defaultdict(list)
    for w in plan.workloads:
        for site_name, server in model.offers[w.name].servers:
            site = plan.site(site_name)
            per_gpu_hour = onprem.energy_usd_per_used_gpu_hour(site, server)
            prefix = _n(f"h[{w.name},{site_name},{server.name},")
            for m in workload_months(plan, w):
                if model.demand[w.name][m] <= 0:
                    continue
                var = model.prob.var(f"{prefix}{model.label(m)}_", 0)
                cap = Cap(var, w.name, site_name, server.gpu, Purchase.OWNED, m,
                          w.speeds[server.gpu], server=server)
                caps.append(cap)
                usage[(site_name, server.name, m)].append(cap)
                model.add_cost("energy", m, var,
                               per_gpu_hour * plan.trends.electricity_factor(m), cap)
    for c in caps:
        assert c.server is not None
        bound_small_use(model, c, [(fleet.live[(c.venue, c.server.name, c.month)],
                                    onprem.capacity_gpu_hours_per_month(c.server))],
                        "owned_use", c.server.name, server=c.server.name)
    for (site_name, server_name, m), used in sorted(usage.items()):
        server = plan.server(server_name)
        per_server = onprem.capacity_gpu_hours_per_month(server)
        live = fleet.live[(site_name, server_name, m)]
        name = f"{site_name},{server_name},{model.label(m)}"
        row = model.constrain([*((c.var, 1.0) for c in used), (live, -per_server)],
                              LE, 0.0, _n(f"owned_capacity[{name}]"))
        group = UnitGroup(name, used, [(live, per_server)])
        cuts.unit_groups.append(group)
        if model.uses is not None:
            model.uses.owned.append((row, live, group, server_name))
    return caps


def define_site_power(model: Model, fleet: Fleet) -> list[Limit]:
    """Σ live servers × power_kw ≤ the site's power_kw, every month."""
    plan = model.plan
    most = max((z.power_kw for z in plan.onprem.servers), default=0.0)
    out = []
    for site in plan.onprem.sites:
        if site.power_kw is None:
            continue
        for m in range(model.months):
            terms = [(fleet.live[(site.name, z.name, m)], z.power_kw) for z in plan.onprem.servers
                     if (site.name, z.name, m) in fleet.live]
            if terms:
                row = model.constrain(terms, LE, site.power_kw,
                                      _n(f"site_power[{site.name},{model.label(m)}]"))
                out.append(Limit("site power", most, row))
    return out


def define_capex_budget(model: Model, fleet: Fleet) -> list[Limit]:
    """Σ capex of servers arriving in the horizon ≤ ``capex_budget_usd``."""
    budget = model.plan.plan.capex_budget_usd
    if budget is None or not fleet.orders:
        return []
    trend = model.plan.trends.servers
    terms = [(var, onprem.new_server_usd(model.plan.server(z), order, trend))
             for (_, z, order), (var, _) in fleet.orders.items()]
    # a leased server has no capex
    terms += [(var, -onprem.new_server_usd(model.plan.server(z), order, trend))
              for (_, z, order), (var, kind) in fleet.financed.items() if kind == "lease"]
    row = model.constrain(terms, LE, budget, "capex_budget")
    most = max(onprem.capex_usd(z) for z in model.plan.onprem.servers)
    return [Limit("capex budget", most, row)]
