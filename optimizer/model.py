"""The mixed-integer program (SPEC sections 5, 6 and 10), built from small flat functions.

``build`` creates the variables and constraints family by family (one ``define_*`` function
each, returning early when there is nothing to add) and records every cash flow in a
``ledger.Ledger``, each entry tagged with what it pays for; the objective is the ledger
discounted to present value, and the report reads its amounts from the same entries.
Names are structured (``demand[chat-api,2027-03]``) so a written-out LP file reads like the
plan.

Units: all capacity variables are GPU-hours of one GPU class in one month; ``delivered``
expressions convert them to the workload's reference GPU-hours (× relative speed, ÷ (1 +
spot_overhead) on spot).
"""

from __future__ import annotations

import gc
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from tco.pricing.models import (
    GB_PER_TB,
    HOURS_PER_MONTH,
    Catalog,
    ComputePrice,
    Purchase,
    Tiers,
)
from tco.pricing.tiers import tiered_cost

from . import onprem
from .ledger import CATEGORIES, Ledger, Tag
from .plan import Plan, Server, Workload
from .program import EQ, GE, LE, Expr, Program, Var, value
from .venues import (
    Scenario,
    Venue,
    WorkloadOffers,
    metro_reach,
    offers_for,
    prune_dominated,
    unpriced_venues,
    usd_per_hour_paid,
    venue_table,
)

__all__ = ["CATEGORIES", "Cap", "CohortPlan", "Model", "build", "define_program", "prepare"]


_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]")
# the same replacement as a byte table, for ASCII names (every name but a few user-chosen ones):
# about eight times faster than the regular expression, and names are made for every variable
# and constraint
_ASCII_SAFE = bytes(c if re.fullmatch(r"[A-Za-z0-9_.:\-]", chr(c)) else ord("_")
                    for c in range(256))


def _n(text: object) -> str:
    """A name fragment safe for LP files: every character but ``A-Za-z0-9_.:-`` becomes ``_``.

    Character by character, so ``_n(a + b) == _n(a) + _n(b)``: loops make a name's fixed part
    safe once and append the month label (``YYYY-MM``, already safe) for each month."""
    s = str(text)
    if s.isascii():
        return s.encode("ascii").translate(_ASCII_SAFE).decode("ascii")
    return _UNSAFE.sub("_", s)


def linear(terms: Iterable[tuple[object, float]]) -> Expr:
    """Σ coefficient × term, where a term is a variable, an expression or a number.

    Accumulated in place in one expression: a sum of products through operators would make a
    temporary expression per term, which would dominate model-building time on large plans.
    Most rows are distinct variables with their coefficients; those are copied in one step.
    """
    pairs = terms if isinstance(terms, list) else list(terms)
    if all(type(term) is Var for term, _ in pairs):
        expr = Expr(pairs)
        if len(expr) == len(pairs):
            return expr
        # a variable appears twice: add its coefficients up below
    expr = Expr()
    get = expr.get
    constant = 0.0
    for term, coef in pairs:
        if type(term) is Var:
            expr[term] = get(term, 0.0) + coef
        elif type(term) is Expr:
            for var, a in term.items():
                expr[var] = get(var, 0.0) + a * coef
            constant += term.constant * coef
        else:
            constant += float(term) * coef  # type: ignore[arg-type]
    expr.constant = constant
    return expr


@dataclass(slots=True)
class Cap:
    """One capacity variable of a workload: GPU-hours of ``gpu`` at ``venue`` in ``month``."""

    var: Var
    workload: str
    venue: str
    gpu: str
    purchase: Purchase
    month: int
    factor: float                 # reference GPU-hours delivered per GPU-hour
    offer: ComputePrice | None = None
    server: Server | None = None
    # reserved use: the terms whose reservations it draws on (``purchase`` is the first)
    terms: tuple[Purchase, ...] = ()


@dataclass
class UnitGroup:
    """Capacity variables that share whole units in one month: reserved instances of one pool,
    or the servers of one model at a site. ``Σ caps ≤ Σ hours × unit``."""

    name: str
    caps: list[Cap]
    units: list[tuple[object, float]]   # (whole-number variable or fleet, GPU-hours per unit)


@dataclass
class CohortPlan:
    """One cohort of owned servers in the program: how many are live in each stretch of months
    between the months they may be retired, and how many retire when.

    ``segments`` are (months inside the horizon, live servers: a whole-number variable or a
    number); each segment after the first starts in a month where servers may be retired, and
    holds at most as many as the one before it. ``retired`` lists (month, servers retired
    then, reason) for every retirement inside the horizon, end of life included; ``held`` is
    the number still owned at the horizon's end (0 when the cohort's life ends inside it).
    """

    cohort: onprem.Cohort
    segments: list[tuple[range, Var | float]]
    retired: list[tuple[int, Expr | float, str]]
    held: Var | float


