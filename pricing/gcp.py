"""GCP live prices from the Cloud Billing Catalog API (``google-cloud-billing``).

GCP publishes no per-machine-type price for the GPU machine families: a machine is billed as
the sum of its components. This module lists the SKUs of Compute Engine
(``services/6F81-5844-456A``) and Cloud Storage (``services/95FF-2EF5-5EA1``) with
``CloudCatalogClient.list_skus`` (every page) and composes each machine type of
``data/instances_gcp.csv`` per region and purchase option::

    vCPUs x core SKU + GiB x RAM SKU + GPUs x GPU SKU (+ bundled local SSD GiB x local-SSD SKU)

A3 Mega's core and RAM SKUs are the ``A3Plus`` family's, A3 Ultra's (H200) the ``A3Ultra``
family's; A4 (B200) has none: it is billed per GPU slice (``A4 Nvidia B200 (1 gpu slice)``),
which includes the slice's vCPUs, memory and Local SSD, so an a4-highgpu-8g is 8 slices.

How SKUs are read:

- A SKU applies to a region when its ``serviceRegions`` contains that region.
- The purchase option is the SKU's ``category.usageType``: ``OnDemand`` -> on_demand,
  ``Preemptible`` -> spot, ``Commit1Yr`` / ``Commit3Yr`` -> reserved_1y / reserved_3y (committed
  use discounts have no upfront fee). The description must agree with it (a ``Spot
  Preemptible ...`` or ``Commitment v1: ...`` description under another usage type is
  ignored), so a spot SKU can never price an on-demand machine.
- Components are recognised by the description once the purchase wording and the location
  are taken off, and the remainder must match a pattern exactly: ``A2 Instance Core running
  in Americas``, ``Spot Preemptible A2 Instance Core running in Americas`` and ``Commitment
  v1: A2 Cpu in Americas for 1 Year`` are all the A2 core; ``Reserved A2 Instance Core ...``
  or ``A2 Custom Instance Core ...`` are not.
- The price is ``units + nanos / 1e9`` of the tier that applies from the first unit (the
  last, i.e. current, entry of ``pricingInfo``), in USD. Usage units: ``h`` for cores and
  GPUs, ``GiBy.h`` for RAM, ``GiBy.mo`` (divided by 730) or ``GiBy.h`` for local SSD.
- When several SKUs price the same component in a region, the one with the fewest service
  regions (the most specific) is used; a tie with different prices is reported.

A machine with ANY component missing, priced at 0 or ambiguous in a region is left out there
(never priced partially) and reported in ``FetchResult.warnings``.

Storage is the regional ``Standard Storage`` SKU per region (``GiBy.mo``); internet egress is
the Premium Tier ``Network Internet Egress from X to Y`` / ``Network Internet Data Transfer
Out from X to Y`` SKUs of a region. GCP prices egress per destination; the ``internet``
record takes the tier schedule shared by most destinations other than China and Australia
(the same rule as the bundled snapshot, see ``data/snapshot/SOURCES_gcp.md``). GCP bills
both in GiB; tiers are converted to GB (``start_gb = start * 1.073741824``, ``usd_per_gb =
rate / 1.073741824``), as the snapshot loader does.

Credentials: an API key in ``TCO_GCP_API_KEY``, else Application Default Credentials.
``TCO_GCP_CATALOG_ENDPOINT`` selects the REST transport at that endpoint; an endpoint with
an ``http://`` scheme is used as given (for a local stand-in), one without a scheme gets
``https://``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from .base import FetchResult, Progress
from .errors import MissingCredentialsError, PricingError
from .models import ComputePrice, EgressPrice, Purchase, Source, StoragePrice, Tiers
from .settings import PricingSettings
from .tiers import validate_tiers

PROVIDER = "gcp"
COMPUTE_SERVICE = "services/6F81-5844-456A"
STORAGE_SERVICE = "services/95FF-2EF5-5EA1"
SERVICE_NAMES = {COMPUTE_SERVICE: "Compute Engine", STORAGE_SERVICE: "Cloud Storage"}

API_KEY_ENV = "TCO_GCP_API_KEY"
ENDPOINT_ENV = "TCO_GCP_CATALOG_ENDPOINT"
CREDENTIALS_HINT = ("set TCO_GCP_API_KEY or configure Application Default Credentials "
                    "(gcloud auth application-default login)")
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

PAGE_SIZE = 5000
CURRENCY = "USD"
HOURS_PER_MONTH = Decimal(730)
GIB_IN_GB = 1.073741824

USAGE_PURCHASE: dict[str, Purchase] = {
    "OnDemand": Purchase.ON_DEMAND,
    "Preemptible": Purchase.SPOT,
    "Commit1Yr": Purchase.RESERVED_1Y,
    "Commit3Yr": Purchase.RESERVED_3Y,
}

# GCP sells a3-highgpu-1g/2g/4g only as Spot (or Flex-start) VMs: their on-demand and committed
# component sums are not purchasable prices (see data/snapshot/SOURCES_gcp.md).
SPOT_ONLY = frozenset({"a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g"})
# machine series whose core and RAM SKUs carry another family name
SERIES_FAMILIES = {"a3-megagpu": "a3plus", "a3-ultragpu": "a3ultra"}
# families billed per GPU slice (GPU, vCPUs and memory in one SKU)
SLICED_FAMILIES = frozenset({"a4"})

# GPU SKU descriptions (purchase wording and location removed) -> the GPU SKU class.
_GPU_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Nvidia (?:Tesla )?A100 GPU$", re.IGNORECASE), "A100-40GB"),
    (re.compile(r"^Nvidia (?:Tesla )?A100 80GB GPU$", re.IGNORECASE), "A100-80GB"),
    (re.compile(r"^Nvidia H100 (?:80GB )?GPU$", re.IGNORECASE), "H100"),
    (re.compile(r"^Nvidia H100 (?:80GB )?Mega GPU$", re.IGNORECASE), "H100-MEGA"),
    # newer GPU SKUs drop the Nvidia prefix: "H200 141GB GPU running in Americas"
    (re.compile(r"^(?:Nvidia )?H200 141GB GPU$", re.IGNORECASE), "H200"),
    # A4 has no core or RAM SKU: one GPU with its share of vCPUs and memory is one "slice"
    (re.compile(r"^A4 Nvidia B200 \(1 gpu slice\)$", re.IGNORECASE), "B200-SLICE"),
    (re.compile(r"^Nvidia L4 GPU$", re.IGNORECASE), "L4"),
)
_CORE = re.compile(r"^(?P<family>[A-Z]\d[A-Z0-9]*) (?:Instance )?(?:Core|Cpu)$", re.IGNORECASE)
_RAM = re.compile(r"^(?P<family>[A-Z]\d[A-Z0-9]*) (?:Instance )?Ram$", re.IGNORECASE)
_LOCAL_SSD = re.compile(r"^(?:SSD backed Local Storage|Local SSD)$", re.IGNORECASE)

_COMMIT_PREFIX = re.compile(r"^Commitment(?: v\d+)?:\s*", re.IGNORECASE)
_TERM_SUFFIX = re.compile(r"\s+for\s+(\d+)\s+Years?$", re.IGNORECASE)
_SPOT_WORD = re.compile(r"\b(?:Spot|Preemptible)\b", re.IGNORECASE)
_SPOT_PREFIX = re.compile(r"^(?:Spot\s+)?Preemptible\s+", re.IGNORECASE)
_ATTACHED = re.compile(r"\s+attached to\b.*?\bVMs\b", re.IGNORECASE)
_LOCATION = re.compile(r"\s+(?:running\s+)?in\s+.*$", re.IGNORECASE)

_EGRESS = re.compile(r"^Network Internet (?:Egress|Data Transfer Out) from (?P<src>.+?) "
                     r"to (?P<dst>.+)$", re.IGNORECASE)
_EGRESS_OTHER_DESTINATIONS = re.compile(r"china|australia", re.IGNORECASE)
_STANDARD_STORAGE = re.compile(r"^Standard Storage\b", re.IGNORECASE)
_NOT_REGIONAL = re.compile(r"dual-region|multi-region", re.IGNORECASE)

# (usage unit -> divisor to a per-hour rate) accepted per component kind.
_HOURLY_UNITS: dict[str, dict[str, Decimal]] = {
    "core": {"h": Decimal(1)},
    "gpu": {"h": Decimal(1)},
    "ram": {"GiBy.h": Decimal(1)},
    "local_ssd": {"GiBy.h": Decimal(1), "GiBy.mo": HOURS_PER_MONTH},
}


# --------------------------------------------------------------------------------------------
# Plain data
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sku:
    """The fields of one catalog SKU this module uses; ``tiers`` are ``(start, unit price)``
    in the SKU's usage unit."""

    sku_id: str
    description: str
    resource_family: str
    resource_group: str
    usage_type: str
    regions: tuple[str, ...]
    usage_unit: str
    currency: str
    tiers: tuple[tuple[float, Decimal], ...]


