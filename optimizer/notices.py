"""What a report says about its prices: few lines, each one the plan's reader can act on.

- Findings about single catalog records (``catalog.notices``: spot or a reservation no cheaper
  than on-demand, records left out as unusable, GPU facts that disagree) count only for offers
  the plan could use: one of its providers, in its regions when it restricts them, a purchase
  option it allows, a GPU class one of its workloads accepts (spot only for a workload that may
  be interrupted). They are summed up in one line per kind.
- Prices older than ``STALE_AFTER_DAYS``: one line per provider, with the dates of the prices
  the plan could use, GPU prices apart from storage and egress, and advice that fits where
  they came from (a catalog file is updated; the snapshot or the cache is refreshed).
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Callable, Iterable

from tco.pricing.catalog import matches
from tco.pricing.models import (
    Catalog,
    ComputePrice,
    EgressPrice,
    NoticeKind,
    Purchase,
    RecordNotice,
    StoragePrice,
)

from .plan import Plan

STALE_AFTER_DAYS = 90
_SHOWN = 3          # records named in a line before "and N more"
Record = ComputePrice | StoragePrice | EgressPrice

__all__ = ["STALE_AFTER_DAYS", "could_use", "notice_lines", "price_warnings", "stale_lines"]


def price_warnings(plan: Plan, catalog: Catalog, today: dt.date) -> list[str]:
    """The catalog's own warnings (refresh failures, missing credentials), a line per kind of
    finding about offers the plan could use, and a line per provider whose prices are old."""
    return [*catalog.warnings, *notice_lines(plan, catalog), *stale_lines(plan, catalog, today)]


def could_use(plan: Plan, record: Record) -> bool:
    """Whether any scenario of ``plan`` could use ``record`` (latency and data placement
    aside): a compute offer of its providers, regions, purchase options and GPU classes; the
    storage or egress price of one of its providers' regions (or of a cloud ``data_at``)."""
    return _usable(plan)(record)


def _usable(plan: Plan) -> Callable[[Record], bool]:
    """``could_use`` for one plan, its sets built once (a catalog has ~1,600 offers)."""
    providers = {p.value for p in plan.cloud.providers}
    purchases = [p.value for p in plan.cloud.purchase_options]
    regions = plan.cloud.regions
    data_at = {w.data_at for w in plan.workloads if w.data_at}
    any_gpu = {g for w in plan.workloads for g in w.speeds}
    spot_gpu = {g for w in plan.workloads if w.interruptible for g in w.speeds}

    def usable(record: Record) -> bool:
        if not isinstance(record, ComputePrice):
            in_region = regions is None or record.region in regions
            return ((record.provider in providers and in_region)
                    or f"{record.provider}:{record.region}" in data_at)
        gpus = spot_gpu if record.purchase == Purchase.SPOT else any_gpu
        return record.provider in providers and matches(
            record, provider=providers, region=regions, purchase=purchases, gpu=gpus)
    return usable


def _relevant(usable: Callable[[Record], bool], notice: RecordNotice) -> bool:
    if notice.kind == NoticeKind.GPU_FACTS_DIFFER:
        # the two records disagree; either may be the one the plan would use
        return usable(notice.record) or (notice.other is not None and usable(notice.other))
    return usable(notice.record)


def notice_lines(plan: Plan, catalog: Catalog) -> list[str]:
    """One line per kind of finding about offers the plan could use."""
    usable = _usable(plan)
    by_kind: dict[NoticeKind, list[RecordNotice]] = {}
    for n in catalog.notices:
        if _relevant(usable, n):
            by_kind.setdefault(n.kind, []).append(n)
    out = []
    for kind in NoticeKind:
        found = list(dict.fromkeys(by_kind.get(kind, [])))
        if found:
            out.append(_summary(kind, found, catalog.origin))
    return out