@dataclass
class Model:
    """A built program (``prob``) plus everything needed to read a solution back."""

    plan: Plan
    scenario: Scenario
    prob: Program
    venues: dict[str, Venue]
    demand: dict[str, list[float]]
    egress_gb: dict[str, list[float]]
    caps: list[Cap] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    reservations: dict[tuple[str, str, Purchase, str, int], tuple[Var, ComputePrice]] = \
        field(default_factory=dict)
    pools: dict[tuple[str, str, Purchase], list[ComputePrice]] = field(default_factory=dict)
    orders: dict[tuple[str, str, int], tuple[Var, onprem.Cohort]] = field(
        default_factory=dict)
    cohorts: list[CohortPlan] = field(default_factory=list)
    fleet: dict[tuple[str, str, int], Expr] = field(default_factory=dict)
    existing: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    offers: dict[str, WorkloadOffers] = field(default_factory=dict)
    storage_use: dict[tuple[str, str, int], Var | float] = field(default_factory=dict)
    serve: dict[tuple[str, str, int], Var] = field(default_factory=dict)
    tier_vars: list[Var] = field(default_factory=list)
    # valid inequalities not yet in the program: (expression, right-hand side (≥), name)
    shortfall_cuts: list[tuple[Expr, float, str]] = field(default_factory=list)
    # a dataset copied to a venue (workload, venue) -> indicator, where it is not a pick
    moved: dict[tuple[str, str], Var] = field(default_factory=dict)
    # each tiered cost: its segment variables, tier starts and "segment k is full" indicators
    tiered: list[tuple[list[Var], list[float], list[Var]]] = field(
        default_factory=list)
    catalog_storage: dict[str, Tiers] = field(default_factory=dict)
    catalog_egress: dict[str, Tiers] = field(default_factory=dict)
    # (venue, month) -> [(GB expression, most GB it can be, what it is)]
    egress_terms: dict[tuple[str, int], list[tuple[object, float, str]]] = field(
        default_factory=lambda: defaultdict(list))
    excluded: dict[str, dict[str, str]] = field(default_factory=dict)
    short: dict[tuple[str, int], Var] = field(default_factory=dict)
    picks: dict[tuple[str, str], Var] = field(default_factory=dict)
    unit_groups: list[UnitGroup] = field(default_factory=list)
    cuts: int = 0
    # capacity variables by workload, then (venue, month); rebuilt when caps grow
    by_workload: dict[str, dict[tuple[str, int], list[Cap]]] = field(default_factory=dict)
    indexed: int = -1
    horizon_end: int = 0
    _labels: list[str] = field(default_factory=list, init=False, repr=False)
    _discounts: list[float] = field(default_factory=list, init=False, repr=False)
    _safe: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    @property
    def months(self) -> int:
        return self.plan.plan.months

    def add_cost(self, category: str, month: int, expr: object, coef: float = 1.0,
                 tag: object = None) -> None:
        self.ledger.add(category, month, expr, coef, tag)

    def add_monthly_cost(self, category: str, months: range, var: object,
                         coef: float, tag: object = None) -> None:
        """``coef × var`` in every month of ``months`` (one entry instead of one per month)."""
        self.ledger.add_monthly(category, months, var, coef, tag)

    def constrain(self, terms: Iterable[tuple[object, float]], sense: int, rhs: float,
                  name: str) -> None:
        """Add ``Σ coefficient × term (sense) rhs``, built as one expression."""
        self.prob.add(linear(terms), sense, rhs, name)

    def need(self, workload: str, month: int) -> Expr | float:
        """Demand to meet: the demand itself, less the shortfall in an elastic (diagnostic) run."""
        demand = self.demand[workload][month]
        short = self.short.get((workload, month))
        return demand if short is None else linear([(demand, 1.0), (short, -1.0)])

    def discount(self, month: int) -> float:
        """``(1 + discount_rate) ** (-month / 12)``, made once per month."""
        factors = self._discounts
        if month >= len(factors):
            rate = self.plan.plan.discount_rate
            factors.extend((1 + rate) ** (-m / 12) for m in range(len(factors), month + 1))
        return factors[month]

    def discount_sum(self, months: range) -> float:
        """Σ discount(m) over ``months`` (a step-1 range)."""
        if not months:
            return 0.0
        self.discount(months[-1])
        return sum(self._discounts[months.start:months.stop])

    def spend(self) -> float:
        """Present value of every outflow at the variables' current values: the objective
        without the residual credit. Gaps are measured against it: a fleet's resale value
        can make the net small, or negative, while the plan's decisions are as large."""
        total = 0.0
        for category, m, term, coef, _ in self.ledger.flows:
            if category != "residual_credit":
                total += (value(term) or 0.0) * coef * self.discount(m)
        for category, months, term, coef, _ in self.ledger.recurring:
            if category != "residual_credit":
                total += (value(term) or 0.0) * coef * self.discount_sum(months)
        return total

    def label(self, month: int) -> str:
        """``YYYY-MM`` of a month offset; made once per month, as nearly every name needs one."""
        labels = self._labels
        if month < len(labels):
            return labels[month]
        return self.plan.month_label(month)

    def safe(self, text: str) -> str:
        """``_n(text)``, remembered: workload, venue and site names recur in thousands of names."""
        out = self._safe.get(text)
        if out is None:
            out = self._safe[text] = _n(text)
        return out

    def __post_init__(self) -> None:
        self._labels = [self.plan.month_label(m) for m in range(self.plan.plan.months)]


# --------------------------------------------------------------------------------------------
# demand


def workload_months(plan: Plan, w: Workload) -> range:
    return plan.window(w)


def monthly_demand(plan: Plan, w: Workload) -> list[float]:
    """Reference GPU-hours per month: training spread evenly over its window; inference
    ``gpus * (1 + growth) ** (m - first) * 730`` in each window month."""
    months = workload_months(plan, w)
    out = [0.0] * plan.plan.months
    for m in months:
        if w.kind == "training":
            out[m] = (w.gpu_hours or 0.0) / len(months)
        else:
            out[m] = (w.gpus or 0.0) * (1 + w.growth_per_month) ** (m - months.start) * HOURS_PER_MONTH
    return out


def monthly_egress_gb(plan: Plan, w: Workload) -> list[float]:
    """Internet egress per month: ``egress_tb_per_month * 1000`` growing like the GPUs."""
    months = workload_months(plan, w)
    out = [0.0] * plan.plan.months
    for m in months:
        out[m] = w.egress_tb_per_month * GB_PER_TB * (1 + w.growth_per_month) ** (
            m - months.start)
    return out


# --------------------------------------------------------------------------------------------
# build