@dataclass(frozen=True)
class Component:
    """What a compute SKU prices: ``kind`` (core, ram, gpu, local_ssd), ``key`` (the machine
    family for core/ram, the GPU SKU class for gpu, "" for local SSD) and the purchase."""

    kind: str
    key: str
    purchase: Purchase


@dataclass(frozen=True)
class MachineShape:
    """One row of ``data/instances_gcp.csv``."""

    instance_type: str
    gpu: str
    gpu_count: int
    gpu_memory_gib: float
    vcpus: int
    memory_gib: Decimal
    local_ssd_gib: Decimal

    @property
    def family(self) -> str:
        """The family of its core and RAM SKUs: the machine series, but for A3 Mega (billed as
        "A3Plus Instance Core") and A3 Ultra ("A3Ultra Instance Core")."""
        series = self.instance_type.rsplit("-", 1)[0].lower()
        return SERIES_FAMILIES.get(series, self.instance_type.split("-", 1)[0].lower())

    @property
    def gpu_sku(self) -> str:
        """The GPU SKU class billed for this machine (A3 Mega has its own H100 SKU; A4's is a
        slice that includes its vCPUs and memory)."""
        if self.instance_type.startswith("a3-megagpu"):
            return "H100-MEGA"
        return f"{self.gpu}-SLICE" if self.family in SLICED_FAMILIES else self.gpu

    def purchases(self) -> tuple[Purchase, ...]:
        """Purchase options GCP sells this machine type under."""
        if self.instance_type in SPOT_ONLY:
            return (Purchase.SPOT,)
        return (Purchase.ON_DEMAND, Purchase.SPOT, Purchase.RESERVED_1Y, Purchase.RESERVED_3Y)

    def requirements(self) -> tuple[tuple[str, str, Decimal], ...]:
        """``(kind, key, quantity)`` of every component the machine is billed for."""
        if self.family in SLICED_FAMILIES:
            # vCPUs, memory and the bundled Local SSD are in the GPU slices' price (GCP's spot
            # a4-highgpu-8g is exactly 8 spot slices: SOURCES_gcp.md)
            return (("gpu", self.gpu_sku, Decimal(self.gpu_count)),)
        else:
            needs = [("core", self.family, Decimal(self.vcpus)),
                     ("ram", self.family, self.memory_gib),
                     ("gpu", self.gpu_sku, Decimal(self.gpu_count))]
        if self.local_ssd_gib > 0:
            needs.append(("local_ssd", "", self.local_ssd_gib))
        return tuple(needs)


