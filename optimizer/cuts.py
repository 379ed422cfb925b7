"""Valid inequalities: rows every whole plan satisfies already, added because the LP
relaxation (the bound a solve must raise to prove a plan within its gap) would otherwise buy a
fraction of a server or a reservation. None of them changes the optimum. Some are rows from the
start; others are candidates, added when a relaxation's values break them."""

from __future__ import annotations

import math
from collections import defaultdict

from . import onprem
from .model import Model, _n, linear, terms_of, workload_months
from .plan import Server, Workload
from .program import GE, LE, Expr, Row, Var, value
from .records import Cap, CapIndex, Cuts, Fleet, SiteMonth, VenueUse

__all__ = ["add_held_cuts", "add_shortfall_cuts", "add_unit_covers", "bound_small_use",
           "define_site_shortfall_rounding", "define_whole_server_rounding", "held_cuts"]




def bound_small_use(model: Model, cap: Cap, units: list[tuple[object, float]], family: str,
                     what: str, server: str | None = None) -> None:
    """``cap ≤ Σ min(need, unit GPU-hours) × units``: a valid inequality for whole units.

    ``units`` are whole reserved instances or servers, each with the GPU-hours it holds a
    month. A workload that needs fewer GPU-hours than a unit holds still needs a whole unit to
    use any of it; the pool or site constraint alone lets the relaxation (the bound the solver
    must raise to prove a plan within the gap) rent the fraction it uses. Optimal plans are
    unaffected: no constraint ever asks one capacity variable for more than the month's need,
    and using less of a unit costs nothing more, so some optimal plan satisfies this.
    ``server``: the server type of an owned unit (its GPU-hours are that type's capacity).
    """
    most = model.demand[cap.workload][cap.month] / cap.factor
    uses = model.uses
    # a movable program keeps the row where it says nothing at this demand
    if most <= 0 or not units or (uses is None and not any(hours > most for _, hours in units)):
        return
    row = model.constrain([(cap.var, 1.0), *((unit, -min(hours, most)) for unit, hours in units)],
                          LE, 0.0,
                          f"{family}_{model.safe(cap.workload)}_{model.safe(cap.venue)}_"
                          f"{model.safe(what)}_{model.label(cap.month)}_")
    if uses is not None:
        uses.small_use.append((row, cap.var, cap.workload, cap.month, cap.factor, tuple(units),
                               max(hours for _, hours in units), server))


def add_unit_covers(model: Model, tolerance: float = 1e-6) -> int:
    """Add the rounding inequality of each unit group that the current (relaxed) values
    violate, and return how many were added.

    Take the group's capacity variables S in use now, D = the sum of their bounds (each
    workload's need that month), units of U GPU-hours each, k = floor(D / U), f = D − k·U:

        Σ_S cap ≤ (U − f)·k + f·units

    holds for every whole number of units. Up to k units, the right side is at least U·units,
    which the group's capacity row already demands; from k + 1 on, it is at least D, which S
    cannot exceed. The relaxation otherwise buys a fraction of a unit and fills it; this
    makes it pay for the unit it would round up to, or leave the fraction on demand. Groups
    whose units differ in size are skipped.
    """
    added = 0
    for group in model.cuts.unit_groups:
        sizes = {hours for _, hours in group.units}
        if len(sizes) != 1:
            continue
        size = sizes.pop()
        used = [c for c in group.caps if (c.var.varValue or 0.0) > tolerance]
        bounds = [c.var.upBound for c in used]
        if not used or any(b is None for b in bounds):
            continue
        most = sum(b or 0.0 for b in bounds)
        k = math.floor(most / size + 1e-9)
        f = most - k * size
        if f <= tolerance * size:
            continue
        units = sum(value(unit) or 0.0 for unit, _ in group.units)
        if sum(c.var.varValue or 0.0 for c in used) - f * units <= (size - f) * k + tolerance * size:
            continue
        model.cuts.covers += 1
        model.constrain([*((c.var, 1.0) for c in used), *((unit, -f) for unit, _ in group.units)],
                        LE, (size - f) * k,
                        _n(f"unit_cover[{group.name},{model.cuts.covers}]"))
        added += 1
    return added


def define_whole_server_rounding(model: Model, fleet: Fleet, use: VenueUse) -> None:
    """Valid inequalities that make the relaxation count whole servers for single-venue work.

    A ``single_venue`` workload that picks a site runs all of its month's demand there; when one
    server model serves it at that site, the site then has at least
    ``ceil(demand / (speed * gpus * 730 * max_utilization))`` live servers of that model:
    ``fleet[site,server,m] >= that * pick[w,site]``. Every whole plan satisfies this already;
    the relaxation (the warm start's bound) would otherwise buy a fraction of a server.
    """
    if model.short:
        return  # an elastic (diagnostic) run may leave demand unmet
    for w in model.plan.workloads:
        if not w.single_venue:
            continue
        by_site: dict[str, list[Server]] = defaultdict(list)
        for site_name, server in model.offers[w.name].servers:
            by_site[site_name].append(server)
        for site_name, servers in sorted(by_site.items()):
            pick = use.picks.get((w.name, site_name))
            if pick is None or len(servers) != 1:
                continue
            _servers_for(model, fleet, w, site_name, servers[0], workload_months(model.plan, w),
                         pick, f"whole_servers[{w.name},{site_name}")
    _gang_whole_servers(model, fleet, use)