# A shortfall costs more than any GPU-hour could; used only to explain infeasibility.
SHORTFALL_PENALTY_USD_PER_GPU_HOUR = 1e5


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector. A build makes tens of thousands of variables,
    expressions and constraints, none of which is garbage until the model is; the collector
    would walk all of them again and again (up to a sixth of the build time on the examples
    when one process builds several scenarios)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def build(plan: Plan, catalog: Catalog, scenario: Scenario, *, elastic: bool = False) -> Model:
    """Build the program of one scenario. ``elastic`` lets demand go unmet at a penalty, to
    find out which workloads and months an infeasible scenario cannot serve."""
    return define_program(prepare(plan, catalog, scenario), elastic=elastic)


def prepare(plan: Plan, catalog: Catalog, scenario: Scenario) -> Model:
    """The first half of ``build``: the scenario's venues and what each workload could buy
    there, with an empty program. Enough to rule out a scenario that cannot work
    (``scenarios.precheck``) before any variable is made."""
    with _collector_paused():
        return _prepare(plan, catalog, scenario)


def define_program(model: Model, *, elastic: bool = False) -> Model:
    """The second half of ``build``: every variable, row and the objective."""
    with _collector_paused():
        _define(model, elastic)
    return model


def _prepare(plan: Plan, catalog: Catalog, scenario: Scenario) -> Model:
    prob = Program(_n(f"tco_{scenario.name}"))
    venues = venue_table(plan, catalog, scenario)
    model = Model(plan, scenario, prob, venues,
                  demand={w.name: monthly_demand(plan, w) for w in plan.workloads},
                  egress_gb={w.name: monthly_egress_gb(plan, w) for w in plan.workloads})
    # every region's storage and egress prices, in or out of the scenario: a dataset kept in a
    # region the scenario does not use still pays that region's egress to leave it
    for s_price in catalog.storage:
        model.catalog_storage.setdefault(f"{s_price.provider}:{s_price.region}", s_price.tiers)
    for e_price in catalog.egress:
        if e_price.destination == "internet":
            model.catalog_egress.setdefault(f"{e_price.provider}:{e_price.region}", e_price.tiers)
    # the offers any workload of this scenario could buy: read once here rather than by every
    # step below (the snapshot has about 1,600)
    wanted = {g for w in plan.workloads for g in w.speeds}
    useful = replace(catalog, compute=tuple(r for r in catalog.compute_of(scenario.providers)
                                            if r.gpu in wanted))
    for v in prune_dominated(plan, useful, venues, model.catalog_storage, model.catalog_egress):
        del venues[v]
    for w in plan.workloads:
        excluded = unpriced_venues(w, venues, model.catalog_storage, model.catalog_egress)  # type: ignore[arg-type]
        model.excluded[w.name] = excluded
        offers, pools = offers_for(plan, useful, scenario, venues, w, set(excluded))
        model.offers[w.name] = offers
        model.pools.update(pools)
    return model


def _define(model: Model, elastic: bool) -> None:
    plan = model.plan
    if model.prob.vars or model.prob.rows:
        raise ValueError("define_program: the model's program is already defined")
    if elastic:
        for w in plan.workloads:
            for m in workload_months(plan, w):
                if model.demand[w.name][m] > 0:
                    model.short[(w.name, m)] = model.prob.var(
                        _n(f"short[{w.name},{model.label(m)}]"), 0, model.demand[w.name][m])
    define_cloud_capacity(model)
    define_reservations(model)
    define_onprem_fleet(model)
    define_onprem_capacity(model)
    define_site_power(model)
    define_capex_budget(model)
    define_quotas(model)
    define_demand(model)
    define_single_venue_and_storage(model)
    define_whole_server_rounding(model)
    define_site_shortfall_rounding(model)
    define_latency_and_egress(model)
    define_redundancy(model)
    define_objective(model)


def define_cloud_capacity(model: Model) -> None:
    """On-demand and spot GPU-hours: ``x[w,venue,gpu,purchase,m]``, paid per hour used."""
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
                    model.caps.append(cap)
                    model.add_cost("cloud_compute", m, var, price, cap)


def define_reservations(model: Model) -> None:
    """Whole reserved instances ``r[venue,type,term,start]``, paid every month of the term
    (past the horizon too), and per-workload use of each pool ``u[w,venue,gpu,m]``.

    A pool is every reservation of one GPU class in one region, of either term: an hour of a
    1-year reservation serves a workload exactly as an hour of a 3-year one does, so each
    workload has one use variable per pool-month and the report splits it over the terms in
    proportion to their hours that month. (A variable per term would only add columns and
    let the solver shuffle use between terms at no cost.)

    A reservation may start in the first month the pool is needed and then every
    ``cloud.commit_every_months`` months from the plan's start (the commitment cadence).
    A workload's use is also bounded by its need times the active reservations
    (``_bound_small_use``), and a reservation count by what the pool's users could fill in
    the busiest month of its term (more would pay for instances no plan can use)."""
    plan = model.plan
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
                model.caps.append(cap)
                used_pools[(venue, gpu)].append(cap)
    every = plan.cloud.commit_every_months
    for pool, caps in sorted(used_pools.items()):
        venue, gpu = pool
        first = min(c.month for c in caps)
        last = max(c.month for c in caps)
        most = [0.0] * model.months      # the pool's users' whole need, by month
        for c in caps:
            most[c.month] += model.demand[c.workload][c.month] / c.factor
        active: dict[int, list[tuple[Var, int]]] = defaultdict(list)
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
                    model.reservations[(venue, gpu, term, offer.instance_type, start)] = (var, offer)
                    paid = range(start, start + term.term_months)
                    model.add_monthly_cost("cloud_reserved", paid, var, monthly, Tag(
                        "reservation", (venue, gpu, term, offer.instance_type, start)))
                    model.horizon_end = max(model.horizon_end, paid[-1])
                    for m in range(start, min(paid.stop, model.months)):
                        active[m].append((var, hours))
        by_month: dict[int, list[Cap]] = defaultdict(list)
        for c in caps:
            by_month[c.month].append(c)
            _bound_small_use(model, c, active[c.month], "reserved_use", gpu)
        pool_name = _n(f"{venue},{gpu},")
        for m, used in sorted(by_month.items()):
            # GPU-hours used from the pool ≤ GPU-hours of the reservations active that month
            name = f"{pool_name}{model.label(m)}"
            model.constrain([*((c.var, 1.0) for c in used), *((var, -hours) for var, hours in active[m])],
                            LE, 0.0, f"reserved_pool_{name}_")
            model.unit_groups.append(UnitGroup(name, used, active[m]))