def _summary(kind: NoticeKind, found: list[RecordNotice], origin: str | None) -> str:
    n = len(found)
    compute = [f.record for f in found if isinstance(f.record, ComputePrice)]
    if kind == NoticeKind.SPOT_NOT_CHEAPER:
        what = f"{n} spot offer{'s cost' if n > 1 else ' costs'} as much as on-demand or more"
    elif kind == NoticeKind.RESERVED_NOT_CHEAPER:
        what = (f"{n} reservation{'s cost' if n > 1 else ' costs'} as much per hour as "
                f"on-demand or more")
    elif kind == NoticeKind.GPU_FACTS_DIFFER:
        types = list(dict.fromkeys(f"{r.provider} {r.instance_type}" for r in compute))
        return (f"{len(types)} instance type{'s have' if len(types) > 1 else ' has'} GPU facts "
                f"that differ between records ({_some(types)}); each record is planned with its "
                f"own")
    else:
        where = f"; fix {'them' if n > 1 else 'it'} in {origin}" if origin else ""
        return (f"{n} offer{'s' if n > 1 else ''} the plan could use {'were' if n > 1 else 'was'} "
                f"left out as unusable: {_some([f.text for f in found], '; ', 1)}{where}")
    return f"{what}; `{_list_command(compute, origin)}` shows {'them' if n > 1 else 'it'}"


def _some(items: list[str], sep: str = ", ", shown: int = _SHOWN) -> str:
    more = len(items) - shown
    return sep.join(items[:shown]) + (f"{sep}and {more} more" if more > 0 else "")


def _list_command(records: list[ComputePrice], origin: str | None) -> str:
    """``tco prices list`` narrowed to the records' purchase options, and to their provider,
    region and GPU class where they share one."""
    args = ["tco", "prices", "list"]
    if origin:
        args += ["--catalog", origin]
    for purchase in sorted({r.purchase.value for r in records}):
        args += ["--purchase", purchase]
    for flag, values in (("--provider", {r.provider for r in records}),
                         ("--region", {r.region for r in records}),
                         ("--gpu", {r.gpu for r in records})):
        if len(values) == 1:
            args += [flag, next(iter(values))]
    return shlex.join(args)


def stale_lines(plan: Plan, catalog: Catalog, today: dt.date) -> list[str]:
    """Per provider of the plan whose prices it could use are older than STALE_AFTER_DAYS: the
    date of each kind (the oldest record of it), and what to do about it."""
    uses_storage = any(w.dataset_tb + w.storage_tb > 0 for w in plan.workloads)
    uses_egress = any(w.egress_tb_per_month > 0 or (w.dataset_tb > 0 and w.data_at
                                                    and ":" in w.data_at)
                      for w in plan.workloads)
    kinds: list[tuple[str, Iterable[Record]]] = [
        ("GPU", catalog.compute), ("storage", catalog.storage if uses_storage else ()),
        ("egress", catalog.egress if uses_egress else ())]
    usable = _usable(plan)
    oldest: dict[tuple[str, str], dt.date] = {}          # (provider, kind) -> oldest as_of
    for name, records in kinds:
        for r in records:
            key = (r.provider, name)
            if (key not in oldest or r.as_of < oldest[key]) and usable(r):
                oldest[key] = r.as_of
    stale = []
    for provider in sorted(p.value for p in plan.cloud.providers):
        old: dict[dt.date, list[str]] = {}       # date -> the kinds priced as of then
        for name, _ in kinds:
            day = oldest.get((provider, name))
            if day is not None and (today - day).days > STALE_AFTER_DAYS:
                old.setdefault(day, []).append(name)
        if old:
            stale.append(f"{provider} " + ", ".join(
                f"{_and(names)} {day.isoformat()}" for day, names in old.items()))
    if not stale:
        return []
    # one line for every provider: what is old, as of when, and the one thing to do
    where = f" in {catalog.origin}" if catalog.origin else ""
    action = ("update the file" if catalog.origin else "run `tco prices refresh`")
    line = (f"prices{where} older than {STALE_AFTER_DAYS} days: {'; '.join(stale)}; {action} "
            f"before committing to a purchase")
    return [line]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
