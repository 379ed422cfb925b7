"""A built program moved to another plan in place: the demand levers of SPEC 12 (``demand``,
``demand.<workload>``, ``mfu``, ``throughput``), ``utilization``, the discount rate and the
trends, without a new build.

The discount rate enters the objective alone: every cost is a ledger entry paid in a month,
discounted when the objective is made from the ledger.

A workload's monthly demand D (reference GPU-hours) enters a program in a few ways, each
recorded by a movable build (``build.prepare(movable=True)``, ``records.DemandUses``):

- linearly: the need on the right of the demand, serving, latency and survival rows; the
  upper bound of each capacity and serving variable; the big-M of a venue-use or gang
  indicator;
- as D / its own GPU-hours in the valid inequalities for whole units: the bound on a
  workload's use of reserved instances or servers (``min(hours, D / factor)``), the whole
  servers a placed workload needs (``ceil(D / per server)``), the site-shortfall candidates,
  and the most reservations or blocks a pool's users could fill;
- as egress GB / D: a served GPU-hour's egress, in the egress tiers and their costs; and
  the egress GB themselves (which the demand levers move with a service's demand), in the
  width of each segment of a provider-month's egress tiers: a movable build keeps every
  tier, 0 wide beyond the most egress the month can have.

Rows, columns and their order do not move, as long as the months with demand stay the same
and no gang changes between one node and several (``movable``): a movable build keeps the
valid inequalities that say nothing at its demand, so a build at any demand has the same
rows. The cuts a solve added past the build (unit covers, site-shortfall rows) assume the
demand they were found at: a move drops them. The tests build each example at lever values
and compare the program with the moved one, coefficient by coefficient.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace

from .build import define_objective
from .model import Model, linear, monthly_demand, monthly_egress_gb
from .onprem import capacity_gpu_hours_per_month
from .plan import Plan
from .program import Expr, Row, Var
from .records import SiteMonth
from .reprice import retrend
from .solver import HighsSession

__all__ = ["demand_differs", "movable", "move_demand", "move_plan", "utilization_differs"]


def movable(model: Model, plan: Plan) -> bool:
    """Whether ``model``'s program can move to ``plan`` in place: the same plan but for its
    discount rate, trends, workloads' demand and egress and servers' ``max_utilization``;
    where demand, egress or utilization differs, a program built movable, the same months
    with demand, and no gang that runs on one node in one and on several in the other."""
    old = model.plan
    if plan is old:
        return True
    if [w.name for w in plan.workloads] != [w.name for w in old.workloads] or [
            z.name for z in plan.onprem.servers] != [z.name for z in old.onprem.servers]:
        return False
    same = replace(
        plan, plan=replace(plan.plan, discount_rate=old.plan.discount_rate), trends=old.trends,
        workloads=tuple(replace(w, gpus=o.gpus, gpu_hours=o.gpu_hours,
                                egress_tb_per_month=o.egress_tb_per_month)
                        for w, o in zip(plan.workloads, old.workloads, strict=True)),
        onprem=replace(plan.onprem, servers=tuple(
            replace(z, max_utilization=o.max_utilization)
            for z, o in zip(plan.onprem.servers, old.onprem.servers, strict=True))))
    if same != old:
        return False
    if not (demand_differs(old, plan) or utilization_differs(old, plan)):
        return True
    if model.uses is None:
        return False
    for w, o in zip(plan.workloads, old.workloads, strict=True):
        before = model.demand[w.name]
        after = monthly_demand(plan, w)
        if any((a > 0) != (b > 0) for a, b in zip(before, after, strict=True)):
            return False
        if any(plan.multi_node(w, g) != old.multi_node(o, g) for g in w.speeds):
            return False
    return True


def demand_differs(old: Plan, plan: Plan) -> bool:
    """Whether some workload of ``plan`` has other GPUs, GPU-hours or egress than in
    ``old`` (the same workloads, in the same order)."""
    return any((w.gpus, w.gpu_hours, w.egress_tb_per_month)
               != (o.gpus, o.gpu_hours, o.egress_tb_per_month)
               for w, o in zip(plan.workloads, old.workloads, strict=True))


def utilization_differs(old: Plan, plan: Plan) -> bool:
    """Whether some server type of ``plan`` has another ``max_utilization`` than in
    ``old`` (the same types, in the same order)."""
    return any(z.max_utilization != o.max_utilization
               for z, o in zip(plan.onprem.servers, old.onprem.servers, strict=True))


def move_plan(model: Model, plan: Plan) -> None:
    """Move ``model``'s program to ``plan`` in place (``movable`` must hold): its rows,
    bounds and costs, and the solver's copy of them; ``model.plan`` becomes ``plan``. Another
    discount rate moves the objective alone (every cost is a ledger entry discounted by its
    month); other trends, the ledger's entries and the capex budget (``reprice.retrend``);
    other demand or utilization, what reads them (``move_demand``)."""
    if not movable(model, plan):
        raise ValueError("move_plan: the program cannot move to this plan in place")
    costs = plan.plan.discount_rate != model.plan.plan.discount_rate
    moved: list[tuple[Row, Var]] = []
    if plan.trends != model.plan.trends:
        moved = retrend(model, plan.trends)
        costs = True
    if demand_differs(model.plan, plan) or utilization_differs(model.plan, plan):
        costs = move_demand(model, plan) or costs
    model.rediscount(plan)
    session = model.prob.highs
    if isinstance(session, HighsSession):
        session.change_rows([], moved)
    if costs:
        define_objective(model)
        if isinstance(session, HighsSession):
            session.set_costs(model.prob)


def move_demand(model: Model, plan: Plan) -> bool:
    """Move ``model``'s program (built movable) to the demand and server utilization of
    ``plan`` in place: its rows, bounds and the egress in its ledger, and the solver's copy
    of the rows and bounds. Returns whether the ledger moved (its objective is then to be
    made again)."""
    uses = model.uses
    if uses is None:
        raise ValueError("move_demand: the program was not built movable")
    prob = model.prob
    prob.drop(prob.rows[uses.rows_built:])     # cuts found at the old demand
    model.cuts.covers = 0
    model.relaxed_bound = None
    _read_egress(model)
    before = model.demand
    demand = {w.name: monthly_demand(plan, w) for w in plan.workloads}
    model.demand = demand
    model.egress_gb = {w.name: monthly_egress_gb(plan, w) for w in plan.workloads}
    was = {z.name: capacity_gpu_hours_per_month(z) for z in model.plan.onprem.servers}
    capacity = {z.name: capacity_gpu_hours_per_month(z) for z in plan.onprem.servers}
    if capacity != was:
        servers = {z.name: z for z in plan.onprem.servers}
        for held in model.caps:
            if held.server is not None:
                held.server = servers[held.server.name]

    rows: dict[int, Row] = {}
    coefs: dict[tuple[int, int], tuple[Row, Var]] = {}

    def coef(row: Row, var: Var, x: float) -> None:
        row.expr[var] = x
        coefs[(id(row), id(var))] = (row, var)

    def terms(row: Row, expr: Expr) -> None:
        """``expr`` (the row's terms, a few of them moved) as the row."""
        row.expr.update(expr)
        row.constant = expr.constant
        rows[id(row)] = row
        for var in expr:
            coefs[(id(row), id(var))] = (row, var)

    for var, w, m, a in uses.bounds:
        var.upBound = a * demand[w][m]
    for row, w, m, a in uses.constants:
        row.constant = a * demand[w][m]
        rows[id(row)] = row
    for row, var, w, m, a in uses.coefs:
        coef(row, var, a * demand[w][m])
    for row, cap, w, m, factor, units, top, server in uses.small_use:
        most, most_was = demand[w][m] / factor, before[w][m] / factor
        if server is not None:
            ((unit, _),) = units
            if min(capacity[server], most) != min(was[server], most_was):
                terms(row, linear([(cap, 1.0), (unit, -min(capacity[server], most))]))
            continue
        if most >= top and most_was >= top:
            continue            # every unit's full GPU-hours, before and after
        for unit, hours in units:
            if hours > most or hours > most_was:
                coef(row, unit, -min(hours, most))  # type: ignore[arg-type]
    for row, placed, w, m, speed, server in uses.whole:
        count = -float(math.ceil(demand[w][m] / (speed * capacity[server]) - 1e-9))
        if row.expr[placed] != count:
            coef(row, placed, count)
    for row, live, group, server in uses.owned:
        if capacity[server] != was[server]:
            group.units = [(live, capacity[server])]
            terms(row, linear([*((v, c) for v, c in row.expr.items() if v is not live
                                 and not (isinstance(live, Expr) and v in live)),
                               (live, -capacity[server])]))
    for caps, whole in uses.pools:
        need: dict[int, float] = defaultdict(float)
        for w, m, factor in caps:
            need[m] += demand[w][m] / factor
        for var, start, span, hours in whole:
            peak = max((need.get(m, 0.0) for m in range(start, start + span)), default=0.0)
            var.upBound = math.ceil(peak / hours - 1e-9)
    shortfall: list[tuple[Expr, float, str]] = []
    site_months: list[SiteMonth] = []
    for (expr, name, w, m, servers_, others), c in zip(uses.shortfall, model.cuts.site_months,
                                                      strict=True):
        most = max(speed * capacity[z] for z, speed in servers_)
        if most != max(speed * was[z] for z, speed in servers_):
            for var, factor in others:
                expr[var] = factor / most
        shortfall.append((expr, math.ceil(demand[w][m] / most - 1e-9), name))
        site_months.append(replace(c, need=demand[w][m], fleets=tuple(
            (f, speed * capacity[z]) for (f, _), (z, speed) in zip(c.fleets, servers_,
                                                                   strict=True))))
    model.cuts.shortfall, model.cuts.site_months = shortfall, site_months
    for segments, fixed, month, served in uses.egress_tiers:
        # the most egress the month's tiers carry moved with the egress: so do the widths
        # of their segments
        most = fixed + sum(model.egress_gb[w][month] for w in served)
        for seg, begins, ends, own, previous in segments:
            width = max(min(ends, most) - begins, 0.0)
            seg.upBound = width
            for at in (own, previous):
                if at is not None:
                    coef(at[0], at[1], -width)
    if uses.egress_rows or uses.egress_flows:
        per_hour = {(w, m): model.egress_gb[w][m] / demand[w][m] for _, w, m in uses.serve}
        for row, var, w, m, k in uses.egress_rows:
            coef(row, var, k * per_hour[(w, m)])
        flows = model.ledger.flows
        for i, var, w, m, k in uses.egress_flows:
            category, month, term, _, tag = flows[i]
            if isinstance(term, Expr):
                term[var] = k * per_hour[(w, m)]
            else:
                flows[i] = (category, month, term, k * per_hour[(w, m)], tag)
    session = prob.highs
    if isinstance(session, HighsSession):
        session.change_rows(list(rows.values()), list(coefs.values()))
    return bool(uses.egress_flows)


def _read_egress(model: Model) -> None:
    """Find, once, the egress coefficients of the serving variables in the program as built:
    in a row outside their serving rows, or in a ledger entry; each over egress GB / D at the
    demand it was built at."""
    uses = model.uses
    assert uses is not None
    if uses.egress_read:
        return
    uses.egress_read = True
    serve = {id(var): (w, m) for var, w, m in uses.serve}
    per_hour = {(w, m): model.egress_gb[w][m] / model.demand[w][m] for _, w, m in uses.serve}

    def scaled(var: object, c: float) -> tuple[str, int, float] | None:
        hit = serve.get(id(var))
        if hit is None or not per_hour[hit]:
            return None
        return hit[0], hit[1], c / per_hour[hit]

    for row in model.prob.rows[:uses.rows_built]:
        if id(row) not in uses.serving:
            for var, c in row.expr.items():
                if (found := scaled(var, c)) is not None:
                    uses.egress_rows.append((row, var, *found))
    for i, (_, _, term, c, _) in enumerate(model.ledger.flows):
        if isinstance(term, Var):
            if (found := scaled(term, c)) is not None:
                uses.egress_flows.append((i, term, *found))
        elif isinstance(term, Expr):
            for var, a in term.items():
                if (found := scaled(var, a)) is not None:
                    uses.egress_flows.append((i, var, *found))
