"""An independent price check of a report: every cash flow computed again, month by month, from
the report's own records (allocations, commitments, procurement, retirements) and the plan's
and catalog's prices, with none of the optimizer's code.

This is what "the breakdown sums to the total" and "hybrid is never dearer" are checked
against: the report's totals must equal what its plan costs when priced from scratch.

Inference egress cannot be priced from the allocations alone (capacity kept for redundancy
serves no traffic): it is priced from the report's ``traffic``, the demand each venue served.
Each workload's egress in a month is worked out again from the plan (``egress_tb_per_month``
growing by ``growth_per_month`` from its window's first month) and shared among the venues in
proportion to the demand they served, which must add up to the month's demand (worked out
again too) and fit in the GPU-hours allocated to the workload there.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

H = 730.0
GB_PER_TB = 1000.0


def tiered(tiers: tuple[tuple[float, float], ...], volume: float) -> float:
    """Marginal tiers: each block of volume at its own rate."""
    cost = 0.0
    for i, (start, rate) in enumerate(tiers):
        end = tiers[i + 1][0] if i + 1 < len(tiers) else float("inf")
        if volume > start:
            cost += (min(volume, end) - start) * rate
    return cost


def tiered_total(tables: dict[str, tuple[tuple[float, float], ...]],
                 volumes: dict[str, float]) -> float:
    """Several regions' volumes on tiers that apply to their total, each region at its own
    rates: the total fills the blocks between the tier starts of every region's table in
    order, and each block is shared among the regions at their own rates in the cheapest way
    (no region's volume belongs to a particular block). With one table, ``tiered`` of the
    total; with more, a small transportation problem solved exactly (``_cheapest_split``)."""
    total = sum(volumes.values())
    supply: dict[tuple[tuple[float, float], ...], float] = defaultdict(float)
    for v, gb in volumes.items():
        supply[tables[v]] += gb
    if len(supply) == 1:
        return tiered(next(iter(supply)), total)
    starts = sorted({start for t in supply for start, _ in t if start < total} | {0.0})
    ends = [*starts[1:], total]
    widths = [end - start for start, end in zip(starts, ends, strict=True)]

    def rate(t: tuple[tuple[float, float], ...], at: float) -> float:
        return [r for start, r in t if start <= at][-1]

    order = list(supply)
    costs = [[rate(t, start) for start in starts] for t in order]
    return _cheapest_split([supply[t] for t in order], widths, costs)


def _cheapest_split(supply: list[float], widths: list[float], costs: list[list[float]]) -> float:
    """min Σ x[i][k] costs[i][k] with Σ_k x[i][k] = supply[i], Σ_i x[i][k] = widths[k],
    x ≥ 0: successive shortest paths (Bellman-Ford) on source → supplier → block → sink."""
    n, k = len(supply), len(widths)
    sink = n + k + 1
    graph: list[list[list[Any]]] = [[] for _ in range(sink + 1)]

    def edge(a: int, b: int, cap: float, cost: float) -> None:
        graph[a].append([b, cap, cost, len(graph[b])])
        graph[b].append([a, 0.0, -cost, len(graph[a]) - 1])

    total = sum(supply)
    for i, amount in enumerate(supply):
        edge(0, 1 + i, amount, 0.0)
        for j in range(k):
            edge(1 + i, 1 + n + j, total, costs[i][j])
    for j, width in enumerate(widths):
        edge(1 + n + j, sink, width, 0.0)
    cost, sent, tiny = 0.0, 0.0, 1e-9 * max(1.0, total)
    while sent < total - tiny:
        dist = [float("inf")] * (sink + 1)
        back: list[tuple[int, int] | None] = [None] * (sink + 1)
        dist[0] = 0.0
        for _ in range(sink):
            changed = False
            for a in range(sink + 1):
                if dist[a] == float("inf"):
                    continue
                for e, (b, cap, c, _) in enumerate(graph[a]):
                    if cap > tiny and dist[a] + c < dist[b] - 1e-12:
                        dist[b], back[b], changed = dist[a] + c, (a, e), True
            if not changed:
                break
        assert back[sink] is not None, "the blocks cannot hold the volume"
        path, b = [], sink
        while b != 0:
            step = back[b]
            assert step is not None
            path.append(step)
            b = step[0]
        push = min(graph[a][e][1] for a, e in path)
        for a, e in path:
            graph[a][e][1] -= push
            b = graph[a][e][0]
            graph[b][graph[a][e][3]][1] += push
        cost += push * dist[sink]
        sent += push
    return cost


def month_index(start: str, label: str) -> int:
    y0, m0 = map(int, start.split("-"))
    y1, m1 = map(int, label.split("-"))
    return (y1 - y0) * 12 + (m1 - m0)


def grow(rate: float, month: int) -> float:
    return (1 + rate) ** (month / 12)


def window(start: str, w: Any) -> range:
    return range(month_index(start, w.window[0]), month_index(start, w.window[1]) + 1)


def demand_gpu_hours(start: str, w: Any) -> dict[int, float]:
    """Reference GPU-hours a workload needs in each month of its window: a training run's
    GPU-hours spread evenly (or, recurring, one run's in the first month and every k-th
    after it); inference ``gpus x (1 + growth) ** (months since the window's first) x 730``."""
    months = window(start, w)
    if w.training and w.every_months:
        return {m: (w.gpu_hours if (m - months.start) % w.every_months == 0 else 0.0)
                for m in months}
    if w.training:
        return {m: w.gpu_hours / len(months) for m in months}
    return {m: w.gpus * (1 + w.growth_per_month) ** (m - months.start) * H for m in months}


def egress_gb(start: str, w: Any) -> dict[int, float]:
    """Internet egress in each month of the window: ``egress_tb_per_month`` x 1,000 GB in the
    first month, growing like the demand, ``(1 + growth) ** (months since the first)``."""
    months = window(start, w)
    return {m: w.egress_tb_per_month * GB_PER_TB * (1 + w.growth_per_month) ** (m - months.start)
            for m in months}


def value(server: Any, age: int, month: int, trend: float = 0.0) -> float:
    new = (server.price_usd + (server.network_usd or 0.0)) * (1 + trend) ** (month / 12)
    # a decision analysis may scale every server's value (the ``resale`` lever)
    new *= getattr(server, "value_factor", 1.0)
    if server.residual_fraction is not None:
        life = server.useful_life_months
        return new * (1 - (1 - server.residual_fraction) * min(max(age, 0), life) / life)
    return new * server.resale_retention_per_year ** (max(age, 0) / 12)


def _nearest(q: Any, records: Any) -> tuple[tuple[float, float], ...] | None:
    """The tiers of ``q``'s provider's region nearest to its metro (haversine), if any."""
    import math

    from tco.pricing.reference import metros, regions

    here = metros()[q.location]
    best = None
    for r in records:
        place = regions().get((r.provider, r.region))
        if r.provider != q.provider or place is None:
            continue
        p1, p2 = math.radians(here.lat), math.radians(place.lat)
        dp, dl = p2 - p1, math.radians(place.lon - here.lon)
        km = 2 * 6371.0 * math.asin(math.sqrt(math.sin(dp / 2) ** 2 + math.cos(p1)
                                              * math.cos(p2) * math.sin(dl / 2) ** 2))
        if best is None or (km, r.region) < best[:2]:
            best = (km, r.region, r.tiers)
    return best[2] if best is not None else None


def reprice(plan: Any, catalog: Any, s: Any) -> dict[tuple[str, int], float]:
    """(category, month index) -> USD of scenario result ``s``, priced from scratch."""
    return _priced(plan, catalog, s)[0]


def reprice_venues(plan: Any, catalog: Any, s: Any) -> dict[str, tuple[float, float]]:
    """venue -> (running USD, all-in USD) of scenario result ``s``, priced from scratch: the
    running cost is its cloud hours and reservation fees, or a site's energy, colocation,
    maintenance and staff; all-in adds at a site the servers ordered, the value at the start
    of those owned then (sold then, less the fee and decommissioning: what keeping them gives
    up), less what their sales and the value held at the end bring back, plus
    decommissioning."""
    _, running, assets = _priced(plan, catalog, s)
    return {v: (running.get(v, 0.0), running.get(v, 0.0) + assets.get(v, 0.0))
            for v in running.keys() | assets.keys()}


def _priced(plan: Any, catalog: Any, s: Any) -> tuple[dict[tuple[str, int], float],
                                                       dict[str, float], dict[str, float]]:
    start = plan.plan.start
    months = plan.plan.months
    out: dict[tuple[str, int], float] = defaultdict(float)
    running: dict[str, float] = defaultdict(float)
    assets: dict[str, float] = defaultdict(float)

    def book(category: str, m: int, usd: float, venue: str, owner: dict[str, float]) -> None:
        out[(category, m)] += usd
        owner[venue] += usd
    offers = {(r.provider, r.region, r.instance_type, r.purchase.value): r
              for r in catalog.compute}
    discount = {p.value if hasattr(p, "value") else p: d
                for p, d in plan.cloud.discounts.items()}
    trends = plan.trends

    def cloud(gpu: str, month: int) -> float:
        return grow(trends.cloud_by_gpu.get(gpu, trends.cloud), month)
    servers = {z.name: z for z in plan.onprem.servers}
    sites = {x.name: x for x in plan.onprem.sites}

    # cloud hours
    for a in s.allocations:
        m = month_index(start, a.month)
        if a.purchase in ("on_demand", "spot"):
            r = offers[(a.provider, a.region, a.instance_type, a.purchase)]
            rate = r.usd_per_hour / r.gpu_count
            if a.purchase == "on_demand":
                rate *= 1 - discount.get(a.provider, 0.0)
            book("cloud_compute", m, a.gpu_hours * rate * cloud(a.gpu, m), a.venue, running)
    # reservations, every month of the term; a quote at its own price, with its upfront fee in
    # its first month
    quotes = {q.name: q for q in plan.cloud.quotes}
    for c in s.commitments:
        if c.purchase == "quote":
            q = quotes[c.name]
            first = month_index(start, q.start)
            assert (c.count, c.start_month, c.provider) == (q.gpus, q.start, q.provider), c
            for m in range(max(first, 0), first + q.months):
                book("cloud_reserved", m, q.usd_per_gpu_hour * q.gpus * H,
                     f"{q.provider}:quote:{q.name}", running)
            if first >= 0 and q.upfront_usd:
                book("cloud_reserved", first, q.upfront_usd, f"{q.provider}:quote:{q.name}",
                     running)
            continue
        r = offers[(c.provider, c.region, c.instance_type, c.purchase)]
        first = month_index(start, c.start_month)
        if c.purchase == "capacity_block":
            # instance-days booked in one month, at that month's list price
            assert c.start_month == c.end_month, c
            book("cloud_reserved", first, c.count * r.usd_per_hour * 24.0 * (
                1 - discount.get(c.provider, 0.0)) * cloud(r.gpu, first),
                f"{c.provider}:{c.region}", running)
            continue
        # the start month's price, for the whole term
        monthly = c.count * r.usd_per_hour * (1 - discount.get(c.provider, 0.0)) * H * cloud(
            r.gpu, first)
        for m in range(first, month_index(start, c.end_month) + 1):
            book("cloud_reserved", m, monthly, f"{c.provider}:{c.region}", running)

    # owned servers: cohorts from the plan's fleet and the procurement, less retirements
    cohorts: dict[tuple[str, str, str], dict[str, Any]] = {}
    for site in plan.onprem.sites:
        for i, e in enumerate(site.existing):
            cohorts[(site.name, e.server, f"existing[{i}]")] = {
                "count": e.count, "arrival": -e.age_months, "capex": None}
            z = servers[e.server]
            assets[site.name] += e.count * (value(z, e.age_months, 0, trends.servers) * (
                1 - (z.resale_fee_fraction or 0.0)) - z.decommission_usd)
    for p in s.procurement:
        z = servers[p.server]
        arrival = month_index(start, p.arrival_month)
        if z.available_from is not None:
            assert arrival >= month_index(start, z.available_from), p
        price = (z.price_usd + (z.network_usd or 0)) * grow(
            trends.servers, month_index(start, p.order_month))
        cohorts[(p.site, p.server, f"ordered[{p.order_month}]")] = {
            "count": p.count, "arrival": arrival, "capex": price}
        book("onprem_capex", arrival, p.count * price, p.site, assets)
    retired: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for r in s.retirements:
        z = servers[r.server]
        m = month_index(start, r.month)
        key = (r.site, r.server, r.cohort)
        assert key in cohorts, key
        assert r.age_months == m - cohorts[key]["arrival"]
        retired[key].append((m, r.count))
        book("residual_credit", m, -r.count * value(z, r.age_months, m, trends.servers) * (
            1 - (z.resale_fee_fraction or 0.0)), r.site, assets)
        book("decommission", m, r.count * z.decommission_usd, r.site, assets)
    used: dict[tuple[str, str, int], float] = defaultdict(float)
    for a in s.allocations:
        if a.purchase == "owned":
            used[(a.venue, a.instance_type, month_index(start, a.month))] += a.gpu_hours
    for (site_name, server_name, key), c in cohorts.items():
        z, site = servers[server_name], sites[site_name]
        life_end = c["arrival"] + z.useful_life_months
        alive = c["count"]
        for m in range(max(0, c["arrival"]), min(life_end, months)):
            alive -= sum(n for month, n in retired[(site_name, server_name, key)] if month == m)
            idle = (site.pue * site.electricity_usd_per_kwh * grow(trends.electricity, m)
                    * z.power_kw * H * z.idle_power_fraction)
            capex = c["capex"] if c["capex"] is not None else z.price_usd + (z.network_usd or 0)
            book("energy", m, alive * idle, site_name, running)
            book("colo", m, alive * site.colo_usd_per_kw_month * z.power_kw, site_name, running)
            book("maintenance", m, alive * z.maintenance_rate / 12 * capex, site_name, running)
            book("staff", m, alive * site.staff_usd_per_server_month, site_name, running)
        # a retirement at the end of life is in the table; those alive at the end are credited
        alive -= sum(n for month, n in retired[(site_name, server_name, key)]
                     if month >= min(life_end, months))
        if life_end >= months and alive > 0:
            book("residual_credit", months,
                 -alive * value(z, months - c["arrival"], months, trends.servers), site_name,
                 assets)
        else:
            assert alive == 0, (key, alive)
    for (site_name, server_name, m), hours in used.items():
        z, site = servers[server_name], sites[site_name]
        per_hour = site.pue * site.electricity_usd_per_kwh * z.power_kw * (
            1 - z.idle_power_fraction) / z.gpus
        book("energy", m, hours * per_hour * grow(trends.electricity, m), site_name, running)

    # storage in every venue a workload uses in a month; a dataset copied out pays egress once
    workloads = {w.name: w for w in plan.workloads}
    storage_tiers: dict[str, tuple[tuple[float, float], ...]] = {}
    for sp in catalog.storage:
        storage_tiers.setdefault(f"{sp.provider}:{sp.region}", sp.tiers)
    egress_tiers: dict[str, tuple[tuple[float, float], ...]] = {}
    for ep in catalog.egress:
        if ep.destination == "internet":
            egress_tiers.setdefault(f"{ep.provider}:{ep.region}", ep.tiers)
    # a quote's storage and egress: its provider's rates in the region nearest to it
    for q in plan.cloud.quotes:
        for records, table in ((catalog.storage, storage_tiers),
                               ([e for e in catalog.egress if e.destination == "internet"],
                                egress_tiers)):
            near = _nearest(q, records)
            if near is not None:
                table[f"{q.provider}:quote:{q.name}"] = near
    venues_used: dict[tuple[str, int], set[str]] = defaultdict(set)
    for a in s.allocations:
        if a.gpu_hours > 0:
            venues_used[(a.workload, month_index(start, a.month))].add(a.venue)
    volume: dict[tuple[str, int], float] = defaultdict(float)
    for (w_name, m), venues in venues_used.items():
        w = workloads[w_name]
        gb = (w.dataset_tb + w.storage_tb) * 1000.0
        for v in venues:
            if gb <= 0:
                continue
            if v in sites:
                out[("storage", m)] += gb / 1000.0 * sites[v].storage_usd_per_tb_month
            else:
                volume[(v, m)] += gb
    for (v, m), gb in volume.items():
        out[("storage", m)] += tiered(storage_tiers[v], gb)
    egress_volume: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for w in plan.workloads:
        if not (w.dataset_tb > 0 and w.data_at):
            continue
        first = month_index(start, w.window[0])
        copied = {v for (name, _), vs in venues_used.items() if name == w.name for v in vs}
        for v in copied - {w.data_at}:
            gb = w.dataset_tb * 1000.0
            if w.data_at in sites:
                out[("egress", first)] += gb * sites[w.data_at].egress_usd_per_gb
            else:
                egress_volume[(w.data_at.split(":")[0], first)][w.data_at] += gb
    _inference_egress(plan, s, sites, out, egress_volume)
    for (_, m), regions in egress_volume.items():
        out[("egress", m)] += tiered_total({v: egress_tiers[v] for v in regions}, regions)
    return {k: v for k, v in out.items() if abs(v) > 1e-9}, running, assets


def _inference_egress(plan: Any, s: Any, sites: dict[str, Any],
                      out: dict[tuple[str, int], float],
                      volume: dict[tuple[str, int], dict[str, float]]) -> None:
    """Each workload's egress from the venues that served it, in proportion to the demand
    served there: at a site's own rate, or added to its provider's month (priced on the
    tiers of the provider's total)."""
    start = plan.plan.start
    served: dict[tuple[str, int], float] = defaultdict(float)
    # reference GPU-hours a workload's allocations deliver at a venue in a month
    held: dict[tuple[str, int, str], float] = defaultdict(float)
    workloads = {w.name: w for w in plan.workloads}
    for a in s.allocations:
        w = workloads[a.workload]
        factor = w.speeds[a.gpu] / (1 + w.spot_overhead if a.purchase == "spot" else 1.0)
        held[(a.workload, month_index(start, a.month), a.venue)] += a.gpu_hours * factor
    for t in s.traffic:
        w = workloads[t.workload]
        m = month_index(start, t.month)
        demand = demand_gpu_hours(start, w)[m]
        gb = egress_gb(start, w)[m] * t.served_gpu_hours / demand
        assert abs(t.egress_gb - gb) <= 1e-6 * max(1.0, gb), (s.name, t, gb)
        # 4-decimal allocations: a venue serves no more than they deliver there
        assert t.served_gpu_hours <= held[(t.workload, m, t.venue)] + 1e-3 + 1e-7 * demand, (
            s.name, t, held[(t.workload, m, t.venue)])
        served[(t.workload, m)] += t.served_gpu_hours
        if t.venue in sites:
            out[("egress", m)] += gb * sites[t.venue].egress_usd_per_gb
        else:
            volume[(t.venue.split(":")[0], m)][t.venue] += gb
    for w in plan.workloads:
        if w.egress_tb_per_month <= 0:
            continue
        for m, demand in demand_gpu_hours(start, w).items():
            if demand > 0:
                assert served[(w.name, m)] == pytest.approx(demand, rel=1e-6, abs=1e-6), (
                    s.name, w.name, m, served[(w.name, m)], demand)


def reported(s: Any, start: str) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], float] = defaultdict(float)
    for f in s.cash_flows:
        out[(f.category, month_index(start, f.month))] += f.usd
    return out