def _bound_small_use(model: Model, cap: Cap, units: list[tuple[object, float]], family: str,
                     what: str) -> None:
    """``cap ≤ Σ min(need, unit GPU-hours) × units``: a valid inequality for whole units.

    ``units`` are whole reserved instances or servers, each with the GPU-hours it holds a
    month. A workload that needs fewer GPU-hours than a unit holds still needs a whole unit to
    use any of it; the pool or site constraint alone lets the relaxation (the bound the solver
    must raise to prove a plan within the gap) rent the fraction it uses. Optimal plans are
    unaffected: no constraint ever asks one capacity variable for more than the month's need,
    and using less of a unit costs nothing more, so some optimal plan satisfies this.
    """
    most = model.demand[cap.workload][cap.month] / cap.factor
    if most <= 0 or not any(hours > most for _, hours in units):
        return
    model.constrain([(cap.var, 1.0), *((unit, -min(hours, most)) for unit, hours in units)],
                    LE, 0.0,
                    f"{family}_{model.safe(cap.workload)}_{model.safe(cap.venue)}_"
                    f"{model.safe(what)}_{model.label(cap.month)}_")


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
    for group in model.unit_groups:
        sizes = {hours for _, hours in group.units}
        if len(sizes) != 1:
            continue
        size = sizes.pop()
        used = [c for c in group.caps if (c.var.varValue or 0.0) > tolerance]
        if not used or any(c.var.upBound is None for c in used):
            continue
        most = sum(c.var.upBound for c in used)
        k = math.floor(most / size + 1e-9)
        f = most - k * size
        if f <= tolerance * size:
            continue
        units = sum(value(unit) or 0.0 for unit, _ in group.units)
        if sum(c.var.varValue or 0.0 for c in used) - f * units <= (size - f) * k + tolerance * size:
            continue
        model.cuts += 1
        model.constrain([*((c.var, 1.0) for c in used), *((unit, -f) for unit, _ in group.units)],
                        LE, (size - f) * k,
                        _n(f"unit_cover[{group.name},{model.cuts}]"))
        added += 1
    return added


def define_onprem_fleet(model: Model) -> None:
    """Owned servers by cohort (SPEC 10): servers ordered ``n[site,server,order_month]``
    (whole) and those already owned, how many of each cohort stay live between the months they
    may be retired (``keep[site,server,cohort,month]``, whole, never more than before), and
    their cash flows: capex at arrival, idle energy, colo, maintenance and staff while live,
    the value credited and ``decommission_usd`` paid at each retirement (end of life
    included), and the value of those still owned at the horizon's end.

    A scenario without sites retires every server already owned in its first month; one with
    sites chooses when."""
    plan = model.plan
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
                starts = frozenset(workload_months(plan, w).start - server.lead_time_months
                                   for w in plan.workloads)
                for order in onprem.order_months(server, model.months, every, starts):
                    cohort = onprem.bought(site.name, server, order)
                    var = model.prob.var(
                        _n(f"n[{site.name},{server.name},{model.label(order)}]"), 0,
                        integer=True)
                    model.orders[(site.name, server.name, order)] = (var, cohort)
                    model.add_cost("onprem_capex", cohort.arrival, var,
                                   onprem.capex_usd(server),
                                   Tag("order", (site.name, server.name, order)))
                    cohorts.append(cohort)
            if not cohorts:
                continue
            alive: dict[int, list[tuple[object, float]]] = defaultdict(list)
            existing_by_month = [0] * model.months
            for cohort in cohorts:
                if cohort.existing:
                    for m in range(max(0, min(model.months, cohort.end_of_life))):
                        existing_by_month[m] += cohort.count
                plan_ = (_define_cohort(model, cohort, every, ends) if with_sites
                         else _sell_at_start(model, cohort))
                model.cohorts.append(plan_)
                for months, live in plan_.segments:
                    for m in months:
                        alive[m].append((live, 1.0))
            if with_sites:
                model.existing[(site.name, server.name)] = existing_by_month
                for m in range(model.months):
                    model.fleet[(site.name, server.name, m)] = linear(alive[m])


def _sell_at_start(model: Model, cohort: onprem.Cohort) -> CohortPlan:
    """A scenario without sites: servers already owned are retired in the first month."""
    reason = "end of life" if cohort.end_of_life <= 0 else "sold"
    _retire(model, cohort, 0, float(cohort.count), reason)
    return CohortPlan(cohort, [], [(0, float(cohort.count), reason)], 0.0)


def _retire(model: Model, cohort: onprem.Cohort, month: int, count: Expr | float | Var,
            reason: str) -> None:
    """``count`` servers of ``cohort`` retire at the start of ``month``: what their sale
    brings in is credited and ``decommission_usd`` paid for each."""
    tag = Tag("retire", (cohort.site, cohort.server.name, cohort.key, month))
    value = onprem.sale_proceeds_usd(cohort.server, cohort.age(month), month)
    model.add_cost("residual_credit", month, count, -value, tag)
    model.add_cost("decommission", month, count, onprem.decommission_usd(cohort.server), tag)