@dataclass(frozen=True)
class PricedSku:
    """A SKU with its rate converted to USD per unit-hour."""

    sku: Sku
    rate: Decimal


@dataclass
class ComponentIndex:
    """Component SKUs by ``(kind, key, purchase, region)``."""

    entries: dict[tuple[str, str, Purchase, str], list[PricedSku]] = field(
        default_factory=lambda: defaultdict(list))
    regions: set[str] = field(default_factory=set)


# --------------------------------------------------------------------------------------------
# Pure functions: SKU parsing and classification
# --------------------------------------------------------------------------------------------

def money(units: int | str, nanos: int | str) -> Decimal:
    """``units + nanos / 1e9`` exactly."""
    return Decimal(int(units)) + Decimal(int(nanos)).scaleb(-9)


def sku_from_message(msg: Any) -> Sku | None:
    """A :class:`Sku` from a ``billing_v1.Sku`` message, or None when it has no price."""
    if not msg.pricing_info:
        return None
    expression = msg.pricing_info[-1].pricing_expression  # chronological: last is current
    rates = list(expression.tiered_rates)
    if not rates:
        return None
    tiers = tuple(sorted((float(r.start_usage_amount), money(r.unit_price.units,
                                                               r.unit_price.nanos))
                         for r in rates))
    return Sku(
        sku_id=msg.sku_id,
        description=msg.description,
        resource_family=msg.category.resource_family,
        resource_group=msg.category.resource_group,
        usage_type=msg.category.usage_type,
        regions=tuple(msg.service_regions),
        usage_unit=expression.usage_unit,
        currency=rates[0].unit_price.currency_code or CURRENCY,
        tiers=tiers,
    )


