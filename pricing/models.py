"""Price records: what every source produces and the optimizer consumes (SPEC section 3).

Records are frozen dataclasses whose field names carry their units. Change one with
:func:`dataclasses.replace`, never in place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from functools import cached_property

HOURS_PER_MONTH = 730.0
GB_PER_TB = 1000.0


class Provider(StrEnum):
    """Every cloud tco prices. The first three are the hyperscalers a plan uses by default
    (SPEC 7); the others are the GPU clouds of SPEC 18, used when a plan names them."""

    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"
    LAMBDA = "lambda"
    NEBIUS = "nebius"
    COREWEAVE = "coreweave"
    CRUSOE = "crusoe"
    RUNPOD = "runpod"
    OCI = "oci"


# what ``[cloud] providers`` means when a plan does not say
DEFAULT_PROVIDERS = (Provider.AWS, Provider.GCP, Provider.AZURE)


class Purchase(StrEnum):
    ON_DEMAND = "on_demand"
    SPOT = "spot"
    RESERVED_1Y = "reserved_1y"
    RESERVED_3Y = "reserved_3y"
    # an hourly commitment for the term, used or not (AWS EC2 Instance Savings Plans, Azure
    # savings plan for compute): priced at its effective $/instance-hour, in any amount
    SAVINGS_PLAN_1Y = "savings_plan_1y"
    SAVINGS_PLAN_3Y = "savings_plan_3y"
    # AWS EC2 Capacity Blocks for ML: instances booked in whole days, paid whether used or not
    CAPACITY_BLOCK = "capacity_block"
    OWNED = "owned"
    QUOTE = "quote"            # a team's negotiated offer, ``[[cloud.quotes]]`` (SPEC 18)

    @property
    def is_reserved(self) -> bool:
        """Paid every month of a 1- or 3-year term, used or not: reservations and savings
        plans."""
        return self.term_months > 0

    @property
    def is_savings_plan(self) -> bool:
        return self in (Purchase.SAVINGS_PLAN_1Y, Purchase.SAVINGS_PLAN_3Y)

    @property
    def term_months(self) -> int:
        return {Purchase.RESERVED_1Y: 12, Purchase.RESERVED_3Y: 36, Purchase.SAVINGS_PLAN_1Y: 12,
                Purchase.SAVINGS_PLAN_3Y: 36}.get(self, 0)


# what a cloud sells (every purchase option but owning and quotes)
CLOUD_PURCHASES = (Purchase.ON_DEMAND, Purchase.SPOT, Purchase.RESERVED_1Y, Purchase.RESERVED_3Y,
                   Purchase.SAVINGS_PLAN_1Y, Purchase.SAVINGS_PLAN_3Y, Purchase.CAPACITY_BLOCK)
# a capacity block is booked by the instance-day
HOURS_PER_DAY = 24.0


class Source(StrEnum):
    LIVE = "live"
    SNAPSHOT = "snapshot"
    USER = "user"


def effective_usd_per_hour(recurring_usd_per_hour: float, upfront_usd: float, term_months: int) -> float:
    """Effective hourly price: ``recurring + upfront / (term_months * 730)`` (SPEC 3)."""
    if term_months <= 0:
        return recurring_usd_per_hour
    return recurring_usd_per_hour + upfront_usd / (term_months * HOURS_PER_MONTH)


@dataclass(frozen=True)
class ComputePrice:
    """One (provider, region, instance_type, purchase) offer; prices are for the whole instance."""

    provider: str
    region: str
    instance_type: str
    gpu: str
    gpu_count: int
    gpu_memory_gib: float
    vcpus: int
    memory_gib: float
    purchase: Purchase
    usd_per_hour: float
    upfront_usd: float
    term_months: int
    source: Source
    source_ref: str
    as_of: dt.date

    @property
    def usd_per_gpu_hour(self) -> float:
        return self.usd_per_hour / self.gpu_count

    @property
    def venue(self) -> str:
        return f"{self.provider}:{self.region}"

    def to_dict(self) -> dict[str, object]:
        return _record_dict(self)


Tiers = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class StoragePrice:
    """Object storage: ``tiers`` are ``(start_gb, usd_per_gb_month)``, applied marginally."""

    provider: str
    region: str
    storage_class: str
    tiers: Tiers
    source: Source
    source_ref: str
    as_of: dt.date

    def to_dict(self) -> dict[str, object]:
        return _record_dict(self)


@dataclass(frozen=True)
class EgressPrice:
    """Internet egress: ``tiers`` are ``(start_gb, usd_per_gb)`` of a month, applied marginally."""

    provider: str
    region: str
    destination: str
    tiers: Tiers
    source: Source
    source_ref: str
    as_of: dt.date

    def to_dict(self) -> dict[str, object]:
        return _record_dict(self)


def _record_dict(record: object) -> dict[str, object]:
    """A record's fields as JSON values, in field order (enums by value, dates ISO)."""
    out: dict[str, object] = {}
    for f in fields(record):  # type: ignore[arg-type]
        value = getattr(record, f.name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif f.name == "tiers":
            if all(rate == 0 for _, rate in value):
                out["free"] = True        # a source said so: read back, it stays valid
            value = [list(t) for t in value]
        out[f.name] = value
    return out


class NoticeKind(StrEnum):
    """What a catalog check found about one record (see ``integrity.check_catalog``)."""

    EXCLUDED = "excluded"                          # unusable data: left out of the catalog
    SPOT_NOT_CHEAPER = "spot_not_cheaper"
    RESERVED_NOT_CHEAPER = "reserved_not_cheaper"
    GPU_FACTS_DIFFER = "gpu_facts_differ"


@dataclass(frozen=True)
class RecordNotice:
    """A finding about one catalog record, kept with the record so that a report can say it
    only when the plan could use that offer. ``other`` is the record it was compared with (the
    on-demand price, the record with different GPU facts); ``text`` says it in full."""

    kind: NoticeKind
    record: ComputePrice | StoragePrice | EgressPrice
    text: str
    other: ComputePrice | None = None


@dataclass(frozen=True)
class ProviderProvenance:
    """Which source a catalog used for one provider, and how old its prices are."""

    provider: str
    source: str
    as_of: dt.date
    records: int

    def to_dict(self) -> dict[str, object]:
        return {"provider": self.provider, "source": self.source,
                "as_of": self.as_of.isoformat(), "records": self.records}


@dataclass(frozen=True)
class Catalog:
    """Everything known about prices: compute, storage and egress records."""

    compute: tuple[ComputePrice, ...] = ()
    storage: tuple[StoragePrice, ...] = ()
    egress: tuple[EgressPrice, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # findings about single records, for a report to filter by what a plan could use
    notices: tuple[RecordNotice, ...] = field(default=(), compare=False)
    # the catalog file it was read from (``--catalog``); None for the snapshot and the cache
    origin: str | None = field(default=None, compare=False)

    def compute_of(self, providers: tuple[str, ...]) -> tuple[ComputePrice, ...]:
        """The compute records of ``providers``, in catalog order; each choice of providers is
        filtered once per catalog (every scenario asks, and the snapshot has about 1,600)."""
        chosen = self._compute_by_providers.get(providers)
        if chosen is None:
            wanted = set(providers)
            chosen = self._compute_by_providers[providers] = tuple(
                r for r in self.compute if r.provider in wanted)
        return chosen

    @cached_property
    def _compute_by_providers(self) -> dict[tuple[str, ...], tuple[ComputePrice, ...]]:
        return {}

    @property
    def providers(self) -> list[str]:
        seen = {r.provider for r in self.compute} | {r.provider for r in self.storage} | {
            r.provider for r in self.egress}
        return sorted(seen)

    def provenance(self) -> list[ProviderProvenance]:
        """Per provider: the source(s) used and the oldest ``as_of`` among its records."""
        out = []
        for provider in self.providers:
            recs: list[ComputePrice | StoragePrice | EgressPrice] = [
                *(r for r in self.compute if r.provider == provider),
                *(r for r in self.storage if r.provider == provider),
                *(r for r in self.egress if r.provider == provider),
            ]
            sources = sorted({r.source.value for r in recs})
            out.append(ProviderProvenance(provider, "+".join(sources),
                                          min(r.as_of for r in recs), len(recs)))
        return out


    def to_dict(self) -> dict[str, object]:
        return {
            "schema": 1,
            "compute": [r.to_dict() for r in self.compute],
            "storage": [r.to_dict() for r in self.storage],
            "egress": [r.to_dict() for r in self.egress],
        }