def _define_cohort(model: Model, cohort: onprem.Cohort, every: int,
                   ends: frozenset[int]) -> CohortPlan:
    """The live count of one cohort in each stretch between its possible retirement months,
    and its cash flows."""
    server = cohort.server
    site = model.plan.site(cohort.site)
    months = model.months
    start, stop = max(cohort.arrival, 0), min(cohort.end_of_life, months)
    if stop <= start:
        # already past its end of life when the plan starts: retired in the first month
        _retire(model, cohort, 0, float(cohort.count), "end of life")
        return CohortPlan(cohort, [], [(0, float(cohort.count), "end of life")], 0.0)
    points = onprem.retirement_months(cohort, months, every, ends)
    bounds = sorted({start, *points})
    name = f"keep[{cohort.site},{server.name},{cohort.key},"
    owned: Var | float = (float(cohort.count) if cohort.existing
                          else model.orders[(cohort.site, server.name, cohort.order)][0])
    segments: list[tuple[range, Var | float]] = []
    retired: list[tuple[int, Expr | float, str]] = []
    prev = owned
    for j, first in enumerate(bounds):
        last = bounds[j + 1] if j + 1 < len(bounds) else stop
        if first in points:
            live = model.prob.var(_n(f"{name}{model.label(first)}]"), 0,
                                  float(cohort.count) if cohort.existing else None,
                                  integer=True)
            if not isinstance(prev, float):
                model.constrain([(live, 1.0), (prev, -1.0)], LE, 0.0,
                                _n(f"keep_at_most[{cohort.site},{server.name},{cohort.key},"
                                   f"{model.label(first)}]"))
            gone = linear([(prev, 1.0), (live, -1.0)])
            _retire(model, cohort, first, gone, "sold")
            retired.append((first, gone, "sold"))
        else:
            live = prev
        segments.append((range(first, last), live))
        prev = live
    tag = Tag("fleet", (cohort.site, server.name, cohort.key))
    capex = onprem.capex_usd(server)
    rates = (("energy", onprem.idle_energy_usd_per_server_month(site, server)),
             ("colo", onprem.colo_usd_per_server_month(site, server)),
             ("maintenance", onprem.maintenance_usd_per_server_month(server, capex)),
             ("staff", onprem.staff_usd_per_server_month(site)))
    for span, live in segments:
        for category, rate in rates:
            model.add_monthly_cost(category, span, live, rate, tag)
    if cohort.end_of_life < months:
        _retire(model, cohort, cohort.end_of_life, prev, "end of life")
        retired.append((cohort.end_of_life, prev, "end of life"))
        return CohortPlan(cohort, segments, retired, 0.0)
    # still owned at the horizon's end: credited at its value then, with no decommission cost
    value = onprem.value_usd(server, cohort.age(months), months)
    model.add_cost("residual_credit", months, prev, -value,
                   Tag("held", (cohort.site, server.name, cohort.key)))
    return CohortPlan(cohort, segments, retired, prev)


def define_onprem_capacity(model: Model) -> None:
    """GPU-hours on owned servers ``h[w,site,server,m]`` ≤ live servers × gpus × 730 ×
    max_utilization; each used GPU-hour adds its energy above idle. A workload's use is also
    bounded by its need times the live servers (``_bound_small_use``)."""
    plan = model.plan
    if not model.fleet:
        return
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
                model.caps.append(cap)
                usage[(site_name, server.name, m)].append(cap)
                model.add_cost("energy", m, var, per_gpu_hour, cap)
    for c in model.caps:
        if c.server is not None:
            _bound_small_use(model, c, [(model.fleet[(c.venue, c.server.name, c.month)],
                                         onprem.capacity_gpu_hours_per_month(c.server))],
                             "owned_use", c.server.name)
    for (site_name, server_name, m), used in sorted(usage.items()):
        server = plan.server(server_name)
        per_server = onprem.capacity_gpu_hours_per_month(server)
        fleet = model.fleet[(site_name, server_name, m)]
        name = f"{site_name},{server_name},{model.label(m)}"
        model.constrain([*((c.var, 1.0) for c in used), (fleet, -per_server)],
                        LE, 0.0, _n(f"owned_capacity[{name}]"))
        model.unit_groups.append(UnitGroup(name, used, [(fleet, per_server)]))


def define_site_power(model: Model) -> None:
    """Σ live servers × power_kw ≤ the site's power_kw, every month."""
    plan = model.plan
    for site in plan.onprem.sites:
        if site.power_kw is None:
            continue
        for m in range(model.months):
            terms = [(model.fleet[(site.name, z.name, m)], z.power_kw) for z in plan.onprem.servers
                     if (site.name, z.name, m) in model.fleet]
            if terms:
                model.constrain(terms, LE, site.power_kw,
                                _n(f"site_power[{site.name},{model.label(m)}]"))


def define_capex_budget(model: Model) -> None:
    """Σ capex of servers arriving in the horizon ≤ ``capex_budget_usd``."""
    budget = model.plan.plan.capex_budget_usd
    if budget is None or not model.orders:
        return
    model.constrain([(var, onprem.capex_usd(model.plan.server(z)))
                     for (_, z, _), (var, _) in model.orders.items()], LE, budget, "capex_budget")