def _servers_for(model: Model, fleet: Fleet, w: Workload, site: str, server: Server,
                 months: range, placed: object, name: str) -> None:
    """``fleet[site,server,m] >= ceil(need / per-server GPU-hours) × placed`` in each month of
    ``months`` where that is more servers than the site owns anyway."""
    per_server = w.speeds[server.gpu] * onprem.capacity_gpu_hours_per_month(server)
    for m in months:
        live = fleet.live.get((site, server.name, m))
        need = model.demand[w.name][m]
        if live is None or need <= 0:
            continue
        servers_needed = math.ceil(need / per_server - 1e-9)
        # a movable program keeps the row where the site owns that many anyway
        if model.uses is not None or servers_needed > fleet.existing[(site, server.name)][m]:
            row = model.constrain([(live, 1.0), (placed, -servers_needed)], GE, 0.0,
                                  _n(f"{name},{model.label(m)}]"))
            if model.uses is not None:
                model.uses.whole.append((row, placed, w.name, m,  # type: ignore[arg-type]
                                         w.speeds[server.gpu], server.name))


def _gang_whole_servers(model: Model, fleet: Fleet, use: VenueUse) -> None:
    """The same for a gang run placed at a site on a class that one server model there
    serves: ``fleet[site,server,m] >= ceil(need / per-server GPU-hours) × gang[run,site,class]``
    (the run's whole month runs on that class, at that site)."""
    servers_at: dict[tuple[str, str], list[Server]] = defaultdict(list)
    for site in model.plan.onprem.sites:
        for server in model.plan.onprem.servers:
            servers_at[(site.name, server.gpu)].append(server)
    plan = model.plan
    for (name, first), options in use.gangs.items():
        w = next(x for x in plan.workloads if x.name == name)
        run = next(r for r in plan.runs(w) if r.start == first)
        for (venue, gpu), g in options.items():
            servers = [z for site_name, z in model.offers[w.name].servers
                       if site_name == venue and z.gpu == gpu]
            if len(servers) != 1 or len(servers_at[(venue, gpu)]) != 1:
                continue
            _servers_for(model, fleet, w, venue, servers[0], run, g,
                         f"gang_servers[{w.name},{venue},{gpu}")


def define_site_shortfall_rounding(model: Model, fleet: Fleet, use: VenueUse,
                                   index: CapIndex, cuts: Cuts) -> None:
    """Valid inequalities that make the relaxation pay for the venues a site's whole servers
    leave work to; kept as candidates (``Cuts.shortfall``) and added to the program
    only where a relaxation violates them (``add_shortfall_cuts``).

    For a workload w with venue-use indicators (it stores data), a site s and a month m: let
    a be the most reference GPU-hours one server of any type w can use at s delivers in a
    month, k = ceil(need / a), F the live servers of those types at s, o the GPU-hours w gets
    elsewhere (× speed) and U the sum of its use indicators elsewhere. Then

        U + F + o / a ≥ k.

    If w uses no other venue (U = 0, so o = 0), the site alone meets its need: F ≥ need / a,
    and F is whole, so F ≥ k. Otherwise U ≥ 1, and F + o / a ≥ need / a > k − 1 because the
    site delivers at most a × F. Every whole plan satisfies it. The relaxation otherwise keeps
    a fraction of a server (5.04 where 5 would leave 216 GPU-hours over) and pays a matching
    sliver of the other venue's storage, where every whole plan pays for a sixth server or
    for the storage in full. Single-venue work has its own whole-server rounding.
    """
    if model.short:
        return  # an elastic (diagnostic) run may leave demand unmet
    plan = model.plan
    for w in plan.workloads:
        if w.single_venue or not any(k[0] == w.name for k in use.uses):
            continue
        per_venue = index.of(w.name)
        by_site: dict[str, list[Server]] = defaultdict(list)
        for site_name, server in model.offers[w.name].servers:
            by_site[site_name].append(server)
        for site_name, servers in sorted(by_site.items()):
            most = max(w.speeds[z.gpu] * onprem.capacity_gpu_hours_per_month(z) for z in servers)
            for m in workload_months(plan, w):
                need = model.demand[w.name][m]
                fleets = [fleet.live.get((site_name, z.name, m)) for z in servers]
                if need <= 0 or any(f is None for f in fleets):
                    continue
                others = [v for (v, month) in per_venue if month == m and v != site_name]
                uses = [use.uses.get((w.name, v, m)) for v in others]
                if not others or None in uses:
                    continue
                # in a fixed order (a set's would follow memory addresses)
                terms: list[tuple[object, float]] = [(u, 1.0) for u in dict.fromkeys(uses)]
                terms += [(f, 1.0) for f in fleets]
                terms += [(c.var, c.factor / most) for v in others for c in per_venue[(v, m)]]
                expr, name = linear(terms), _n(f"site_shortfall[{w.name},{site_name},"
                                               f"{model.label(m)}]")
                cuts.shortfall.append((expr, math.ceil(need / most - 1e-9), name))
                if model.uses is not None:
                    model.uses.shortfall.append((
                        expr, name, w.name, m, tuple((z.name, w.speeds[z.gpu]) for z in servers),
                        tuple((c.var, c.factor) for v in others for c in per_venue[(v, m)])))
                cuts.site_months.append(SiteMonth(
                    f"{model.safe(w.name)}_{model.safe(site_name)}_{model.label(m)}_", need,
                    tuple((f, w.speeds[z.gpu] * onprem.capacity_gpu_hours_per_month(z))
                          for f, z in zip(fleets, servers, strict=True)),
                    tuple(terms_of(per_venue.get((site_name, m), []))),
                    use.uses.get((w.name, site_name, m)),
                    tuple((u, tuple(terms_of(per_venue[(v, m)])))
                          for v, u in zip(others, uses, strict=True) if u is not None),
                    w.availability is None and not w.gang))


