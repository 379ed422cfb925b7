"""Venues (cloud regions and on-prem sites), the offers each workload may use there, latency.

This is the part of model building that involves no solver: which GPU offers a workload can
run on in a scenario, pruned to the ones that can matter, and which venues lie within its
latency bound. Pruning is exact: an on-demand or spot offer is kept only when it is the
cheapest per GPU-hour of its class at its venue (fractional instance-hours make the others
useless); reservations keep every instance size that is cheapest per GPU-hour among sizes
with at most as many GPUs (whole instances make smaller sizes useful).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tco.pricing.models import Catalog, ComputePrice, Purchase, Source, Tiers
from tco.pricing.reference import (
    estimated_rtt_ms,
    gpu_classes,
    great_circle_km,
    metros,
    regions,
)

from .plan import Plan, Quote, Server, Site, Workload
from .planfile import WorkloadKind


@dataclass(frozen=True)
class Venue:
    """One failure domain: a cloud region (``aws:us-east-1``) or an on-prem site (its name)."""

    key: str
    provider: str | None
    region: str | None
    site: Site | None
    lat: float | None
    lon: float | None
    availability: float

    @property
    def is_site(self) -> bool:
        return self.site is not None


@dataclass(frozen=True)
class Scenario:
    """Which providers and whether owned sites a scenario may use."""

    name: str
    providers: tuple[str, ...]
    sites: bool
    quotes: tuple[str, ...] = ()     # the names of the ``[[cloud.quotes]]`` it may take or holds


@dataclass
class WorkloadOffers:
    """What one workload may run on, per venue: cloud offers and on-prem server types."""

    on_demand: dict[tuple[str, str], ComputePrice] = field(default_factory=dict)   # (venue, gpu)
    spot: dict[tuple[str, str], ComputePrice] = field(default_factory=dict)
    reserved_pools: set[tuple[str, str, Purchase]] = field(default_factory=set)  # venue, gpu, term
    servers: list[tuple[str, Server]] = field(default_factory=list)               # (site, server)

    def venues(self) -> set[str]:
        out = {v for v, _ in self.on_demand} | {v for v, _ in self.spot}
        out |= {v for v, _, _ in self.reserved_pools} | {s for s, _ in self.servers}
        return out

    def nonspot_venues(self) -> set[str]:
        out = {v for v, _ in self.on_demand} | {v for v, _, _ in self.reserved_pools}
        return out | {s for s, _ in self.servers}


def site_coordinates(site: Site) -> tuple[float, float]:
    if isinstance(site.location, str):
        place = metros()[site.location]
        return place.lat, place.lon
    return site.location.lat, site.location.lon


def venue_table(plan: Plan, catalog: Catalog, scenario: Scenario) -> dict[str, Venue]:
    """Every venue of the scenario: cloud regions with any allowed offer, and sites."""
    out: dict[str, Venue] = {}
    allowed_regions = set(plan.cloud.regions) if plan.cloud.regions is not None else None
    for r in catalog.compute_of(scenario.providers):
        if allowed_regions is not None and r.region not in allowed_regions:
            continue
        key = f"{r.provider}:{r.region}"
        if key not in out:
            place = regions().get((r.provider, r.region))
            out[key] = Venue(key, r.provider, r.region, None,
                             place.lat if place else None, place.lon if place else None,
                             plan.cloud.region_availability)
    if scenario.sites:
        for site in plan.onprem.sites:
            lat, lon = site_coordinates(site)
            out[site.name] = Venue(site.name, None, None, site, lat, lon, site.availability)
    for q in scenario_quotes(plan, scenario):
        place = metros()[q.location]
        out[q.venue] = Venue(q.venue, q.provider, f"quote:{q.name}", None, place.lat, place.lon,
                             plan.cloud.region_availability)
    return out


def scenario_quotes(plan: Plan, scenario: Scenario) -> list[Quote]:
    """The quotes ``scenario`` may take (optional) or holds (signed), in plan order."""
    return [q for q in plan.cloud.quotes if q.name in scenario.quotes]


def quote_offer(q: Quote) -> ComputePrice:
    """A quote as one offer: the whole quote is one "instance" of ``gpus`` GPUs, bought for
    its term (``term_months``), at ``usd_per_gpu_hour × gpus`` an hour, with its upfront fee."""
    return ComputePrice(q.provider, f"quote:{q.name}", q.name, q.gpu, q.gpus,
                        gpu_classes()[q.gpu].memory_gib, 0, 0.0, Purchase.QUOTE,
                        q.usd_per_gpu_hour * q.gpus, q.upfront_usd, q.months, Source.USER,
                        f"quote {q.name} in the plan file", q.as_of)


def quote_serves(plan: Plan, w: Workload, q: Quote, venues: dict[str, Venue],
                 excluded: set[str]) -> bool:
    """Whether ``w`` may run on quote ``q``: a class it accepts, its weights fit the quote's
    GPUs, the prices it needs known there, and within its latency bound of a metro it serves."""
    if q.gpu not in w.speeds or q.venue in excluded or q.venue not in venues:
        return False
    if not holds_weights(w, q.gpu, q.gpus) or not fits_nodes(plan, w, q.gpu, q.gpus):
        return False
    if w.max_latency_ms is not None and w.users:
        return any(q.venue in ok for ok in metro_reach(plan, w, {q.venue: venues[q.venue]})
                   .values())
    return True


def quote_tiers(q: Quote, venue: Venue, prices: list[tuple[str, str, Tiers]]) -> Tiers | None:
    """A quote's storage or egress tiers: its provider's rates in the region of that provider
    nearest to its location (``prices``: provider, region, tiers); None when the provider has
    no such price in a region with a known location (unknown is never zero)."""
    best: tuple[float, str, Tiers] | None = None
    for provider, region, tiers in prices:
        place = regions().get((provider, region))
        if provider != q.provider or place is None or venue.lat is None or venue.lon is None:
            continue
        km = great_circle_km(venue.lat, venue.lon, place.lat, place.lon)
        if best is None or (km, region) < best[:2]:
            best = (km, region, tiers)
    return best[2] if best is not None else None


def latency_ms(plan: Plan, metro: str, venue: Venue) -> float | None:
    """Round trip from ``metro`` to ``venue``: a plan override, else the SPEC 6 estimate."""
    override = plan.latency.get(metro, {}).get(venue.key)
    if override is not None:
        return override
    if venue.lat is None or venue.lon is None:
        return None
    place = metros()[metro]
    return estimated_rtt_ms(place.lat, place.lon, venue.lat, venue.lon)


def metro_reach(plan: Plan, w: Workload, venues: dict[str, Venue]) -> dict[str, set[str]]:
    """For each metro of ``w``: the venues within its ``max_latency_ms`` (all when no bound)."""
    if not w.users:
        return {}
    reach: dict[str, set[str]] = {}
    for metro, share in w.users.items():
        if share <= 0:
            continue
        if w.max_latency_ms is None:
            reach[metro] = set(venues)
            continue
        ok = set()
        for key, venue in venues.items():
            rtt = latency_ms(plan, metro, venue)
            if rtt is not None and rtt <= w.max_latency_ms:
                ok.add(key)
        reach[metro] = ok
    return reach


def _discounted(plan: Plan, r: ComputePrice) -> float:
    if r.purchase == Purchase.SPOT:
        return r.usd_per_hour
    disc = plan.cloud.discounts.get(r.provider, 0.0)  # type: ignore[call-overload]
    return r.usd_per_hour * (1 - disc)


def usd_per_hour_paid(plan: Plan, r: ComputePrice) -> float:
    """Hourly price after the plan's negotiated discount (never applied to spot)."""
    return _discounted(plan, r)