def define_quotas(model: Model) -> None:
    """Concurrent GPUs of a class in a region: on-demand/spot GPU-hours / 730 + GPUs of active
    reservations ≤ ``max_gpus``."""
    for i, q in enumerate(model.plan.cloud.quotas):
        venue = f"{q.provider.value}:{q.region}"
        for m in range(model.months):
            hourly = [c.var for c in model.caps if c.venue == venue and c.gpu == q.gpu and c.month == m
                      and c.purchase in (Purchase.ON_DEMAND, Purchase.SPOT)]
            reserved = [(var, offer.gpu_count) for (v, g, term, _, start), (var, offer)
                        in model.reservations.items()
                        if v == venue and g == q.gpu and start <= m < start + term.term_months]
            if not hourly and not reserved:
                continue
            model.constrain([*((var, 1 / HOURS_PER_MONTH) for var in hourly), *reserved], LE,
                            q.max_gpus, _n(f"quota[{i},{venue},{q.gpu},{model.label(m)}]"))


def delivered(caps: Iterable[Cap]) -> Expr:
    return linear((c.var, c.factor) for c in caps)


def _terms(caps: Iterable[Cap], sign: float = 1.0) -> list[tuple[object, float]]:
    return [(c.var, sign * c.factor) for c in caps]


def define_demand(model: Model) -> None:
    """Delivered reference GPU-hours ≥ demand, for every workload and month of its window.

    Each capacity variable is also bounded by the month's demand in its own GPU-hours: no
    constraint asks one variable for more, and more never costs less, so some optimal plan
    meets the bound; given as a bound, it lets the solver derive far stronger cuts."""
    by: dict[tuple[str, int], list[Cap]] = defaultdict(list)
    for c in model.caps:
        by[(c.workload, c.month)].append(c)
        c.var.upBound = model.demand[c.workload][c.month] / c.factor
    for w in model.plan.workloads:
        prefix = _n(f"demand[{w.name},")
        for m in workload_months(model.plan, w):
            if model.demand[w.name][m] <= 0:
                continue
            model.constrain([*_terms(by.get((w.name, m), [])), (model.need(w.name, m), -1.0)],
                            GE, 0.0, f"{prefix}{model.label(m)}_")


def _venue_caps(model: Model, w: Workload) -> dict[tuple[str, int], list[Cap]]:
    """The workload's capacity variables by (venue, month)."""
    if len(model.caps) != model.indexed:
        model.by_workload = defaultdict(lambda: defaultdict(list))
        for c in model.caps:
            model.by_workload[c.workload][(c.venue, c.month)].append(c)
        model.indexed = len(model.caps)
    return model.by_workload.get(w.name, {})


def _storage_gb(w: Workload) -> float:
    return (w.dataset_tb + w.storage_tb) * GB_PER_TB


def define_single_venue_and_storage(model: Model) -> None:
    """Venue-use indicators where they matter: a ``single_venue`` workload picks one venue
    ``pick[w,v]``; storage is billed per venue used per month (``use[w,v,m]``); a dataset moved
    out of ``data_at`` pays that venue's egress once per venue it is copied to."""
    plan = model.plan
    storage_volume: dict[tuple[str, int], list[tuple[object, float]]] = defaultdict(list)
    for w in plan.workloads:
        per_venue = _venue_caps(model, w)
        venues = sorted({v for v, _ in per_venue})
        gb = _storage_gb(w)
        transfer_gb = w.dataset_tb * GB_PER_TB if w.data_at else 0.0
        if not (w.single_venue or gb > 0 or transfer_gb > 0) or not venues:
            continue
        picks: dict[str, Var] = {}
        if w.single_venue:
            for v in venues:
                picks[v] = model.prob.binary(_n(f"pick[{w.name},{v}]"))
                model.picks[(w.name, v)] = picks[v]
            model.constrain([(p, 1.0) for p in picks.values()], EQ, 1, _n(f"single_venue[{w.name}]"))
        moved: dict[str, object] = {}
        wn = model.safe(w.name)
        for (v, m), caps in sorted(per_venue.items()):
            need = model.demand[w.name][m]
            at = f"{wn}_{model.safe(v)}_{model.label(m)}_"     # _n("[w,v,m]") without "[,]"
            if w.single_venue:
                use: Var = picks[v]
            else:
                use = model.prob.binary(f"use_{at}")
            model.constrain([*_terms(caps), (use, -need)], LE, 0.0,
                            f"venue_use_{at}")
            model.storage_use[(w.name, v, m)] = use
            if gb > 0:
                venue = model.venues[v]
                if venue.site is not None:
                    model.add_cost("storage", m, use, gb / GB_PER_TB * venue.site.storage_usd_per_tb_month,
                                   Tag("storage", (v, w.name)))
                else:
                    storage_volume[(v, m)].append((use, gb))
            if transfer_gb > 0 and v != w.data_at:
                if v not in moved:
                    if w.single_venue:
                        moved[v] = picks[v]
                    else:
                        moved[v] = model.moved[(w.name, v)] = model.prob.binary(
                            _n(f"moved[{w.name},{v}]"))
                if not w.single_venue:
                    model.constrain([(moved[v], 1.0), (use, -1.0)], GE, 0.0,
                                    f"moved_if_used_{at}")
        if moved and w.data_at is not None:
            first = workload_months(plan, w).start
            _add_transfer(model, w, moved, transfer_gb, first)
    for (v, m), terms in sorted(storage_volume.items()):
        if len(terms) == 1:
            # one workload may store here this month: the volume is nothing or its whole
            # data, so the tiered price of that volume times the indicator is exact, and needs
            # no segments (which would also let the relaxation pay a lower average rate)
            use, gb = terms[0]
            model.add_cost("storage", m, use, tiered_cost(model.catalog_storage[v], gb),
                           Tag("storage", (v,)))
            continue
        volume = linear(terms)
        cost = define_tiered(model, f"storage_tier[{v},{model.label(m)}]", {v: volume},
                             {v: model.catalog_storage[v]}, sum(gb for _, gb in terms))
        model.add_cost("storage", m, cost, 1.0, Tag("storage", (v,)))