@dataclass(frozen=True)
class _Name:
    core: str
    commitment: bool
    term_years: int | None
    spot: bool


def _split_description(description: str) -> _Name:
    """The component name of a description without purchase wording and location."""
    text = " ".join(description.split())
    commitment = bool(_COMMIT_PREFIX.match(text))
    text = _COMMIT_PREFIX.sub("", text)
    term = _TERM_SUFFIX.search(text)
    text = _TERM_SUFFIX.sub("", text)
    spot = bool(_SPOT_WORD.search(text))
    text = _SPOT_PREFIX.sub("", text)
    text = _ATTACHED.sub("", text)
    text = _LOCATION.sub("", text)
    return _Name(text.strip(), commitment, int(term.group(1)) if term else None, spot)


def purchase_of(sku: Sku) -> Purchase | None:
    """The purchase option of a SKU: its usage type, if the description agrees with it."""
    purchase = USAGE_PURCHASE.get(sku.usage_type)
    if purchase is None:
        return None
    name = _split_description(sku.description)
    if purchase == Purchase.ON_DEMAND:
        ok = not name.commitment and not name.spot
    elif purchase == Purchase.SPOT:
        ok = name.spot and not name.commitment
    else:
        years = purchase.term_months // 12
        ok = name.commitment and not name.spot and name.term_years in (None, years)
    return purchase if ok else None


def classify_compute_sku(sku: Sku) -> Component | None:
    """The machine component a Compute Engine SKU prices, or None for any other SKU."""
    purchase = purchase_of(sku)
    if purchase is None:
        return None
    name = _split_description(sku.description).core
    if m := _CORE.match(name):
        return Component("core", m.group("family").lower(), purchase)
    if m := _RAM.match(name):
        return Component("ram", m.group("family").lower(), purchase)
    for pattern, gpu in _GPU_PATTERNS:
        if pattern.match(name):
            return Component("gpu", gpu, purchase)
    if _LOCAL_SSD.match(name):
        return Component("local_ssd", "", purchase)
    return None


def first_unit_price(sku: Sku) -> Decimal:
    """The unit price of the tier that applies from the first unit of usage."""
    return min(sku.tiers, key=lambda t: t[0])[1]


def hourly_rate(kind: str, sku: Sku) -> Decimal | None:
    """USD per unit-hour of a component SKU, or None when its usage unit does not fit."""
    divisor = _HOURLY_UNITS[kind].get(sku.usage_unit)
    if divisor is None:
        return None
    return first_unit_price(sku) / divisor


