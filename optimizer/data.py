"""Data in the program (SPEC section 5, "Data"): which venues a workload uses each month, the
storage it pays there, datasets copied out of ``data_at``, and tiered prices (storage in a
region, a provider's internet egress) applied exactly to their totals."""

from __future__ import annotations

import math
from collections import defaultdict

from tco.pricing.models import GB_PER_TB, Tiers
from tco.pricing.tiers import tiered_cost

from .ledger import Tag
from .model import Model, _n, linear, terms_of, workload_months
from .plan import Workload
from .program import EQ, GE, LE, Expr, Row, Var
from .records import CapIndex, EgressTerms, VenueUse

__all__ = ["define_egress_tiers", "define_gangs", "define_single_venue_and_storage",
           "define_tiered"]






def _storage_gb(w: Workload) -> float:
    return (w.dataset_tb + w.storage_tb) * GB_PER_TB


def define_single_venue_and_storage(model: Model, index: CapIndex) -> VenueUse:
    """Venue-use indicators where they matter: a ``single_venue`` workload picks one venue
    ``pick[w,v]``; storage is billed per venue used per month (``use[w,v,m]``); a dataset moved
    out of ``data_at`` pays that venue's egress once per venue it is copied to."""
    plan = model.plan
    out = VenueUse()
    storage_volume: dict[tuple[str, int], list[tuple[object, float]]] = defaultdict(list)
    for w in plan.workloads:
        per_venue = index.of(w.name)
        venues = sorted({v for v, _ in per_venue})
        gb = _storage_gb(w)
        transfer_gb = w.dataset_tb * GB_PER_TB if w.data_at else 0.0
        if not (w.single_venue or gb > 0 or transfer_gb > 0) or not venues:
            continue
        picks: dict[str, Var] = {}
        if w.single_venue:
            for v in venues:
                picks[v] = model.prob.binary(_n(f"pick[{w.name},{v}]"))
                out.picks[(w.name, v)] = picks[v]
            model.constrain([(p, 1.0) for p in picks.values()], EQ, 1, _n(f"single_venue[{w.name}]"))
        moved: dict[str, Var] = {}
        wn = model.safe(w.name)
        for (v, m), caps in sorted(per_venue.items()):
            need = model.demand[w.name][m]
            at = f"{wn}_{model.safe(v)}_{model.label(m)}_"     # _n("[w,v,m]") without "[,]"
            if w.single_venue:
                use: Var = picks[v]
            else:
                use = model.prob.binary(f"use_{at}")
            row = model.constrain([*terms_of(caps), (use, -need)], LE, 0.0, f"venue_use_{at}")
            if model.uses is not None:
                model.uses.coefs.append((row, use, w.name, m, -1.0))
            out.uses[(w.name, v, m)] = use
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
                        moved[v] = out.moved[(w.name, v)] = model.prob.binary(
                            _n(f"moved[{w.name},{v}]"))
                if not w.single_venue:
                    model.constrain([(moved[v], 1.0), (use, -1.0)], GE, 0.0,
                                    f"moved_if_used_{at}")
        if moved and w.data_at is not None:
            first = workload_months(plan, w).start
            _add_transfer(model, out, w, moved, transfer_gb, first)
    for (v, m), terms in sorted(storage_volume.items()):
        if len(terms) == 1:
            # one workload may store here this month: the volume is nothing or its whole
            # data, so the tiered price of that volume times the indicator is exact, and needs
            # no segments (which would also let the relaxation pay a lower average rate)
            single, gb = terms[0]
            model.add_cost("storage", m, single, tiered_cost(model.catalog_storage[v], gb),
                           Tag("storage", (v,)))
            continue
        volume = linear(terms)
        cost = define_tiered(model, f"storage_tier[{v},{model.label(m)}]", {v: volume},
                             {v: model.catalog_storage[v]}, sum(gb for _, gb in terms))
        model.add_cost("storage", m, cost, 1.0, Tag("storage", (v,)))
    return out