def add_shortfall_cuts(model: Model, tolerance: float = 1e-6) -> int:
    """Add the candidate site-shortfall inequalities that the current (relaxed) values
    violate; returns how many were added. Added only where they bind: on plans where whole
    servers leave little to other venues they would only slow every solve down."""
    kept, added = [], 0
    for expr, rhs, name in model.cuts.shortfall:
        if (expr.value() or 0.0) < rhs - tolerance:
            model.prob.add(expr, GE, rhs, name)
            added += 1
        else:
            kept.append((expr, rhs, name))
    model.cuts.shortfall = kept
    return added


def _most(term: object) -> float | None:
    """The largest value ``term`` (a variable, an expression or a number) can take within its
    variables' bounds now; None when it is unbounded."""
    if isinstance(term, Var):
        return term.upBound
    if isinstance(term, Expr):
        total = term.constant
        for var, coef in term.items():
            end = var.upBound if coef > 0 else var.lowBound
            if end is None:
                return None
            total += coef * end
        return total
    return float(term)  # type: ignore[arg-type]


def held_cuts(model: Model) -> list[tuple[Expr, int, float, str]]:
    """Valid inequalities while the fleet's bounds stay as they are now (a committed solve:
    the servers held), as ``(expression, sense, right-hand side, name)``; not valid once the
    fleet may grow again, so they are rows of one solve only (``add_held_cuts``).

    For a workload w that stores data, a site s and a month m where the most its fleet can
    deliver, C (each live server at its upper bound × the reference GPU-hours it delivers), is
    below w's need N: let x_s be w's deliveries at s, u_s its use indicator there, and x_v, u_v
    the same at every other venue v.

    - ``Σ_v u_v ≥ 1``: s cannot meet the need alone.
    - ``x_s ≤ C u_s``: s delivers nothing unused and at most C used.
    - ``x_v + x_s − (N − C) u_v ≤ C`` for each other v, when nothing asks w for more than
      N (``SiteMonth.exact``): in a plan that delivers exactly N, x_v ≤ N − x_s when v is
      used, and x_v = 0 ≤ C − x_s when it is not.

    The last two make the relaxation pay for the whole of every venue it sends the overflow
    to, and for the site's storage once the site is full, as every whole plan does; with the
    first alone, it paid a quarter of one cloud region's storage and three quarters of
    another's. Committed solves of the research lab at 0.1% that took 2–8 s take 0.1 s with
    them (benchmarks/README.md)."""
    out: list[tuple[Expr, int, float, str]] = []
    for c in model.cuts.site_months:
        ends = [_most(f) for f, _ in c.fleets]
        if any(e is None for e in ends):
            continue
        most = sum((e or 0.0) * a for e, (_, a) in zip(ends, c.fleets, strict=True))
        if most >= c.need * (1 - 1e-9) or not c.elsewhere:
            continue
        out.append((linear((u, 1.0) for u in dict.fromkeys(u for u, _ in c.elsewhere)),
                    GE, 1.0, f"site_short_{c.name}"))
        if c.use is not None:
            out.append((linear([*c.here, (c.use, -most)]), LE, 0.0, f"site_full_{c.name}"))
        if c.exact:
            for k, (u, there) in enumerate(c.elsewhere):
                out.append((linear([*there, *c.here, (u, most - c.need)]), LE, most,
                            f"overflow_{c.name}{k}"))
    return out


def add_held_cuts(model: Model) -> list[Row]:
    """Add ``held_cuts`` to the program and return the rows, for the caller to drop
    (``Program.drop``) before the fleet's bounds change."""
    return [model.prob.add(expr, sense, rhs, name) for expr, sense, rhs, name in held_cuts(model)]