def unpriced_venues(w: Workload, venues: dict[str, Venue], storage: dict[str, Tiers],
                    egress: dict[str, Tiers]) -> dict[str, str]:
    """Cloud venues ``w`` cannot use because a price it needs there is unknown, with why.

    Unknown is never zero: a workload that stores data or sends traffic to the internet is
    not placed where the storage or egress price is missing; a dataset whose home region has
    no egress price stays there.
    """
    out: dict[str, str] = {}
    for key, venue in venues.items():
        if venue.is_site:
            continue
        if (w.dataset_tb + w.storage_tb) > 0 and key not in storage:
            out[key] = "no storage price"
        elif w.egress_tb_per_month > 0 and key not in egress:
            out[key] = "no internet egress price"
        elif (w.dataset_tb > 0 and w.data_at and ":" in w.data_at and w.data_at not in egress
              and key != w.data_at):
            out[key] = f"no egress price at {w.data_at} to move the dataset"
    if w.dataset_tb > 0 and w.data_at and ":" in w.data_at and w.data_at not in egress:
        for key, venue in venues.items():
            if venue.is_site:
                out.setdefault(key, f"no egress price at {w.data_at} to move the dataset")
    return out


def offers_for(plan: Plan, catalog: Catalog, scenario: Scenario, venues: dict[str, Venue],
               w: Workload, excluded: set[str] | None = None, *, lean: bool = False,
               ) -> tuple[WorkloadOffers, dict[tuple[str, str, Purchase], list[ComputePrice]]]:
    """The pruned offers ``w`` may use, and every reservation offer per pool. ``lean`` also
    leaves out the capacity blocks spot serves ``w`` as cheaply in (``_blocks_beaten``)."""
    excluded = excluded or set()
    speeds = w.speeds
    purchases = set(plan.cloud.purchase_options)
    reach = metro_reach(plan, w, venues)
    reachable = set().union(*reach.values()) if reach and w.max_latency_ms is not None else None
    offers = WorkloadOffers()
    pools: dict[tuple[str, str, Purchase], list[ComputePrice]] = defaultdict(list)
    for r in catalog.compute:
        key = f"{r.provider}:{r.region}"
        if (key not in venues or key in excluded or r.gpu not in speeds
                or r.purchase.value not in purchases):
            continue
        if reachable is not None and key not in reachable:
            continue
        if not holds_weights(w, r.gpu, r.gpu_count, r.gpu_memory_gib):
            continue
        if not fits_nodes(plan, w, r.gpu, r.gpu_count):
            continue
        if r.purchase == Purchase.SPOT:
            if not w.interruptible:
                continue
            best = offers.spot.get((key, r.gpu))
            if best is None or r.usd_per_gpu_hour < best.usd_per_gpu_hour:
                offers.spot[(key, r.gpu)] = r
        elif r.purchase == Purchase.ON_DEMAND:
            best = offers.on_demand.get((key, r.gpu))
            if best is None or r.usd_per_gpu_hour < best.usd_per_gpu_hour:
                offers.on_demand[(key, r.gpu)] = r
        elif r.purchase == Purchase.CAPACITY_BLOCK:
            # booked in whole days inside a training job's window; a service runs every day
            if w.kind == WorkloadKind.TRAINING:
                pools[(key, r.gpu, r.purchase)].append(r)
        else:
            pools[(key, r.gpu, r.purchase)].append(r)
    for pool_key, recs in list(pools.items()):
        pools[pool_key] = _pareto(recs)
        offers.reserved_pools.add(pool_key)
    if lean:
        offers.reserved_pools -= _blocks_beaten(plan, w, offers, pools)
    if scenario.sites:
        for site in plan.onprem.sites:
            if (reachable is not None and site.name not in reachable) or site.name in excluded:
                continue
            for server in plan.onprem.servers:
                # a type available only after the horizon can never serve
                later = (server.available_from is not None
                         and plan.offset(server.available_from) >= plan.plan.months)
                if (server.gpu in speeds and not later
                        and holds_weights(w, server.gpu, server.gpus)
                        and fits_nodes(plan, w, server.gpu, server.gpus)):
                    offers.servers.append((site.name, server))
    return offers, dict(pools)


