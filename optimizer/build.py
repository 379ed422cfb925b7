"""Building one scenario's program: ``prepare`` (venues and offers), then ``define_program``
(every variable, row and the objective), family by family in a fixed order, each family's
``define_*`` given the records it needs from the ones before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from tco.pricing.models import Catalog, Purchase

from .cloud import define_cloud_capacity, define_quotas, define_reservations
from .cuts import define_site_shortfall_rounding, define_whole_server_rounding
from .data import define_egress_tiers, define_gangs, define_single_venue_and_storage
from .fleet import (
    define_capex_budget,
    define_onprem_capacity,
    define_onprem_fleet,
    define_site_power,
)
from .model import Model, _n, linear, monthly_demand, monthly_egress_gb
from .plan import Plan
from .program import Program
from .records import CapIndex, DemandUses
from .result import Decisions
from .service import (
    SHORTFALL_PENALTY_USD_PER_GPU_HOUR,
    define_demand,
    define_latency_and_egress,
    define_redundancy,
    define_shortfall,
)
from .venues import (
    Scenario,
    offers_for,
    prune_dominated,
    quote_offer,
    quote_serves,
    quote_tiers,
    scenario_quotes,
    unpriced_venues,
    venue_table,
)

__all__ = ["build", "define_program", "prepare"]


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


def prepare(plan: Plan, catalog: Catalog, scenario: Scenario, *, lean: bool = False,
            held: Decisions | None = None, movable: bool = False) -> Model:
    """The first half of ``build``: the scenario's venues and what each workload could buy
    there, with an empty program. Enough to rule out a scenario that cannot work
    (``diagnosis.precheck``) before any variable is made. ``lean`` leaves out offers that
    cannot pay at these prices (``venues.offers_for``): for a program optimized once, never
    for one whose first-stage decisions are held or that is moved to other prices.

    ``held``: the first-stage decisions the program will hold (``decisions.fix``). A pool of
    reservations, savings plans or capacity blocks of which they take none then has no
    capacity, whatever the prices: it is left out (its use and its reservations would all be
    0). Quotes stay (a signed one is held whatever the decisions say).

    ``movable``: the program will be moved to other demand in place (``redemand``). It keeps
    every valid inequality whose use depends on the demand (rows a build at this demand
    would leave out as redundant), and records where it reads the demand."""
    with _collector_paused():
        model = _prepare(plan, catalog, scenario, lean and not movable)
    if movable:
        model.uses = DemandUses()
    if held is not None:
        taken = {(venue, gpu, term) for (venue, gpu, term, _, _), n in held.reservations if n}
        for offers in model.offers.values():
            offers.reserved_pools = {
                pool for pool in offers.reserved_pools
                if pool[2] == Purchase.QUOTE or (pool[0], pool[1], pool[2].value) in taken}
    return model


def define_program(model: Model, *, elastic: bool = False) -> Model:
    """The second half of ``build``: every variable, row and the objective."""
    with _collector_paused():
        _define(model, elastic)
    return model


def _prepare(plan: Plan, catalog: Catalog, scenario: Scenario, lean: bool) -> Model:
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
    # a quote carries no storage or egress price of its own: its provider's, in the region of
    # that provider nearest to it (none when the provider has none: unknown is never zero)
    quotes = scenario_quotes(plan, scenario)
    for q in quotes:
        for prices, out in (
                ([(r.provider, r.region, r.tiers) for r in catalog.storage], model.catalog_storage),
                ([(r.provider, r.region, r.tiers) for r in catalog.egress
                  if r.destination == "internet"], model.catalog_egress)):
            tiers = quote_tiers(q, venues[q.venue], prices)
            if tiers is not None:
                out[q.venue] = tiers
    # the offers any workload of this scenario could buy: read once here rather than by every
    # step below (the snapshot has about 1,600)
    wanted = {g for w in plan.workloads for g in w.speeds}
    useful = replace(catalog, compute=tuple(r for r in catalog.compute_of(scenario.providers)
                                            if r.gpu in wanted))
    for r in useful.compute:
        model.compute_at.setdefault(f"{r.provider}:{r.region}", []).append(r)
    for v in prune_dominated(plan, useful, venues, model.catalog_storage, model.catalog_egress):
        del venues[v]
    for w in plan.workloads:
        excluded = unpriced_venues(w, venues, model.catalog_storage, model.catalog_egress)
        model.excluded[w.name] = excluded
        offers, pools = offers_for(plan, useful, scenario, venues, w, set(excluded), lean=lean)
        for q in quotes:
            if quote_serves(plan, w, q, venues, set(excluded)):
                pool = (q.venue, q.gpu, Purchase.QUOTE)
                offers.reserved_pools.add(pool)
                pools[pool] = [quote_offer(q)]
        model.offers[w.name] = offers
        model.pools.update(pools)
    return model


def _define(model: Model, elastic: bool) -> None:
    if model.prob.vars or model.prob.rows:
        raise ValueError("define_program: the model's program is already defined")
    if elastic:
        model.short = define_shortfall(model)
    cuts = model.cuts
    hourly = define_cloud_capacity(model)
    reserved = model.reserved = define_reservations(model, cuts)
    fleet = model.fleet = define_onprem_fleet(model)
    owned = define_onprem_capacity(model, fleet, cuts)
    model.caps = [*hourly, *reserved.caps, *owned]
    index = CapIndex(model.caps)
    model.limits += define_site_power(model, fleet)
    model.limits += define_capex_budget(model, fleet)
    model.limits += define_quotas(model, reserved)
    define_demand(model)
    use = model.use = define_single_venue_and_storage(model, index)
    define_gangs(model, index, use)
    define_whole_server_rounding(model, fleet, use)
    define_site_shortfall_rounding(model, fleet, use, index, cuts)
    service = model.service = define_latency_and_egress(model, index)
    define_egress_tiers(model, [use.egress, service.egress])
    define_redundancy(model, index)
    define_objective(model)
    if model.uses is not None:
        model.uses.rows_built = len(model.prob.rows)


def define_objective(model: Model) -> None:
    """Minimize Σ over the ledger of cash flow × (1 + discount_rate) ** (-month / 12)."""
    model.prob.objective = linear([
        *model.ledger.objective(model.discount, model.discount_sum),
        *((v, SHORTFALL_PENALTY_USD_PER_GPU_HOUR) for v in model.short.values())])