def define_gangs(model: Model, index: CapIndex, use: VenueUse) -> None:
    """Each run of a gang in one venue on one GPU class (SPEC 17): an indicator per (venue,
    class) it could run on, exactly one 1 per run, and in each month of the run the reference
    GPU-hours delivered at a venue on a class at most the month's demand times that
    indicator (several instance or server types of the class in the venue may share it). A
    single-venue gang's runs keep to its one venue."""
    plan = model.plan
    for w in plan.workloads:
        if not (w.gang and w.training):
            continue
        per_venue = index.of(w.name)
        if not per_venue:
            continue
        wn = model.safe(w.name)
        for run in plan.runs(w):
            months = [m for m in run if model.demand[w.name][m] > 0]
            groups: dict[tuple[str, str], list[tuple[int, list]]] = defaultdict(list)
            for m in months:
                for v in sorted({v for v, mm in per_venue if mm == m}):
                    by_gpu: dict[str, list] = defaultdict(list)
                    for cap in per_venue[(v, m)]:
                        by_gpu[cap.gpu].append(cap)
                    for gpu, caps in sorted(by_gpu.items()):
                        groups[(v, gpu)].append((m, caps))
            if not groups:
                continue
            label = model.label(run.start)
            options: dict[tuple[str, str], Var] = {}
            for v, gpu in sorted(groups):
                options[(v, gpu)] = model.prob.binary(_n(f"gang[{w.name},{label},{v},{gpu}]"))
            use.gangs[(w.name, run.start)] = options
            model.constrain([(g, 1.0) for g in options.values()], EQ, 1,
                            _n(f"gang_run[{w.name},{label}]"))
            for (v, gpu), items in sorted(groups.items()):
                g = options[(v, gpu)]
                for m, caps in items:
                    row = model.constrain([*terms_of(caps), (g, -model.demand[w.name][m])],
                                          LE, 0.0, f"gang_{wn}_{model.safe(v)}_"
                                          f"{model.safe(gpu)}_{model.label(m)}_")
                    if model.uses is not None:
                        model.uses.coefs.append((row, g, w.name, m, -1.0))
            if w.single_venue:
                for v in sorted({v for v, _ in options}):
                    pick = use.picks.get((w.name, v))
                    if pick is not None:
                        model.constrain([*((g, 1.0) for (x, _), g in options.items() if x == v),
                                         (pick, -1.0)], LE, 0.0,
                                        _n(f"gang_venue[{w.name},{label},{v}]"))


def _add_transfer(model: Model, out: VenueUse, w: Workload, moved: dict[str, Var], gb: float,
                  month: int) -> None:
    data_at = w.data_at or ""
    total = linear((var, gb) for var in moved.values())
    if ":" in data_at:
        out.egress[(data_at, month)].append((total, gb * len(moved), f"move:{w.name}"))
    else:
        site = model.plan.site(data_at)
        model.add_cost("egress", month, total, site.egress_usd_per_gb, Tag("egress", (site.name,)))


def define_egress_tiers(model: Model, parts: list[EgressTerms]) -> None:
    """Internet egress of each provider and month, priced on the tiers of its total."""
    by_provider: dict[tuple[str, int], dict[str, list[tuple[object, float, str]]]] = defaultdict(
        lambda: defaultdict(list))
    for terms_by in parts:
        for (v, m), terms in terms_by.items():
            provider = v.split(":")[0]
            by_provider[(provider, m)][v].extend(terms)
    for (provider, m), per_region in sorted(by_provider.items()):
        prices = {v: model.catalog_egress[v] for v in per_region}
        volumes: dict[str, object] = {v: linear((e, 1.0) for e, _, _ in per_region[v])
                                      for v in prices}
        most: dict[str, float] = {}
        for terms in per_region.values():
            for _, b, what in terms:
                most[what] = max(most.get(what, 0.0), b)
        bound = sum(most.values())
        cost = define_tiered(model, f"egress_tier[{provider},{model.label(m)}]", volumes, prices,
                             bound, every_start=model.uses is not None)
        if model.uses is not None and model.tiers.segments:
            # the segments' widths follow the most egress the month can have: a move to other
            # egress (the demand levers) sets them again (``redemand.move_demand``). A
            # service's egress moves with its demand; a dataset's move does not
            served = tuple(sorted(w.removeprefix("serve:") for w in most
                                  if w.startswith("serve:")))
            fixed = sum(b for w, b in most.items() if not w.startswith("serve:"))
            model.uses.egress_tiers.append((tuple(model.tiers.segments), fixed, m, served))
        model.add_cost("egress", m, cost, 1.0, Tag("egress", (provider,)))