def _blocks_beaten(plan: Plan, w: Workload, offers: WorkloadOffers,
                   pools: dict[tuple[str, str, Purchase], list[ComputePrice]],
                   ) -> set[tuple[str, str, Purchase]]:
    """The capacity-block pools no plan needs for ``w``: an interruptible workload with no
    availability target, in a region no quota names, where spot of the same class costs no
    more per GPU-hour delivered (its price × (1 + ``spot_overhead``)) than the cheapest block
    costs per GPU-hour booked. A block is paid by the whole day, used or not, and both move
    with the same trend, so every block-hour ``w`` could use is served by spot for no more;
    spot counts towards no availability target, hence the condition. Only where the prices
    are these: a program whose decisions are held or that is moved to other prices keeps
    them (a higher spot price would make them worth booking)."""
    if not w.interruptible or w.availability is not None:
        return set()
    capped = {f"{q.provider.value}:{q.region}" for q in plan.cloud.quotas}
    out: set[tuple[str, str, Purchase]] = set()
    for (venue, gpu, purchase), recs in pools.items():
        spot = offers.spot.get((venue, gpu))
        if purchase != Purchase.CAPACITY_BLOCK or venue in capped or spot is None or not recs:
            continue
        block = min(usd_per_hour_paid(plan, r) / r.gpu_count for r in recs)
        if spot.usd_per_gpu_hour * (1 + w.spot_overhead) <= block:
            out.add((venue, gpu, purchase))
    return out


