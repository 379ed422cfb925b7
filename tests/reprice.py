"""An independent price check of a report: every cash flow computed again, month by month, from
the report's own records (allocations, commitments, procurement, retirements) and the plan's
and catalog's prices, with none of the optimizer's code.

This is what "the breakdown sums to the total" and "hybrid is never dearer" are checked
against: the report's totals must equal what its plan costs when priced from scratch.

Inference egress cannot be priced from the allocations alone (capacity kept for redundancy
serves no traffic), so plans with ``egress_tb_per_month`` have their egress left out of the
check (``EGRESS_UNPRICED``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

H = 730.0
EGRESS_UNPRICED = "egress"


def tiered(tiers: tuple[tuple[float, float], ...], volume: float) -> float:
    """Marginal tiers: each block of volume at its own rate."""
    cost = 0.0
    for i, (start, rate) in enumerate(tiers):
        end = tiers[i + 1][0] if i + 1 < len(tiers) else float("inf")
        if volume > start:
            cost += (min(volume, end) - start) * rate
    return cost


def month_index(start: str, label: str) -> int:
    y0, m0 = map(int, start.split("-"))
    y1, m1 = map(int, label.split("-"))
    return (y1 - y0) * 12 + (m1 - m0)


def grow(rate: float, month: int) -> float:
    return (1 + rate) ** (month / 12)


def value(server: Any, age: int, month: int, trend: float = 0.0) -> float:
    new = (server.price_usd + (server.network_usd or 0.0)) * (1 + trend) ** (month / 12)
    if server.residual_fraction is not None:
        life = server.useful_life_months
        return new * (1 - (1 - server.residual_fraction) * min(max(age, 0), life) / life)
    return new * server.resale_retention_per_year ** (max(age, 0) / 12)


def reprice(plan: Any, catalog: Any, s: Any) -> dict[tuple[str, int], float]:
    """(category, month index) -> USD of scenario result ``s``, priced from scratch."""
    start = plan.plan.start
    months = plan.plan.months
    out: dict[tuple[str, int], float] = defaultdict(float)
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
            out[("cloud_compute", m)] += a.gpu_hours * rate * cloud(a.gpu, m)
    # reservations, every month of the term
    for c in s.commitments:
        r = offers[(c.provider, c.region, c.instance_type, c.purchase)]
        first = month_index(start, c.start_month)
        # the start month's price, for the whole term
        monthly = c.count * r.usd_per_hour * (1 - discount.get(c.provider, 0.0)) * H * cloud(
            r.gpu, first)
        for m in range(first, month_index(start, c.end_month) + 1):
            out[("cloud_reserved", m)] += monthly

    # owned servers: cohorts from the plan's fleet and the procurement, less retirements
    cohorts: dict[tuple[str, str, str], dict[str, Any]] = {}
    for site in plan.onprem.sites:
        for i, e in enumerate(site.existing):
            cohorts[(site.name, e.server, f"existing[{i}]")] = {
                "count": e.count, "arrival": -e.age_months, "capex": None}
    for p in s.procurement:
        z = servers[p.server]
        arrival = month_index(start, p.arrival_month)
        if z.available_from is not None:
            assert arrival >= month_index(start, z.available_from), p
        price = (z.price_usd + (z.network_usd or 0)) * grow(
            trends.servers, month_index(start, p.order_month))
        cohorts[(p.site, p.server, f"ordered[{p.order_month}]")] = {
            "count": p.count, "arrival": arrival, "capex": price}
        out[("onprem_capex", arrival)] += p.count * price
    retired: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for r in s.retirements:
        z = servers[r.server]
        m = month_index(start, r.month)
        key = (r.site, r.server, r.cohort)
        assert key in cohorts, key
        assert r.age_months == m - cohorts[key]["arrival"]
        retired[key].append((m, r.count))
        out[("residual_credit", m)] -= r.count * value(z, r.age_months, m, trends.servers) * (
            1 - (z.resale_fee_fraction or 0.0))
        out[("decommission", m)] += r.count * z.decommission_usd
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
            out[("energy", m)] += alive * idle
            out[("colo", m)] += alive * site.colo_usd_per_kw_month * z.power_kw
            out[("maintenance", m)] += alive * z.maintenance_rate / 12 * capex
            out[("staff", m)] += alive * site.staff_usd_per_server_month
        # a retirement at the end of life is in the table; those alive at the end are credited
        alive -= sum(n for month, n in retired[(site_name, server_name, key)]
                     if month >= min(life_end, months))
        if life_end >= months and alive > 0:
            out[("residual_credit", months)] -= alive * value(z, months - c["arrival"], months,
                                                              trends.servers)
        else:
            assert alive == 0, (key, alive)
    for (site_name, server_name, m), hours in used.items():
        z, site = servers[server_name], sites[site_name]
        per_hour = site.pue * site.electricity_usd_per_kwh * z.power_kw * (
            1 - z.idle_power_fraction) / z.gpus
        out[("energy", m)] += hours * per_hour * grow(trends.electricity, m)

    # storage in every venue a workload uses in a month; a dataset copied out pays egress once
    workloads = {w.name: w for w in plan.workloads}
    storage_tiers: dict[str, tuple[tuple[float, float], ...]] = {}
    for sp in catalog.storage:
        storage_tiers.setdefault(f"{sp.provider}:{sp.region}", sp.tiers)
    egress_tiers: dict[str, tuple[tuple[float, float], ...]] = {}
    for ep in catalog.egress:
        if ep.destination == "internet":
            egress_tiers.setdefault(f"{ep.provider}:{ep.region}", ep.tiers)
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
    for (_, m), regions in egress_volume.items():
        # one provider's total, each region at its own rate within the shared tiers: exact
        # when the regions share one tier table, which the check asserts
        tables = {egress_tiers[v] for v in regions}
        assert len(tables) == 1, "regions of one provider with different egress tiers"
        out[("egress", m)] += tiered(next(iter(tables)), sum(regions.values()))
    return {k: v for k, v in out.items() if abs(v) > 1e-9}


def has_inference_egress(plan: Any) -> bool:
    return any(w.egress_tb_per_month > 0 for w in plan.workloads)


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
    skip = {EGRESS_UNPRICED} if has_inference_egress(plan) else set()
    keys = {k for k in ours.keys() | theirs.keys() if k[0] not in skip}
    wrong = {k: (ours.get(k, 0.0), theirs.get(k, 0.0)) for k in sorted(keys)
             if abs(ours.get(k, 0.0) - theirs.get(k, 0.0)) > tolerance}
    assert not wrong, f"{s.name}: repriced != reported: {dict(list(wrong.items())[:8])}"