def npv(flows: dict[tuple[str, int], float], rate: float) -> float:
    return sum(v * (1 + rate) ** (-m / 12) for (_, m), v in flows.items())


def assert_repriced(plan: Any, catalog: Any, s: Any, tolerance: float = 0.05) -> None:
    """The report's cash flows, category by category and month by month, equal the repriced
    ones (to ``tolerance`` dollars, for hours rounded to 4 decimals in the report)."""
    ours = reprice(plan, catalog, s)
    theirs = reported(s, plan.plan.start)
    keys = ours.keys() | theirs.keys()
    wrong = {k: (ours.get(k, 0.0), theirs.get(k, 0.0)) for k in sorted(keys)
             if abs(ours.get(k, 0.0) - theirs.get(k, 0.0)) > tolerance}
    assert not wrong, f"{s.name}: repriced != reported: {dict(list(wrong.items())[:8])}"


def assert_venues_repriced(plan: Any, catalog: Any, s: Any, tolerance: float = 0.05) -> None:
    """The report's venues table: each venue's running and all-in cost equal the repriced
    ones (``reprice_venues``), and its GPU-hours its allocations'."""
    ours = {v: costs for v, costs in reprice_venues(plan, catalog, s).items()
            if max(abs(costs[0]), abs(costs[1])) > 0.005}
    theirs = {v.venue: (v.running_usd, v.all_in_usd) for v in s.venues
              if max(abs(v.running_usd), abs(v.all_in_usd)) > 0.005}
    assert set(ours) == set(theirs), f"{s.name}: venues {sorted(ours)} != {sorted(theirs)}"
    wrong = {v: (ours[v], theirs[v]) for v in sorted(ours)
             if any(abs(a - b) > tolerance for a, b in zip(ours[v], theirs[v], strict=True))}
    assert not wrong, f"{s.name}: repriced != reported venue costs: {wrong}"
    hours: dict[str, float] = defaultdict(float)
    for a in s.allocations:
        hours[a.venue] += a.gpu_hours
    for v in s.venues:
        assert abs(v.gpu_hours - hours[v.venue]) <= 0.01, (s.name, v.venue)
