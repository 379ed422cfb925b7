"""A solved model read back as a report (``ScenarioResult``), every amount from the ledger.

Each ledger entry is evaluated once, at the solution; the breakdown and the cash flows are
its sums by category and month, and the tables attribute the same amounts by their tags:
a capacity variable's own price to its allocation row, a reservation's fees to its pool, a
cohort's running costs to its site and server type, an order's capex to procurement, a
retirement's credit and decommissioning cost to the retirements table. Nothing is priced
again here; shares (an allocation's part of a pool or a fleet) divide ledger amounts by
hours used.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tco.pricing.models import HOURS_PER_DAY, HOURS_PER_MONTH, Purchase

from . import onprem
from .ledger import CATEGORIES, Tag, monthly
from .model import Model
from .onprem import Cohort, Retired
from .program import value
from .records import Cap
from .result import (
    Allocation,
    CashFlow,
    Commitment,
    Decisions,
    PricePath,
    Procurement,
    Retirement,
    ScenarioResult,
    Traffic,
    VenueCost,
)
from .solver import SolveInfo
from .venues import usd_per_hour_paid

RETURNED = "lease ended"     # a Retirement's reason for leased servers going back

_EPS = 1e-6


def _val(expr: object) -> float:
    v = value(expr)
    return 0.0 if v is None else v


def _clean(v: float) -> float:
    return 0.0 if abs(v) < 1e-7 else v


@dataclass
class _Amounts:
    """The ledger evaluated at the solution: by (category, month), by capacity variable and
    by tag and month."""

    by_month: dict[tuple[str, int], float] = field(default_factory=lambda: defaultdict(float))
    by_cap: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    by_tag: dict[tuple[Tag, str, int], float] = field(default_factory=lambda: defaultdict(float))


def _amounts(model: Model) -> _Amounts:
    out = _Amounts()
    ledger = model.ledger
    for category, m, term, coef, tag in ledger.flows:
        amount = _val(term) * coef
        out.by_month[(category, m)] += amount
        if type(tag) is Cap:
            out.by_cap[id(tag)] += amount
        elif tag is not None:
            out.by_tag[(tag, category, m)] += amount  # type: ignore[index]
    for category, months, term, rates, tag in ledger.recurring:
        level = _val(term)
        if level == 0:
            continue
        for i, m in enumerate(months):
            amount = level * monthly(rates, i)
            out.by_month[(category, m)] += amount
            if tag is not None:
                out.by_tag[(tag, category, m)] += amount  # type: ignore[index]
    return out


def extract(model: Model, info: SolveInfo, notes: tuple[str, ...] = ()) -> ScenarioResult:
    """The report of a solved scenario."""
    name = model.scenario.name
    amounts = _amounts(model)
    breakdown = dict.fromkeys(CATEGORIES, 0.0)
    breakdown_npv = dict.fromkeys(CATEGORIES, 0.0)
    flows = []
    for (category, m), amount in sorted(amounts.by_month.items(), key=lambda kv: (kv[0][1],
                                                                                  kv[0][0])):
        npv = amount * model.discount(m)
        breakdown[category] += amount
        breakdown_npv[category] += npv
        if abs(amount) >= 0.005:
            flows.append(CashFlow(name, model.plan.month_label(m), category, amount, npv))
    breakdown = {k: _clean(v) for k, v in breakdown.items()}
    breakdown_npv = {k: _clean(v) for k, v in breakdown_npv.items()}
    total = sum(breakdown.values())
    npv_total = sum(breakdown_npv.values())
    capex = breakdown["onprem_capex"]
    opex = total - capex - breakdown["residual_credit"]
    gpu_hours = sum(sum(d) for d in model.demand.values())
    commitments, commit_notes = _commitments(model, amounts)
    allocations = _allocations(model, amounts)
    notes = (*notes, *commit_notes, *_held_back(model), *_split_runs(model, allocations))
    return ScenarioResult(
        name, True, None, npv_usd=npv_total, total_usd=total, capex_usd=capex, opex_usd=opex,
        breakdown=breakdown, breakdown_npv=breakdown_npv, gpu_hours=gpu_hours,
        allocations=tuple(allocations), venues=tuple(_venues(model, amounts, allocations)),
        procurement=tuple(_procurement(model, amounts)),
        commitments=tuple(commitments), retirements=tuple(_retirements(model, amounts)),
        cash_flows=tuple(flows), price_paths=tuple(_price_paths(model)), solver=info,
        notes=notes, decisions=decisions_of(model),
        values=tuple((v.name, v.varValue) for v in model.prob.vars if v.varValue),
        traffic=tuple(_traffic(model)))


def _split_runs(model: Model, allocations: list[Allocation]) -> list[str]:
    """A note for each training workload that is neither a gang nor interruptible and that the
    plan splits across venues or GPU classes within a run (SPEC 17): fluid GPU-hours are a
    pool of independent jobs, and a single run cannot be split so."""
    plan = model.plan
    out = []
    for i, w in enumerate(plan.workloads):
        if not w.training or w.gang or w.interruptible:
            continue
        for run in plan.runs(w):
            labels = {model.label(m) for m in run}
            used = {(a.venue, a.gpu) for a in allocations
                    if a.workload == w.name and a.month in labels and a.gpu_hours > 0.5}
            venues = sorted({v for v, _ in used})
            classes = sorted({g for _, g in used})
            if len(venues) < 2 and len(classes) < 2:
                continue
            span = model.label(run.start) + (
                f"..{model.label(run.stop - 1)}" if len(run) > 1 else "")
            out.append(f"{w.name} ({span}) runs on {len(venues)} venue(s) "
                       f"({', '.join(venues)}) and {len(classes)} GPU class(es) "
                       f"({', '.join(classes)}): as fluid GPU-hours it is a pool of independent "
                       f"jobs; if it is one training run, add gang = true to workloads[{i}]")
            break
    return out


def _traffic(model: Model) -> list[Traffic]:
    """For each workload with internet egress, month and venue: the demand served there
    (``serve[w,v,m]``, reference GPU-hours) and the egress GB it sends, the month's egress
    times the share of its demand served there (what the ledger's egress is priced on)."""
    name = model.scenario.name
    out = []
    for (workload, venue, m), var in model.service.serve.items():
        served = _val(var)
        demand = model.demand[workload][m]
        if served <= _EPS * max(1.0, demand):
            continue
        out.append(Traffic(name, workload, model.label(m), venue, served,
                           served * model.egress_gb[workload][m] / demand))
    out.sort(key=lambda t: (t.workload, t.month, t.venue))
    return out


def _venues(model: Model, amounts: _Amounts, allocations: list[Allocation]) -> list[VenueCost]:
    """Each venue's GPU-hours, running cost and all-in cost (``VenueCost``), from the ledger:
    the running cost is every amount of its hours (on-demand and spot, every reservation fee
    whether its hours were used or not, an owned fleet's running costs in every month, used
    or idle); the all-in cost adds at a site the amounts tagged to its servers' orders (and
    their leases and loans), retirements and value held at the end, and the start value of
    the servers it already owned."""
    hours: dict[str, float] = defaultdict(float)
    for a in allocations:
        hours[a.venue] += a.gpu_hours
    running: dict[str, float] = defaultdict(float)
    for c in model.caps:
        running[c.venue] += amounts.by_cap.get(id(c), 0.0)
    assets: dict[str, float] = defaultdict(float)
    for (tag, _, _), amount in amounts.by_tag.items():
        if tag.kind in ("reservation", "fleet"):
            running[str(tag.key[0])] += amount
        elif tag.kind in ("order", "retire", "held", "financing"):
            assets[str(tag.key[0])] += amount
    trend = model.plan.trends.servers
    for plan_ in model.fleet.cohorts:
        co = plan_.cohort
        if co.existing:
            net = (onprem.sale_proceeds_usd(co.server, co.age(0), 0, trend)
                   - onprem.decommission_usd(co.server))
            assets[co.site] += co.count * net
    name = model.scenario.name
    venues = {v for v in (*hours, *running, *assets)
              if hours.get(v, 0.0) > 0 or abs(running.get(v, 0.0)) > 0.005
              or abs(assets.get(v, 0.0)) > 0.005}
    return [VenueCost(name, v, hours.get(v, 0.0), running.get(v, 0.0),
                      running.get(v, 0.0) + assets.get(v, 0.0)) for v in sorted(venues)]


def _held_back(model: Model) -> list[str]:
    """A server type the plan could use, that ``available_from`` keeps from arriving before a
    month inside the horizon."""
    plan = model.plan
    if not model.scenario.sites:
        return []
    out = []
    for z in plan.onprem.servers:
        usable = any(z.gpu in w.speeds for w in plan.workloads)
        if usable and z.available_from is not None and plan.offset(z.available_from) > 0:
            when = ("inside the horizon" if plan.offset(z.available_from) < model.months
                    else "after the horizon: it was never ordered")
            out.append(f"{z.name} could arrive no earlier than {z.available_from} "
                       f"(available_from), {when}")
    return out


def _price_paths(model: Model) -> list[PricePath]:
    """The first and last month's price of what the plan buys, read from the ledger's
    coefficients (when some price moves over time)."""
    plan = model.plan
    if plan.trends.flat:
        return []
    name = model.scenario.name
    seen: dict[str, tuple[str, int, float, int, float]] = {}

    def see(item: str, unit: str, month: int, price: float) -> None:
        old = seen.get(item)
        if old is None:
            seen[item] = (unit, month, price, month, price)
            return
        _, m0, p0, m1, p1 = old
        if month < m0:
            m0, p0 = month, price
        if month > m1:
            m1, p1 = month, price
        seen[item] = (unit, m0, p0, m1, p1)

    for _, m, term, coef, tag in model.ledger.flows:
        if type(tag) is Cap and tag.offer is not None and _val(term) > _EPS:
            offer = tag.offer
            see(f"{offer.provider}:{offer.region} {offer.instance_type} {tag.purchase.value}",
                "USD per instance-hour", m, coef * offer.gpu_count)
        elif isinstance(tag, Tag) and tag.kind == "order" and _val(term) > 0.5:
            see(f"server {tag.key[1]}", "USD per server ordered", int(str(tag.key[2])), coef)
    for (venue, gpu, term_, itype, start), (var, offer) in model.reserved.reservations.items():
        if _val(var) > 0.5:
            factor = 1.0 if term_ == Purchase.QUOTE else plan.trends.cloud_factor(gpu, start)
            fee = factor * offer.usd_per_hour
            see(f"{venue} {itype} {term_.value}", "USD per instance-hour (list, locked)",
                start, fee)
    for site in plan.onprem.sites:
        if any(c.cohort.site == site.name and c.segments for c in model.fleet.cohorts):
            rate = site.electricity_usd_per_kwh
            see(f"electricity at {site.name}", "USD per kWh", 0, rate)
            see(f"electricity at {site.name}", "USD per kWh", model.months - 1,
                rate * plan.trends.electricity_factor(model.months - 1))
    return [PricePath(name, item, unit, plan.month_label(m0), p0, plan.month_label(m1), p1)
            for item, (unit, m0, p0, m1, p1) in sorted(seen.items())]


def decisions_of(model: Model) -> Decisions:
    """The solved model's first-stage decisions: orders, retirements before end of life (and
    those forced on a scenario without sites), reservations."""
    orders = {key: round(_val(var)) for key, (var, _) in model.fleet.orders.items()}
    financed = {key: round(_val(var)) for key, (var, _) in model.fleet.financed.items()}
    reservations = {(v, g, t.value, it, s): round(_val(var))
                    for (v, g, t, it, s), (var, _) in model.reserved.reservations.items()}
    retirements = {}
    for plan_ in model.fleet.cohorts:
        c = plan_.cohort
        for month, gone, why in plan_.retired:
            if why == Retired.SOLD:
                retirements[(c.site, c.server.name, c.key, month)] = round(_val(gone))
    return Decisions(tuple(sorted((k, n) for k, n in orders.items() if n)),
                     tuple(sorted((k, n) for k, n in retirements.items() if n)),
                     tuple(sorted((k, n) for k, n in reservations.items() if n)),
                     tuple(sorted((k, n) for k, n in financed.items() if n)))


def _tag_total(amounts: _Amounts, tag: Tag, category: str, month: int) -> float:
    return amounts.by_tag.get((tag, category, month), 0.0)


def _allocations(model: Model, amounts: _Amounts) -> list[Allocation]:
    name = model.scenario.name
    # reserved pools (one GPU class in one region, both terms): each term's fees that month,
    # from the ledger, and the GPU-hours its active reservations hold
    pool_fee: dict[tuple[str, str, Purchase, int], float] = defaultdict(float)
    pool_hours: dict[tuple[str, str, Purchase, int], float] = defaultdict(float)
    pool_types: dict[tuple[str, str, Purchase, int], set[str]] = defaultdict(set)
    for (venue, gpu, term, itype, start), (var, offer) in model.reserved.reservations.items():
        count = round(_val(var))
        if count <= 0:
            continue
        tag = Tag("reservation", (venue, gpu, term, itype, start))
        for m in range(max(start, 0), min(start + offer.term_months, model.months)):
            pool_fee[(venue, gpu, term, m)] += _tag_total(amounts, tag, "cloud_reserved", m)
            unit = HOURS_PER_DAY if term == Purchase.CAPACITY_BLOCK else HOURS_PER_MONTH
            pool_hours[(venue, gpu, term, m)] += count * offer.gpu_count * unit
            pool_types[(venue, gpu, term, m)].add(itype)
    # owned fleets: the month's running costs of a server type at a site (every cohort's, from
    # the ledger) plus the energy above idle of the hours used, shared by the hours used
    fleet_cost: dict[tuple[str, str, int], float] = defaultdict(float)
    fleet_used: dict[tuple[str, str, int], float] = defaultdict(float)
    for c in model.caps:
        if c.purchase == Purchase.OWNED and c.server is not None:
            key = (c.venue, c.server.name, c.month)
            fleet_used[key] += _val(c.var)
            fleet_cost[key] += amounts.by_cap.get(id(c), 0.0)
    for plan_ in model.fleet.cohorts:
        co = plan_.cohort
        tag = Tag("fleet", (co.site, co.server.name, co.key))
        for span, _ in plan_.segments:
            for m in span:
                for category in ("energy", "colo", "maintenance", "staff"):
                    fleet_cost[(co.site, co.server.name, m)] += _tag_total(amounts, tag,
                                                                           category, m)
    out = []
    for c in model.caps:
        hours = _val(c.var)
        if hours <= _EPS * max(1.0, model.demand[c.workload][c.month]):
            continue
        place = model.venues[c.venue]
        rows: list[tuple[str, Purchase, float, float]] = []   # instance, purchase, hours, cost
        if c.purchase in (Purchase.ON_DEMAND, Purchase.SPOT):
            assert c.offer is not None
            rows.append((c.offer.instance_type, c.purchase, hours, amounts.by_cap.get(id(c), 0.0)))
        elif c.purchase == Purchase.OWNED:
            assert c.server is not None
            key = (c.venue, c.server.name, c.month)
            rows.append((c.server.name, c.purchase, hours,
                         fleet_cost[key] * hours / fleet_used[key] if fleet_used[key] > 0 else 0.0))
        else:
            # the pool's hours are shared by its terms: each term's row carries its share of
            # the hours and the same share of its fee (the pool's average cost per hour)
            keys = [(c.venue, c.gpu, term, c.month) for term in c.terms or (c.purchase,)]
            held = sum(pool_hours[k] for k in keys)
            for k in keys:
                if pool_hours[k] > 0:
                    rows.append(("+".join(sorted(pool_types[k])), k[2],
                                 hours * pool_hours[k] / held, pool_fee[k] * hours / held))
            if not rows:
                rows.append(("-", c.purchase, hours, 0.0))
        for itype, purchase, part, cost in rows:
            out.append(Allocation(name, c.workload, model.label(c.month), c.venue,
                                  place.provider, place.region, itype, c.gpu, purchase.value,
                                  round(part, 4), round(cost, 2)))
    out.sort(key=lambda a: (a.workload, a.month, a.venue, a.purchase))
    return out


def _procurement(model: Model, amounts: _Amounts) -> list[Procurement]:
    out = []
    for (site, server_name, order), (var, cohort) in sorted(model.fleet.orders.items()):
        count = round(_val(var))
        if count <= 0:
            continue
        capex = _tag_total(amounts, Tag("order", (site, server_name, order)), "onprem_capex",
                           cohort.arrival)
        financed = model.fleet.financed.get((site, server_name, order))
        n = 0 if financed is None else round(_val(financed[0]))
        kind = None if financed is None else financed[1]
        out.append(Procurement(model.scenario.name, site, server_name, model.label(order),
                               model.label(cohort.arrival), count, round(capex, 2),
                               n if kind == "lease" else 0, n if kind == "loan" else 0))
    return out


def _returned_at(model: Model, cohort: Cohort) -> tuple[int, int] | None:
    """(month, servers) when leased servers of an ordered cohort go back to the lessor inside
    the horizon (a lease without buyout); None otherwise."""
    f = cohort.server.financing
    if cohort.order is None or f is None or f.kind != "lease" or f.buyout_usd is not None:
        return None
    financed = model.fleet.financed.get((cohort.site, cohort.server.name, cohort.order))
    end = cohort.arrival + f.months
    if financed is None or end >= model.months:
        return None
    return end, round(_val(financed[0]))


def _retirements(model: Model, amounts: _Amounts) -> list[Retirement]:
    out = []
    for plan_ in model.fleet.cohorts:
        c = plan_.cohort
        back = _returned_at(model, c)
        for month, gone, why in plan_.retired:
            count = round(_val(gone))
            if back is not None and back[0] == month and back[1] > 0:
                # the leased servers go back: no sale, no proceeds, no decommissioning
                out.append(Retirement(
                    model.scenario.name, c.site, c.server.name, _cohort_label(model, c.key),
                    model.plan.month_label(month), c.age(month), back[1], RETURNED, 0.0, 0.0))
                count -= back[1]
            if count <= 0:
                continue
            tag = Tag("retire", (c.site, c.server.name, c.key, month))
            out.append(Retirement(
                model.scenario.name, c.site, c.server.name, _cohort_label(model, c.key),
                model.plan.month_label(month), c.age(month), count, why.value,
                round(-_tag_total(amounts, tag, "residual_credit", month), 2),
                round(_tag_total(amounts, tag, "decommission", month), 2)))
    out.sort(key=lambda r: (r.month, r.site, r.server, r.cohort))
    return out


def _cohort_label(model: Model, key: str) -> str:
    """``existing[i]`` as it is; ``ordered[<month index>]`` with its month label."""
    if key.startswith("ordered["):
        return f"ordered[{model.plan.month_label(int(key[8:-1]))}]"
    return key


def _commitments(model: Model, amounts: _Amounts) -> tuple[list[Commitment], list[str]]:
    out, notes = [], []
    for (venue, gpu, term, itype, start), (var, offer) in sorted(
            model.reserved.reservations.items(), key=lambda kv: (kv[0][4], kv[0][0], kv[0][3])):
        count = round(_val(var))
        if count <= 0:
            continue
        end = start + offer.term_months - 1
        past = max(0, end - (model.months - 1))
        if term == Purchase.QUOTE:
            # a quote: its GPUs, its monthly fee and its upfront fee as the quote states them
            out.append(Commitment(model.scenario.name, offer.provider, offer.region, itype,
                                  term.value, model.label(start), model.plan.month_label(end),
                                  offer.gpu_count, round(offer.usd_per_hour * HOURS_PER_MONTH, 2),
                                  round(offer.upfront_usd, 2), past, "quote", itype))
            if past:
                notes.append(f"quote {itype} runs {past} months past the horizon; those months "
                             f"are included in the cost")
            continue
        monthly = _tag_total(amounts, Tag("reservation", (venue, gpu, term, itype, start)),
                             "cloud_reserved", start)
        # the upfront fee as paid: after the plan's discount, at the start month's price (the
        # same terms as the monthly amount it is spread into)
        paid = usd_per_hour_paid(model.plan, offer) / offer.usd_per_hour \
            if offer.usd_per_hour > 0 else 1.0
        upfront = count * offer.upfront_usd * paid * model.plan.trends.cloud_factor(gpu, start)
        out.append(Commitment(model.scenario.name, offer.provider, offer.region, itype, term.value,
                              model.label(start), model.plan.month_label(end), count,
                              round(monthly, 2), round(upfront, 2), past,
                              offer.source.value))
        if past:
            notes.append(f"{count} x {itype} {term.value} in {venue} from {model.label(start)} runs "
                         f"{past} months past the horizon; those months are included in the cost")
    return out, notes