def index_components(skus: Iterable[Sku], regions: set[str] | None,
                     warnings: list[str]) -> ComponentIndex:
    """Index the component SKUs of Compute Engine by kind, key, purchase and region."""
    index = ComponentIndex()
    for sku in skus:
        component = classify_compute_sku(sku)
        if component is None:
            continue
        if sku.currency != CURRENCY:
            warnings.append(f"gcp: SKU {sku.sku_id} ({sku.description}) is priced in "
                            f"{sku.currency}, not {CURRENCY} (ignored)")
            continue
        rate = hourly_rate(component.kind, sku)
        if rate is None:
            warnings.append(f"gcp: SKU {sku.sku_id} ({sku.description}) has usage unit "
                            f"{sku.usage_unit!r}, not one of "
                            f"{sorted(_HOURLY_UNITS[component.kind])} (ignored)")
            continue
        for region in sku.regions:
            if regions is not None and region not in regions:
                continue
            index.regions.add(region)
            index.entries[(component.kind, component.key, component.purchase, region)].append(
                PricedSku(sku, rate))
    return index


def pick_sku(candidates: Sequence[PricedSku]) -> PricedSku | None:
    """The most specific SKU (fewest service regions); None when the most specific ones
    disagree on price."""
    if not candidates:
        return None
    fewest = min(len(c.sku.regions) for c in candidates)
    best = sorted((c for c in candidates if len(c.sku.regions) == fewest),
                  key=lambda c: c.sku.sku_id)
    if len({c.rate for c in best}) > 1:
        return None
    return best[0]


# --------------------------------------------------------------------------------------------
# Pure functions: composing machine prices
# --------------------------------------------------------------------------------------------

def _label(kind: str, key: str) -> str:
    return {"core": f"{key.upper()} core", "ram": f"{key.upper()} RAM", "gpu": f"{key} GPU",
            "local_ssd": "Local SSD"}[kind]


def compose_machine(shape: MachineShape, purchase: Purchase, region: str, index: ComponentIndex,
                    as_of: dt.date) -> tuple[ComputePrice | None, str | None]:
    """One machine's price in one region, or the reason it cannot be priced there.

    Returns ``(record, None)``, ``(None, problem)``, or ``(None, None)`` when the region has
    none of the machine's components for that purchase (nothing to report).
    """
    total = Decimal(0)
    refs: list[str] = []
    problems: list[str] = []
    seen_any = False
    for kind, key, quantity in shape.requirements():
        candidates = index.entries.get((kind, key, purchase, region), [])
        seen_any = seen_any or bool(candidates)
        chosen = pick_sku(candidates)
        if not candidates:
            problems.append(f"no {_label(kind, key)} SKU")
        elif chosen is None:
            ids = "/".join(sorted(c.sku.sku_id for c in candidates))
            problems.append(f"{_label(kind, key)} SKUs {ids} disagree on price")
        elif chosen.rate <= 0:
            problems.append(f"{_label(kind, key)} SKU {chosen.sku.sku_id} is priced "
                            f"{chosen.rate} (never used as $0)")
        else:
            total += quantity * chosen.rate
            refs.append(chosen.sku.sku_id)
    if problems:
        return None, ("; ".join(problems) if seen_any else None)
    record = ComputePrice(
        provider=PROVIDER, region=region, instance_type=shape.instance_type, gpu=shape.gpu,
        gpu_count=shape.gpu_count, gpu_memory_gib=shape.gpu_memory_gib, vcpus=shape.vcpus,
        memory_gib=float(shape.memory_gib), purchase=purchase, usd_per_hour=float(total),
        upfront_usd=0.0, term_months=purchase.term_months, source=Source.LIVE,
        source_ref="+".join(refs), as_of=as_of)
    return record, None


def compose_compute(shapes: Sequence[MachineShape], index: ComponentIndex,
                    as_of: dt.date) -> tuple[list[ComputePrice], list[str]]:
    """Every machine type priced in every region of ``index``, plus the left-out ones."""
    records: list[ComputePrice] = []
    left_out: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for shape in shapes:
        for purchase in shape.purchases():
            for region in sorted(index.regions):
                record, problem = compose_machine(shape, purchase, region, index, as_of)
                if record is not None:
                    records.append(record)
                elif problem is not None:
                    left_out[(shape.instance_type, purchase.value, problem)].append(region)
    warnings = [f"gcp: {itype} {purchase} left out in {', '.join(regions)}: {problem}"
                for (itype, purchase, problem), regions in left_out.items()]
    return records, warnings