def holds_weights(w: Workload, gpu: str, count: int, memory_gib: float = 0.0) -> bool:
    """Whether ``count`` GPUs of class ``gpu`` (``memory_gib`` each, or the class's figure)
    hold the weights of a workload sized from its model (SPEC 14); always for any other."""
    if w.weights_gb is None:
        return True
    each = memory_gib if memory_gib > 0 else gpu_classes()[gpu].memory_gib
    return count * each >= w.weights_gb - 1e-9


def fits_nodes(plan: Plan, w: Workload, gpu: str, count: int) -> bool:
    """Whether an instance or server of ``count`` GPUs of class ``gpu`` can take part in a
    run of ``w``: always, unless ``w`` is a gang that needs more GPUs than one node holds on
    that class, which runs only on nodes of at least ``node_gpus`` GPUs (SPEC 17)."""
    return count >= w.node_gpus or not plan.multi_node(w, gpu)


def _pareto(recs: list[ComputePrice]) -> list[ComputePrice]:
    """Sizes worth reserving: cheapest per GPU-hour among all sizes with ≤ as many GPUs."""
    by_count: dict[int, ComputePrice] = {}
    for r in recs:
        best = by_count.get(r.gpu_count)
        if best is None or r.usd_per_hour < best.usd_per_hour:
            by_count[r.gpu_count] = r
    kept: list[ComputePrice] = []
    for count in sorted(by_count):
        r = by_count[count]
        if not kept or r.usd_per_gpu_hour < min(k.usd_per_gpu_hour for k in kept):
            kept.append(r)
    return kept


def _tiers_no_dearer(a: tuple[tuple[float, float], ...] | None,
                     b: tuple[tuple[float, float], ...] | None) -> bool:
    """True when tier table ``a`` costs no more than ``b`` at every volume (both concave or not:
    compared on the union of their breakpoints, where both are linear in between)."""
    if b is None:
        return True
    if a is None:
        return False
    from tco.pricing.tiers import tiered_cost

    points = sorted({s for s, _ in a} | {s for s, _ in b})
    probes = points + [points[-1] * 2 + 1e6]
    if any(tiered_cost(a, p) > tiered_cost(b, p) + 1e-9 for p in probes):
        return False
    return a[-1][1] <= b[-1][1]