def define_whole_server_rounding(model: Model) -> None:
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
            pick = model.picks.get((w.name, site_name))
            if pick is None or len(servers) != 1:
                continue
            server = servers[0]
            per_server = w.speeds[server.gpu] * onprem.capacity_gpu_hours_per_month(server)
            for m in workload_months(model.plan, w):
                fleet = model.fleet.get((site_name, server.name, m))
                need = model.demand[w.name][m]
                if fleet is None or need <= 0:
                    continue
                servers_needed = math.ceil(need / per_server - 1e-9)
                if servers_needed > model.existing[(site_name, server.name)][m]:
                    model.constrain([(fleet, 1.0), (pick, -servers_needed)], GE, 0.0,
                                    _n(f"whole_servers[{w.name},{site_name},{model.label(m)}]"))


def define_site_shortfall_rounding(model: Model) -> None:
    """Valid inequalities that make the relaxation pay for the venues a site's whole servers
    leave work to; kept as candidates (``model.shortfall_cuts``) and added to the program
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
        if w.single_venue or not any(k[0] == w.name for k in model.storage_use):
            continue
        per_venue = _venue_caps(model, w)
        by_site: dict[str, list[Server]] = defaultdict(list)
        for site_name, server in model.offers[w.name].servers:
            by_site[site_name].append(server)
        for site_name, servers in sorted(by_site.items()):
            most = max(w.speeds[z.gpu] * onprem.capacity_gpu_hours_per_month(z) for z in servers)
            for m in workload_months(plan, w):
                need = model.demand[w.name][m]
                fleets = [model.fleet.get((site_name, z.name, m)) for z in servers]
                if need <= 0 or any(f is None for f in fleets):
                    continue
                others = [v for (v, month) in per_venue if month == m and v != site_name]
                uses = {model.storage_use.get((w.name, v, m)) for v in others}
                if not others or None in uses:
                    continue
                terms: list[tuple[object, float]] = [(u, 1.0) for u in uses]
                terms += [(f, 1.0) for f in fleets]
                terms += [(c.var, c.factor / most) for v in others for c in per_venue[(v, m)]]
                model.shortfall_cuts.append((
                    linear(terms), math.ceil(need / most - 1e-9),
                    _n(f"site_shortfall[{w.name},{site_name},{model.label(m)}]")))


def add_shortfall_cuts(model: Model, tolerance: float = 1e-6) -> int:
    """Add the candidate site-shortfall inequalities that the current (relaxed) values
    violate; returns how many were added. Added only where they bind: on plans where whole
    servers leave little to other venues they would only slow every solve down."""
    kept, added = [], 0
    for expr, rhs, name in model.shortfall_cuts:
        if (expr.value() or 0.0) < rhs - tolerance:
            model.prob.add(expr, GE, rhs, name)
            added += 1
        else:
            kept.append((expr, rhs, name))
    model.shortfall_cuts = kept
    return added


def _add_transfer(model: Model, w: Workload, moved: dict[str, object], gb: float, month: int) -> None:
    assert w.data_at is not None
    total = linear((var, gb) for var in moved.values())
    if ":" in w.data_at:
        model.egress_terms[(w.data_at, month)].append((total, gb * len(moved), f"move:{w.name}"))
    else:
        site = model.plan.site(w.data_at)
        model.add_cost("egress", month, total, site.egress_usd_per_gb, Tag("egress", (site.name,)))


def define_latency_and_egress(model: Model) -> None:
    """Latency: for every set S of a workload's metros, capacity (or served traffic) within
    reach of S ≥ share(S) × demand (Hall's condition for routing each metro's share to venues
    within ``max_latency_ms``). Egress: served GPU-hours ``serve[w,v,m]`` ≤ capacity there,
    Σ serve = demand, and egress GB = serve × egress per GPU-hour; tiered per provider-month."""
    plan = model.plan
    for w in plan.workloads:
        per_venue = _venue_caps(model, w)
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
            terms: dict[str, Expr] = {}
            if has_egress:
                serve_vars = {}
                for v in sorted(all_venues):
                    caps = per_venue.get((v, m), [])
                    if not caps:
                        continue
                    at = f"{model.safe(w.name)}_{model.safe(v)}_{model.label(m)}_"
                    s = model.prob.var(f"serve_{at}", 0, model.demand[w.name][m])
                    serve_vars[v] = s
                    model.serve[(w.name, v, m)] = s
                    model.constrain([(s, 1.0), *_terms(caps, -1.0)], LE, 0.0,
                                    f"serve_cap_{at}")
                model.constrain([*((s, 1.0) for s in serve_vars.values()), (need, -1.0)],
                                EQ, 0.0,
                                f"serve_all_{model.safe(w.name)}_{model.label(m)}_")
                gb_per_hour = model.egress_gb[w.name][m] / model.demand[w.name][m]
                for v, s in serve_vars.items():
                    venue = model.venues[v]
                    if venue.site is not None:
                        model.add_cost("egress", m, s, gb_per_hour * venue.site.egress_usd_per_gb,
                                       Tag("egress", (v,)))
                    else:
                        model.egress_terms[(v, m)].append((linear([(s, gb_per_hour)]),
                                                           model.egress_gb[w.name][m],
                                                           f"serve:{w.name}"))
                terms = {v: s for v, s in serve_vars.items()}
            else:
                terms = {v: delivered(per_venue[(v, m)]) for v in all_venues if (v, m) in per_venue}
            if not constrained:
                continue
            metros_ = sorted(reach)
            for size in range(1, len(metros_) + 1):
                for subset in itertools.combinations(metros_, size):
                    within = set().union(*(reach[u] for u in subset))
                    if within >= set(terms):
                        continue
                    share = sum(w.users[u] for u in subset)  # type: ignore[index]
                    model.constrain([*((terms[v], 1.0) for v in within if v in terms), (need, -share)],
                                    GE, 0.0,
                                    _n(f"latency[{w.name},{'+'.join(subset)},{model.label(m)}]"))
    define_egress_tiers(model)


def define_egress_tiers(model: Model) -> None:
    """Internet egress of each provider and month, priced on the tiers of its total."""
    by_provider: dict[tuple[str, int], dict[str, list[tuple[object, float, str]]]] = defaultdict(
        lambda: defaultdict(list))
    for (v, m), terms in model.egress_terms.items():
        provider = v.split(":")[0]
        by_provider[(provider, m)][v].extend(terms)
    for (provider, m), per_region in sorted(by_provider.items()):
        prices = {v: model.catalog_egress[v] for v in per_region}
        volumes = {v: linear((e, 1.0) for e, _, _ in per_region[v]) for v in prices}
        most: dict[str, float] = {}
        for terms in per_region.values():
            for _, b, what in terms:
                most[what] = max(most.get(what, 0.0), b)
        bound = sum(most.values())
        cost = define_tiered(model, f"egress_tier[{provider},{model.label(m)}]", volumes, prices,
                             bound)
        model.add_cost("egress", m, cost, 1.0, Tag("egress", (provider,)))


def define_tiered(model: Model, name: str, volumes: dict[str, object], tiers: dict[str, Tiers],
                  bound: float) -> Expr:
    """Exact cost of tiered (volume-discounted) pricing over the sum of ``volumes``.

    The total is split into segments between the union of the regions' tier starts; binary
    ``full[k]`` forces segment k to be full before segment k+1 takes anything, so the cost is
    the marginal tiered cost of the total, not an average rate. With several regions each
    segment is shared among them (``q[region,k]``) at each region's own rate.
    """
    starts = sorted({s for t in tiers.values() for s, _ in t if s < bound} | {0.0})
    widths = [(starts[k + 1] - starts[k]) if k + 1 < len(starts) else max(bound - starts[k], 0.0)
              for k in range(len(starts))]

    def rate(t: Tiers, at: float) -> float:
        return [r for s, r in t if s <= at][-1]

    if len(starts) == 1 and len({rate(t, 0.0) for t in tiers.values()}) == 1:
        # one rate over every volume that can occur: no segments needed
        return linear((volume, rate(next(iter(tiers.values())), 0.0)) for volume in volumes.values())
    name = _n(name)
    seg = [model.prob.var(f"{name}.seg{k}", 0, widths[k]) for k in range(len(starts))]
    fulls = []
    for k in range(len(starts) - 1):
        full = model.prob.binary(f"{name}.full{k}")
        model.tier_vars.append(full)
        fulls.append(full)
        model.constrain([(seg[k], 1.0), (full, -widths[k])], GE, 0.0,
                        f"{name}.fill{k}")
        model.constrain([(seg[k + 1], 1.0), (full, -widths[k + 1])], LE, 0.0,
                        f"{name}.order{k}")
    model.tiered.append((seg, starts, fulls))
    groups: dict[Tiers, list[str]] = defaultdict(list)
    for v in sorted(volumes):
        groups[tiers[v]].append(v)
    if len(groups) == 1:
        ((table, members),) = groups.items()
        model.constrain([*((x, 1.0) for x in seg), *((volumes[v], -1.0) for v in members)],
                        EQ, 0.0, f"{name}.total")
        return linear((seg[k], rate(table, starts[k])) for k in range(len(starts)))
    # regions with the same tiers share one split variable per segment
    volumes = {members[0]: linear((volumes[v], 1.0) for v in members) for members in groups.values()}
    tiers = {members[0]: table for table, members in groups.items()}
    regions_ = sorted(volumes)
    q = {(v, k): model.prob.var(_n(f"{name}.q[{v},{k}]"), 0)
         for v in regions_ for k in range(len(starts))}
    for k in range(len(starts)):
        model.constrain([*((q[(v, k)], 1.0) for v in regions_), (seg[k], -1.0)],
                        EQ, 0.0, f"{name}.split{k}")
    for v in regions_:
        model.constrain([*((q[(v, k)], 1.0) for k in range(len(starts))), (volumes[v], -1.0)],
                        EQ, 0.0, _n(f"{name}.region[{v}]"))
    return linear((q[(v, k)], rate(tiers[v], starts[k])) for v in regions_
                  for k in range(len(starts)))


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


def define_redundancy(model: Model) -> None:
    """For every domain d below the workload's availability target: non-spot capacity outside
    d ≥ demand; at level 2, outside every pair of domains. Spot never counts."""
    plan = model.plan
    for w in plan.workloads:
        if w.availability is None:
            continue
        per_venue = _venue_caps(model, w)
        domains = sorted({v for v, _ in per_venue})
        level = redundancy_level(w, [model.venues[d].availability for d in domains])
        weak = [d for d in domains if model.venues[d].availability < w.availability]
        losses: list[tuple[str, ...]] = [(d,) for d in weak]
        if level == 2:
            losses = [pair for pair in itertools.combinations(domains, 2)]
        for m in workload_months(plan, w):
            if model.demand[w.name][m] <= 0:
                continue
            need = model.need(w.name, m)
            for lost in losses:
                keep = [c for d in domains if d not in lost for c in per_venue.get((d, m), [])
                        if c.purchase != Purchase.SPOT]
                model.constrain([*_terms(keep), (need, -1.0)], GE, 0.0,
                                _n(f"survive[{w.name},{'+'.join(lost)},{model.label(m)}]"))


def define_objective(model: Model) -> None:
    """Minimize Σ over the ledger of cash flow × (1 + discount_rate) ** (-month / 12)."""
    model.prob.objective = linear([
        *model.ledger.objective(model.discount, model.discount_sum),
        *((v, SHORTFALL_PENALTY_USD_PER_GPU_HOUR) for v in model.short.values())])