# --------------------------------------------------------------------------------------------
# Pure functions: storage and egress tiers
# --------------------------------------------------------------------------------------------

def gib_tiers_to_gb(tiers: Sequence[tuple[float, Decimal]]) -> Tiers:
    """GiB tiers ``(start_gib, usd_per_gib)`` as GB tiers ``(start_gb, usd_per_gb)``."""
    return tuple((float(start) * GIB_IN_GB, float(rate) / GIB_IN_GB) for start, rate in tiers)


def _regions_of(skus: Iterable[Sku], regions: set[str] | None) -> list[str]:
    found = {r for s in skus for r in s.regions}
    return sorted(found if regions is None else found & regions)


def is_regional_standard_storage(sku: Sku) -> bool:
    """A regional Standard class Cloud Storage SKU, billed per GiB-month, on demand."""
    return (sku.resource_group == "RegionalStorage" and sku.usage_type == "OnDemand"
            and sku.usage_unit == "GiBy.mo" and sku.currency == CURRENCY
            and bool(_STANDARD_STORAGE.match(sku.description))
            and not _NOT_REGIONAL.search(sku.description))


def storage_prices(skus: Iterable[Sku], regions: set[str] | None,
                   as_of: dt.date) -> tuple[list[StoragePrice], list[str]]:
    """Standard storage per region. A leading free allowance (rate 0) is dropped so the
    first paid rate applies from 0 GB; any other zero rate leaves the region out."""
    matching = [s for s in skus if is_regional_standard_storage(s)]
    records: list[StoragePrice] = []
    warnings: list[str] = []
    freed: list[str] = []
    for region in _regions_of(matching, regions):
        chosen = _pick_tiered([s for s in matching if region in s.regions])
        if chosen is None:
            warnings.append(f"gcp: storage in {region} left out: Standard Storage SKUs "
                            "disagree on price")
            continue
        tiers = list(chosen.tiers)
        while len(tiers) > 1 and tiers[0][1] == 0:
            tiers.pop(0)
            freed.append(region)
        tiers[0] = (0.0, tiers[0][1])
        if any(rate <= 0 for _, rate in tiers):
            warnings.append(f"gcp: storage in {region} left out: SKU {chosen.sku_id} has a "
                            "rate of 0 (never used as $0)")
            continue
        records.append(StoragePrice(PROVIDER, region, "standard", gib_tiers_to_gb(tiers),
                                    Source.LIVE, chosen.sku_id, as_of))
    if freed:
        warnings.append("gcp: storage free allowance not modelled (first paid rate applies "
                        f"from 0 GB) in {', '.join(sorted(set(freed)))}")
    return records, warnings


def _pick_tiered(candidates: Sequence[Sku]) -> Sku | None:
    """The most specific of several tiered SKUs; None when those disagree."""
    if not candidates:
        return None
    fewest = min(len(s.regions) for s in candidates)
    best = sorted((s for s in candidates if len(s.regions) == fewest), key=lambda s: s.sku_id)
    if len({s.tiers for s in best}) > 1:
        return None
    return best[0]


def is_internet_egress(sku: Sku) -> bool:
    """A Premium Tier internet egress SKU billed per GiB (any destination)."""
    return (sku.resource_group == "PremiumInternetEgress" and sku.usage_type == "OnDemand"
            and sku.usage_unit == "GiBy" and sku.currency == CURRENCY
            and bool(_EGRESS.match(" ".join(sku.description.split()))))


def egress_destination(sku: Sku) -> str:
    m = _EGRESS.match(" ".join(sku.description.split()))
    return m.group("dst") if m else ""


