"""One set of rules every catalog must satisfy, whatever its source.

``check_catalog`` splits a catalog's records into the usable and the rejected: a compute
record with a non-positive price, an unknown GPU class or an inconsistent GPU count is
excluded (unknown is never zero) and reported. Softer anomalies — a reservation dearer per
hour than on-demand, spot dearer than on-demand — are kept and reported as warnings.

Each finding is also kept in ``catalog.notices`` with the record it is about, not in
``catalog.warnings``: whether it matters depends on the plan (a spot price in a region the plan
never uses does not), so the report decides which to show (``tco.optimizer.notices``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .models import Catalog, ComputePrice, NoticeKind, Purchase, RecordNotice
from .reference import gpu_classes


@dataclass(frozen=True)
class IntegrityReport:
    catalog: Catalog
    rejected: tuple[str, ...]
    warnings: tuple[str, ...]


def _label(r: ComputePrice) -> str:
    return f"{r.provider}:{r.region} {r.instance_type} {r.purchase.value}"


def compute_problem(r: ComputePrice) -> str | None:
    """Why ``r`` cannot be used, or None when it can."""
    if not math.isfinite(r.usd_per_hour) or r.usd_per_hour <= 0:
        return f"{_label(r)}: price {r.usd_per_hour!r} is not positive (excluded, never used as $0)"
    if r.upfront_usd < 0:
        return f"{_label(r)}: negative upfront fee {r.upfront_usd!r}"
    if r.gpu not in gpu_classes():
        return f"{_label(r)}: unknown GPU class {r.gpu!r}"
    if r.gpu_count <= 0:
        return f"{_label(r)}: GPU count {r.gpu_count} is not positive"
    if r.purchase == Purchase.OWNED:
        return f"{_label(r)}: 'owned' is not a cloud purchase option"
    if r.purchase.is_reserved and r.term_months != r.purchase.term_months:
        return f"{_label(r)}: term {r.term_months} months does not match {r.purchase.value}"
    return None


def check_catalog(catalog: Catalog) -> IntegrityReport:
    rejected: list[str] = []
    warnings: list[str] = []
    notices: list[RecordNotice] = []
    kept: list[ComputePrice] = []
    for r in catalog.compute:
        problem = compute_problem(r)
        if problem:
            rejected.append(problem)
            notices.append(RecordNotice(NoticeKind.EXCLUDED, r, problem))
        else:
            kept.append(r)

    shapes: dict[tuple[str, str], ComputePrice] = {}
    on_demand: dict[tuple[str, str, str], ComputePrice] = {}
    for r in kept:
        first = shapes.setdefault((r.provider, r.instance_type), r)
        if (first.gpu, first.gpu_count) != (r.gpu, r.gpu_count):
            text = (f"{r.provider} {r.instance_type}: GPU facts differ between records "
                    f"({(first.gpu, first.gpu_count)} vs {(r.gpu, r.gpu_count)})")
            warnings.append(text)
            notices.append(RecordNotice(NoticeKind.GPU_FACTS_DIFFER, r, text, first))
        if r.purchase == Purchase.ON_DEMAND:
            on_demand[(r.provider, r.region, r.instance_type)] = r
    for r in kept:
        od = on_demand.get((r.provider, r.region, r.instance_type))
        if od is None or r.purchase == Purchase.ON_DEMAND:
            continue
        if r.usd_per_hour >= od.usd_per_hour * (1 - 1e-9):
            text = (f"{_label(r)}: ${r.usd_per_hour:.4f}/h is not cheaper than on-demand "
                    f"${od.usd_per_hour:.4f}/h")
            warnings.append(text)
            kind = (NoticeKind.SPOT_NOT_CHEAPER if r.purchase == Purchase.SPOT
                    else NoticeKind.RESERVED_NOT_CHEAPER)
            notices.append(RecordNotice(kind, r, text, od))

    good_storage = []
    for s in catalog.storage:
        if all(rate > 0 for _, rate in s.tiers):
            good_storage.append(s)
        else:
            text = f"{s.provider}:{s.region} storage {s.storage_class}: a zero tier rate"
            rejected.append(text)
            notices.append(RecordNotice(NoticeKind.EXCLUDED, s, text))
    # checking a checked catalog again finds the same notices: keep each once
    cleaned = replace(catalog, compute=tuple(kept), storage=tuple(good_storage),
                      notices=tuple(dict.fromkeys((*catalog.notices, *notices))))
    return IntegrityReport(cleaned, tuple(rejected), tuple(warnings))