def prune_dominated(plan: Plan, catalog: Catalog, venues: dict[str, Venue],
                    storage: dict[str, Tiers], egress: dict[str, Tiers]) -> dict[str, str]:
    """Cloud venues no plan could need, each with the venue that dominates it.

    Venue v is dominated by v' of the same provider when, for every workload, v' is within
    latency of every metro v is, and v' sells every offer v sells (same GPU class, purchase and
    GPU count) at no higher price, with storage and egress tiers no dearer. Moving everything
    from v to v' then never costs more, so dropping v keeps the optimum. Venues named in a
    quota or as a dataset's home are never dropped (and a venue under a quota dominates none), and nothing is dropped when a workload's
    availability target exceeds a cloud region's (every region then matters as a domain).
    """
    if any(w.availability is not None and w.availability > plan.cloud.region_availability
           for w in plan.workloads):
        return {}
    purchases = set(plan.cloud.purchase_options)
    capped = {f"{q.provider.value}:{q.region}" for q in plan.cloud.quotas}
    fixed = capped | {w.data_at for w in plan.workloads if w.data_at and ":" in w.data_at}
    wanted = {g for w in plan.workloads for g in w.speeds}
    spot_wanted = any(w.interruptible for w in plan.workloads)
    needs_storage = any(w.dataset_tb + w.storage_tb > 0 for w in plan.workloads)
    needs_egress = any(w.egress_tb_per_month > 0 for w in plan.workloads)
    by_size = any(w.weights_gb is not None or (w.gang and any(plan.multi_node(w, g)
                                                                  for g in w.speeds))
                  for w in plan.workloads)
    # what a venue sells, as far as any workload could tell: the cheapest price per GPU-hour
    # of each class and hourly purchase (fractional instance-hours), and the cheapest price of
    # each reservable size (whole instances)
    offers: dict[str, dict[tuple[str, str, int], float]] = defaultdict(dict)
    for r in catalog.compute:
        key = f"{r.provider}:{r.region}"
        if key not in venues or r.purchase.value not in purchases or r.gpu not in wanted:
            continue
        if r.purchase == Purchase.SPOT and not spot_wanted:
            continue
        if r.purchase.is_reserved:
            k, price = (r.gpu, r.purchase.value, r.gpu_count), r.usd_per_hour
        else:
            # sizes matter to a workload whose weights need several GPUs in one instance
            k, price = (r.gpu, r.purchase.value, r.gpu_count if by_size else 0), \
                r.usd_per_gpu_hour
        offers[key][k] = min(offers[key].get(k, price), price)
    reach = {w.name: metro_reach(plan, w, venues) for w in plan.workloads if w.max_latency_ms}

    def metros_of(v: str) -> dict[str, frozenset[str]]:
        return {w: frozenset(m for m, ok in r.items() if v in ok) for w, r in reach.items()}

    def dominates(a: str, b: str) -> bool:
        if venues[a].provider != venues[b].provider:
            return False
        ma, mb = metros_of(a), metros_of(b)
        if any(not mb[w] <= ma[w] for w in reach):
            return False
        oa = offers[a]
        if any(k not in oa or oa[k] > price for k, price in offers[b].items()):
            return False
        return ((not needs_storage
                 or _tiers_no_dearer(storage.get(a), storage.get(b)))
                and (not needs_egress
                     or _tiers_no_dearer(egress.get(a), egress.get(b))))

    cloud = [k for k, v in venues.items() if not v.is_site and k in offers]
    order = sorted(cloud, key=lambda k: (-sum(len(m) for m in metros_of(k).values()),
                                         sum(offers[k].values()), k))
    kept: list[str] = []
    pruned: dict[str, str] = {}
    for v in order:
        if v not in fixed:
            by = next((k for k in kept if k not in capped and dominates(k, v)), None)
            if by is not None:
                pruned[v] = by
                continue
        kept.append(v)
    return pruned