def egress_prices(skus: Iterable[Sku], regions: set[str] | None,
                  as_of: dt.date) -> tuple[list[EgressPrice], list[str]]:
    """Internet egress per region: the tier schedule most destinations (other than China and
    Australia) share; on a tie, the dearer one."""
    matching = [s for s in skus if is_internet_egress(s)
                and not _EGRESS_OTHER_DESTINATIONS.search(egress_destination(s))]
    records: list[EgressPrice] = []
    warnings: list[str] = []
    for region in _regions_of(matching, regions):
        here = [s for s in matching if region in s.regions]
        votes = Counter(s.tiers for s in here)
        tiers = max(votes, key=lambda t: (votes[t], first_rate(t), t))
        refs = "+".join(sorted(s.sku_id for s in here if s.tiers == tiers))
        try:
            gb = validate_tiers(gib_tiers_to_gb(tiers))
        except ValueError as exc:
            warnings.append(f"gcp: egress from {region} left out: SKU {refs}: {exc}")
            continue
        records.append(EgressPrice(PROVIDER, region, "internet", gb, Source.LIVE, refs, as_of))
    return records, warnings


def first_rate(tiers: Sequence[tuple[float, Decimal]]) -> Decimal:
    return min(tiers, key=lambda t: t[0])[1] if tiers else Decimal(0)


# --------------------------------------------------------------------------------------------
# Machine shapes (data file)
# --------------------------------------------------------------------------------------------

def parse_shapes(rows: Iterable[Mapping[str, str]]) -> tuple[MachineShape, ...]:
    """Machine shapes from the rows of ``instances_gcp.csv``."""
    return tuple(
        MachineShape(
            instance_type=r["instance_type"], gpu=r["gpu"], gpu_count=int(r["gpu_count"]),
            gpu_memory_gib=float(r["gpu_memory_gib"]), vcpus=int(r["vcpus"]),
            memory_gib=Decimal(r["memory_gib"]), local_ssd_gib=Decimal(r["local_ssd_gib"] or 0))
        for r in rows if r.get("provider", PROVIDER) == PROVIDER)


@cache
def load_shapes() -> tuple[MachineShape, ...]:
    """The GCP machine shapes shipped in ``pricing/data/instances_gcp.csv``."""
    path = resources.files("tco.pricing").joinpath("data", "instances_gcp.csv")
    with io.StringIO(path.read_text(encoding="utf-8"), newline="") as fh:
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k}
                for row in csv.DictReader(line for line in fh if not line.startswith("#"))]
    return parse_shapes(rows)


# --------------------------------------------------------------------------------------------
# I/O: the client and the adapter
# --------------------------------------------------------------------------------------------

def build_client(*, api_key: str | None = None, credentials: Any = None,
                 endpoint: str | None = None) -> Any:
    """A ``CloudCatalogClient``: REST at ``endpoint`` when given, else the default transport."""
    from google.cloud import billing_v1

    options: dict[str, Any] = {}
    if api_key:
        options["api_key"] = api_key
    kwargs: dict[str, Any] = {}
    if endpoint:
        options["api_endpoint"] = endpoint.rstrip("/")
        kwargs["transport"] = "rest"
    if credentials is not None:
        kwargs["credentials"] = credentials
    return billing_v1.CloudCatalogClient(client_options=options or None, **kwargs)


def from_env(settings: PricingSettings) -> GcpAdapter:
    """The GCP adapter built from ``TCO_GCP_API_KEY`` or Application Default Credentials."""
    api_key = os.environ.get(API_KEY_ENV, "").strip() or None
    endpoint = os.environ.get(ENDPOINT_ENV, "").strip() or None
    credentials = None
    if api_key is None:
        import google.auth
        from google.auth.exceptions import GoogleAuthError

        try:
            credentials, _project = google.auth.default(scopes=list(SCOPES))
        except GoogleAuthError as exc:
            raise MissingCredentialsError(PROVIDER, CREDENTIALS_HINT) from exc
    try:
        client = build_client(api_key=api_key, credentials=credentials, endpoint=endpoint)
    except ValueError as exc:
        raise PricingError(f"gcp: cannot build the Cloud Billing Catalog client: {exc}") from exc
    return GcpAdapter(client, settings)