def define_tiered(model: Model, name: str, volumes: dict[str, object], tiers: dict[str, Tiers],
                  bound: float, every_start: bool = False) -> Expr:
    """Exact cost of tiered (volume-discounted) pricing over the sum of ``volumes``, which
    is at most ``bound``.

    The total is split into segments between the union of the regions' tier starts; binary
    ``full[k]`` forces segment k to be full before segment k+1 takes anything, so the cost is
    the marginal tiered cost of the total, not an average rate. With several regions each
    segment is shared among them (``q[region,k]``) at each region's own rate. The tiers that
    start at or beyond ``bound`` are left out; with ``every_start`` (a program moved to other
    volumes in place) they are kept, 0 wide, and ``model.tiers.segments`` lists each
    segment with the rows its width is in (``Tiered.segments``)."""
    starts = sorted({s for t in tiers.values() for s, _ in t if every_start or s < bound}
                    | {0.0})
    ends = [*starts[1:], math.inf]
    # a segment holds what of the volume can fall between its start and the next one
    widths = [max(min(end, bound) - start, 0.0) if every_start
              else (end - start if end < math.inf else max(bound - start, 0.0))
              for start, end in zip(starts, ends, strict=True)]

    def rate(t: Tiers, at: float) -> float:
        return [r for s, r in t if s <= at][-1]

    model.tiers.segments = []
    if len(starts) == 1 and len({rate(t, 0.0) for t in tiers.values()}) == 1:
        # one rate over every volume that can occur: no segments needed
        return linear((volume, rate(next(iter(tiers.values())), 0.0)) for volume in volumes.values())
    name = _n(name)
    seg = [model.prob.var(f"{name}.seg{k}", 0, widths[k]) for k in range(len(starts))]
    fulls: list[Var] = []
    fills: list[Row] = []
    orders: list[Row] = []
    for k in range(len(starts) - 1):
        full = model.prob.binary(f"{name}.full{k}")
        fulls.append(full)
        fills.append(model.constrain([(seg[k], 1.0), (full, -widths[k])], GE, 0.0,
                                     f"{name}.fill{k}"))
        orders.append(model.constrain([(seg[k + 1], 1.0), (full, -widths[k + 1])], LE, 0.0,
                                      f"{name}.order{k}"))
    if every_start:
        model.tiers.segments = [
            (seg[k], starts[k], ends[k],
             (fills[k], fulls[k]) if k < len(fulls) else None,
             (orders[k - 1], fulls[k - 1]) if k > 0 else None)
            for k in range(len(starts))]
    model.tiers.groups.append((seg, starts, fulls))
    groups: dict[Tiers, list[str]] = defaultdict(list)
    for v in sorted(volumes):
        groups[tiers[v]].append(v)
    if len(groups) == 1:
        ((table, members),) = groups.items()
        model.constrain([*((x, 1.0) for x in seg), *((volumes[v], -1.0) for v in members)],
                        EQ, 0.0, f"{name}.total")
        return linear((seg[k], rate(table, starts[k])) for k in range(len(starts)))
    # regions with the same tiers share one split variable per segment
    shared = {members[0]: linear((volumes[v], 1.0) for v in members)
              for members in groups.values()}
    tables = {members[0]: table for table, members in groups.items()}
    regions_ = sorted(shared)
    q = {(v, k): model.prob.var(_n(f"{name}.q[{v},{k}]"), 0)
         for v in regions_ for k in range(len(starts))}
    for k in range(len(starts)):
        model.constrain([*((q[(v, k)], 1.0) for v in regions_), (seg[k], -1.0)],
                        EQ, 0.0, f"{name}.split{k}")
    for v in regions_:
        model.constrain([*((q[(v, k)], 1.0) for k in range(len(starts))), (shared[v], -1.0)],
                        EQ, 0.0, _n(f"{name}.region[{v}]"))
    return linear((q[(v, k)], rate(tables[v], starts[k])) for v in regions_
                  for k in range(len(starts)))