def _bounded_retry(settings: PricingSettings) -> Any:
    """Transient errors retried at most ``settings.retries`` times per listing, with backoff."""
    from google.api_core import retry as retries

    if settings.retries <= 0:
        return None
    budget = {"left": settings.retries}

    def predicate(exc: Exception) -> bool:
        if not retries.if_transient_error(exc) or budget["left"] <= 0:
            return False
        budget["left"] -= 1
        return True

    initial = max(settings.backoff_s, 0.01)
    maximum = initial * 2 ** settings.retries
    return retries.Retry(predicate=predicate, initial=initial, multiplier=2.0, maximum=maximum,
                         timeout=(settings.timeout_s + maximum) * (settings.retries + 1))


class GcpAdapter:
    """Live GCP prices (see the module docstring for how SKUs become records)."""

    name = PROVIDER

    def __init__(self, client: Any, settings: PricingSettings,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        self.client = client
        self.settings = settings
        self.today = today

    @property
    def endpoint(self) -> str:
        """The Cloud Billing Catalog API's host (or URL, with an endpoint override)."""
        return str(self.client.api_endpoint)

    def list_skus(self, service: str) -> list[Sku]:
        """Every priced SKU of ``service``, over all pages."""
        import requests
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError

        request = {"parent": service, "currency_code": CURRENCY, "page_size": PAGE_SIZE}
        try:
            pager = self.client.list_skus(request=request, timeout=self.settings.timeout_s,
                                          retry=_bounded_retry(self.settings))
            parsed = (sku_from_message(msg) for msg in pager)
            return [s for s in parsed if s is not None]
        except (GoogleAPIError, GoogleAuthError, requests.RequestException) as exc:
            raise PricingError(f"gcp: listing {SERVICE_NAMES.get(service, service)} SKUs "
                               f"failed: {exc}") from exc

    def fetch(self, regions: Sequence[str] | None = None,
              progress: Progress | None = None) -> FetchResult:
        """Compute, storage and egress prices for ``regions`` (every region when None)."""
        if self.settings.offline:
            raise PricingError("gcp: offline, live prices are not fetched")
        report = progress or (lambda _msg: None)
        wanted = set(regions) if regions is not None else None
        as_of = self.today()
        result = FetchResult()

        report(f"gcp: {SERVICE_NAMES[COMPUTE_SERVICE]}")
        compute_skus = self.list_skus(COMPUTE_SERVICE)
        report(f"gcp: {SERVICE_NAMES[STORAGE_SERVICE]}")
        storage_skus = self.list_skus(STORAGE_SERVICE)

        index = index_components(compute_skus, wanted, result.warnings)
        compute, warnings = compose_compute(load_shapes(), index, as_of)
        result.compute.extend(compute)
        result.warnings.extend(warnings)
        storage, warnings = storage_prices(storage_skus, wanted, as_of)
        result.storage.extend(storage)
        result.warnings.extend(warnings)
        egress, warnings = egress_prices(compute_skus, wanted, as_of)
        result.egress.extend(egress)
        result.warnings.extend(warnings)
        result.warnings.extend(result.unpriced_regions(PROVIDER))
        if regions is not None:
            priced = {r.region for r in result.compute}
            result.warnings.extend(f"gcp: no GPU machine priced in {r}"
                                   for r in regions if r not in priced)
        return result


__all__ = ["COMPUTE_SERVICE", "STORAGE_SERVICE", "Component", "ComponentIndex", "GcpAdapter",
           "MachineShape", "Sku", "build_client", "classify_compute_sku", "compose_compute",
           "compose_machine", "egress_prices", "from_env", "gib_tiers_to_gb", "hourly_rate",
           "index_components", "load_shapes", "money", "parse_shapes", "pick_sku",
           "purchase_of", "sku_from_message", "storage_prices"]
