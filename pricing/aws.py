"""AWS live prices: the Price List API for on-demand, reserved, S3 and egress; EC2 for spot and
GPU facts (SPEC section 3).

Two layers:

* pure functions turn API payloads into records (``parse_price_list``, ``compute_offers``,
  ``best_reserved``, ``latest_spot``, ``facts_from_instance_type``, ``storage_price``,
  ``egress_price``...). They re-check every attribute the request filtered on, so a Windows,
  Capacity Block or $0 row that the server returns anyway never becomes a price;
* :class:`AwsAdapter` does the I/O with boto3 (imported only when a client is built) and
  wraps SDK errors in :class:`~tco.pricing.errors.PricingError`.

A price that is missing or not positive is excluded and reported in ``FetchResult.warnings``.
Reserved terms: of the offers of one term (no/partial/all upfront, standard/convertible) the
one with the lowest effective hourly price ``recurring + upfront / (term_months * 730)``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from .base import FetchResult, Progress
from .errors import MissingCredentialsError, PricingError
from .models import (
    HOURS_PER_MONTH,
    ComputePrice,
    EgressPrice,
    Purchase,
    Source,
    StoragePrice,
    Tiers,
    effective_usd_per_hour,
)
from .reference import InstanceFacts, gpu_classes
from .reference import instance_facts as reference_instance_facts
from .settings import PricingSettings
from .tiers import validate_tiers

NAME = "aws"
PRICING_REGION = "us-east-1"
CREDENTIALS_HINT = "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
PAGE_SIZE = 100
MIB_PER_GIB = 1024.0
A100_80GB_MIN_MIB = 60 * 1024

# What a compute price item must say to be a plain Linux on-demand instance (SPEC 3). Sent as
# server-side filters and checked again, centrally, on every item that comes back.
LINUX_SHARED = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}
ON_DEMAND_MARKET = "OnDemand"
LEASES = {"1yr": Purchase.RESERVED_1Y, "3yr": Purchase.RESERVED_3Y}
UPFRONT_OPTIONS = {"Partial Upfront", "All Upfront"}
SPOT_PRODUCTS = {"Linux/UNIX", "Linux/UNIX (Amazon VPC)"}
# EC2 errors that cost one region its spot prices or API GPU facts, not the whole fetch.
SOFT_EC2_ERRORS = {"OptInRequired", "UnauthorizedOperation", "AuthFailure", "InvalidInstanceType"}
GPU_ALIASES = {"T4G": "T4"}

T = TypeVar("T")


# --------------------------------------------------------------------------- pure data types


@dataclass(frozen=True)
class PriceItem:
    """One decoded entry of a ``get_products`` ``PriceList``."""

    sku: str
    product_family: str
    attributes: Mapping[str, str]
    terms: Mapping[str, Any]


@dataclass(frozen=True)
class Offer:
    """A compute price before the instance facts are attached."""

    region: str
    instance_type: str
    purchase: Purchase
    usd_per_hour: float
    upfront_usd: float
    term_months: int
    source_ref: str


@dataclass(frozen=True)
class SpotQuote:
    """The latest spot price of one instance type in one availability zone."""

    instance_type: str
    availability_zone: str
    usd_per_hour: float
    timestamp: dt.datetime


Parsed = tuple[list[Offer], list[str]]  # offers, and why rows were excluded


# --------------------------------------------------------------------------- reference data


@cache
def csv_facts() -> dict[str, InstanceFacts]:
    """``pricing/data/instances_aws.csv``: GPU facts for the instance types tco prices."""
    return dict(reference_instance_facts(NAME))


# --------------------------------------------------------------------------- request filters


def term_filters(**fields: str) -> list[dict[str, str]]:
    """``TERM_MATCH`` filters for ``get_products``, in the order given."""
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in fields.items()]


def compute_filters(instance_type: str, region: str | None) -> list[dict[str, str]]:
    """Filters for the Linux on-demand price items of one instance type (one or every region)."""
    where = {"instanceType": instance_type}
    if region is not None:
        where["regionCode"] = region
    return term_filters(**where, **LINUX_SHARED, marketoption=ON_DEMAND_MARKET)


def storage_filters(region: str) -> list[dict[str, str]]:
    return term_filters(productFamily="Storage", volumeType="Standard", regionCode=region)


def egress_filters(region: str) -> list[dict[str, str]]:
    return term_filters(transferType="AWS Outbound", fromRegionCode=region, toLocation="External")


# --------------------------------------------------------------------------- price list parsing


def parse_price_list(raw: Iterable[str]) -> tuple[list[PriceItem], list[str]]:
    """Decode ``PriceList`` JSON strings; an undecodable entry is skipped and reported."""
    items: list[PriceItem] = []
    warnings: list[str] = []
    for i, text in enumerate(raw):
        try:
            doc = json.loads(text)
            product = doc["product"]
            items.append(PriceItem(str(product.get("sku", "")),
                                   str(product.get("productFamily", "")),
                                   dict(product.get("attributes") or {}), doc.get("terms") or {}))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            warnings.append(f"aws: price list entry {i} is not a price item ({exc}); skipped")
    return items, warnings


def _usd(dimension: Mapping[str, Any]) -> float | None:
    """The dimension's USD price, or None when it is absent or not a finite number."""
    try:
        value = float(dimension["pricePerUnit"]["USD"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _dimensions(term: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    dims = term.get("priceDimensions") or {}
    return list(dims.values()) if isinstance(dims, Mapping) else []


def _offer_terms(item: PriceItem, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
    """``(offerTermCode, term)`` of ``terms[kind]``, sorted by code."""
    terms = item.terms.get(kind) or {}
    if not isinstance(terms, Mapping):
        return []
    out = []
    for key, term in terms.items():
        if isinstance(term, Mapping):
            out.append((str(term.get("offerTermCode") or key.rpartition(".")[2]), term))
    return sorted(out, key=lambda pair: pair[0])


def is_linux_shared(attributes: Mapping[str, str]) -> bool:
    """Linux, shared tenancy, no pre-installed software, no licence, a used (not reserved) box."""
    return all(attributes.get(k) == v for k, v in LINUX_SHARED.items())


def _label(region: str, instance_type: str) -> str:
    return f"aws:{region} {instance_type}"


def on_demand_offer(item: PriceItem, region: str,
                    instance_type: str) -> tuple[Offer | None, str | None]:
    """The item's on-demand hourly price, or None and why it was excluded."""
    prices = [_usd(d) for _, t in _offer_terms(item, "OnDemand") for d in _dimensions(t)
              if d.get("unit") == "Hrs"]
    positive = [p for p in prices if p is not None and p > 0]
    if not positive:
        shown = ", ".join("missing" if p is None else f"${p:g}" for p in prices) or "no price"
        return None, (f"{_label(region, instance_type)} on_demand: SKU {item.sku} has no positive "
                      f"hourly price ({shown}); excluded")
    return Offer(region, instance_type, Purchase.ON_DEMAND, min(positive), 0.0, 0, item.sku), None


def reserved_offer(sku: str, code: str, term: Mapping[str, Any], region: str,
                   instance_type: str) -> tuple[Offer | None, str | None]:
    """One reserved offering as an offer at its effective hourly price, or why it is excluded.

    ``None, None`` for a lease tco does not model. Unit ``Hrs`` is the recurring hourly price,
    unit ``Quantity`` the upfront fee; a partial/all-upfront offer without a fee is incomplete.
    """
    attrs = term.get("termAttributes") or {}
    purchase = LEASES.get(str(attrs.get("LeaseContractLength", "")))
    if purchase is None:
        return None, None
    option = str(attrs.get("PurchaseOption", ""))
    what = (f"{_label(region, instance_type)} {purchase.value}: offer {sku}.{code} "
            f"({attrs.get('OfferingClass', '?')}, {option or '?'})")
    dims = _dimensions(term)
    hourly = [_usd(d) for d in dims if d.get("unit") == "Hrs"]
    fees = [_usd(d) for d in dims if d.get("unit") == "Quantity"]
    if any(v is None for v in hourly + fees):
        return None, f"{what} has a price without a USD amount; excluded"
    if not hourly and option != "All Upfront":
        return None, f"{what} has no hourly price; excluded"
    if not fees and option in UPFRONT_OPTIONS:
        return None, f"{what} has no upfront fee; excluded"
    recurring = sum(v for v in hourly if v is not None)
    upfront = sum(v for v in fees if v is not None)
    if recurring < 0 or upfront < 0:
        return None, f"{what} has a negative price; excluded"
    effective = effective_usd_per_hour(recurring, upfront, purchase.term_months)
    if effective <= 0:
        return None, f"{what} is priced at $0; excluded"
    return Offer(region, instance_type, purchase, effective, upfront, purchase.term_months,
                 f"{sku}.{code}"), None


def best_reserved(item: PriceItem, region: str, instance_type: str) -> Parsed:
    """Per term, the reserved offer with the lowest effective hourly price.

    Ties go to the smaller upfront fee, then to the offer term code, so the choice is stable.
    """
    warnings: list[str] = []
    best: dict[Purchase, Offer] = {}
    for code, term in _offer_terms(item, "Reserved"):
        offer, problem = reserved_offer(item.sku, code, term, region, instance_type)
        if problem:
            warnings.append(problem)
        if offer is None:
            continue
        current = best.get(offer.purchase)
        if current is None or _rank(offer) < _rank(current):
            best[offer.purchase] = offer
    return [best[p] for p in sorted(best, key=lambda p: p.term_months)], warnings


def _rank(offer: Offer) -> tuple[float, float, str]:
    return (offer.usd_per_hour, offer.upfront_usd, offer.source_ref)


def compute_offers(items: Iterable[PriceItem], instance_types: Iterable[str],
                   regions: Iterable[str] | None = None) -> Parsed:
    """On-demand and reserved offers of Linux shared-tenancy on-demand items.

    Items of another OS, tenancy, licence or capacity status, and instance types or regions not
    asked for, are ignored whatever the server returned. Items whose market is not on-demand
    (Capacity Blocks) and prices that are missing or $0 are excluded and reported.
    """
    wanted_types = set(instance_types)
    wanted_regions = set(regions) if regions is not None else None
    offers: list[Offer] = []
    warnings: list[str] = []
    for item in items:
        attrs = item.attributes
        itype, region = attrs.get("instanceType", ""), attrs.get("regionCode", "")
        if itype not in wanted_types:
            continue
        if wanted_regions is not None and region not in wanted_regions:
            continue
        if not is_linux_shared(attrs):
            continue
        market = attrs.get("marketoption", "")
        if market != ON_DEMAND_MARKET:
            warnings.append(f"{_label(region, itype)}: SKU {item.sku} is a "
                            f"{market or 'unspecified'} market offer, not on-demand; excluded")
            continue
        offer, problem = on_demand_offer(item, region, itype)
        offers.extend([offer] if offer else [])
        warnings.extend([problem] if problem else [])
        reserved, notes = best_reserved(item, region, itype)
        offers.extend(reserved)
        warnings.extend(notes)
    return _dedupe(offers, warnings)


def _dedupe(offers: list[Offer], warnings: list[str]) -> Parsed:
    """One offer per (region, instance type, purchase): the cheapest, reporting the clash."""
    best: dict[tuple[str, str, Purchase], Offer] = {}
    warnings = list(warnings)
    for offer in offers:
        key = (offer.region, offer.instance_type, offer.purchase)
        current = best.get(key)
        if current is not None:
            warnings.append(f"{_label(offer.region, offer.instance_type)} {offer.purchase.value}: "
                            f"several price items ({current.source_ref}, {offer.source_ref}); "
                            f"kept the cheaper")
        if current is None or _rank(offer) < _rank(current):
            best[key] = offer
    return list(best.values()), warnings


# --------------------------------------------------------------------------- GPU facts


def gpu_class(name: str, memory_mib: float | None) -> str | None:
    """tco's GPU class for an EC2 ``GpuInfo`` name (A100 split by memory), or None if unknown."""
    key = GPU_ALIASES.get(name.strip().upper(), name.strip().upper())
    if key == "A100":
        if not memory_mib:
            return None
        return "A100-80GB" if memory_mib >= A100_80GB_MIN_MIB else "A100-40GB"
    return {c.upper(): c for c in gpu_classes()}.get(key)


def facts_from_instance_type(description: Mapping[str, Any]) -> InstanceFacts | None:
    """Facts from one ``describe_instance_types`` entry; None without a known GPU."""
    gpus = (description.get("GpuInfo") or {}).get("Gpus") or []
    if not gpus:
        return None
    first = gpus[0]
    memory_mib = (first.get("MemoryInfo") or {}).get("SizeInMiB")
    gpu = gpu_class(str(first.get("Name", "")), memory_mib)
    count = int(first.get("Count") or 0)
    vcpus = (description.get("VCpuInfo") or {}).get("DefaultVCpus")
    memory = (description.get("MemoryInfo") or {}).get("SizeInMiB")
    if gpu is None or count <= 0 or not memory_mib or vcpus is None or memory is None:
        return None
    return InstanceFacts(str(description["InstanceType"]), gpu, count,
                         round(memory_mib / MIB_PER_GIB, 2), int(vcpus),
                         round(memory / MIB_PER_GIB, 2))


# --------------------------------------------------------------------------- spot


def latest_spot(history: Iterable[Mapping[str, Any]]) -> tuple[dict[str, SpotQuote], list[str]]:
    """Per instance type: the lowest, across zones, of each zone's latest Linux spot price.

    Entries of another product (Windows, SUSE...) are ignored. A zone whose latest price is not
    positive is left out and reported.
    """
    latest: dict[tuple[str, str], SpotQuote] = {}
    for entry in history:
        if entry.get("ProductDescription") not in SPOT_PRODUCTS:
            continue
        if not all(entry.get(k) for k in ("InstanceType", "AvailabilityZone", "Timestamp")):
            continue
        try:
            price = float(entry.get("SpotPrice", "nan"))
        except (TypeError, ValueError):
            price = math.nan
        quote = SpotQuote(str(entry["InstanceType"]), str(entry["AvailabilityZone"]), price,
                          entry["Timestamp"])
        key = (quote.instance_type, quote.availability_zone)
        if key not in latest or quote.timestamp > latest[key].timestamp:
            latest[key] = quote
    best: dict[str, SpotQuote] = {}
    warnings: list[str] = []
    for (itype, zone), quote in sorted(latest.items()):
        if not (math.isfinite(quote.usd_per_hour) and quote.usd_per_hour > 0):
            warnings.append(f"aws:{zone} {itype} spot: latest price {quote.usd_per_hour!r} is "
                            f"not positive; excluded")
            continue
        if itype not in best or quote.usd_per_hour < best[itype].usd_per_hour:
            best[itype] = quote
    return best, warnings


def spot_offers(region: str, quotes: Mapping[str, SpotQuote]) -> list[Offer]:
    return [Offer(region, q.instance_type, Purchase.SPOT, q.usd_per_hour, 0.0, 0,
                  f"ec2:spot:{q.availability_zone}") for _, q in sorted(quotes.items())]


# ------------------------------------------------------- savings plans and capacity blocks

SAVINGS_PLAN_TERMS = {31_536_000: Purchase.SAVINGS_PLAN_1Y, 94_608_000: Purchase.SAVINGS_PLAN_3Y}
# payment options whose rate is paid the way tco can book it: monthly, or all up front
SAVINGS_PLAN_PAYMENTS = ("No Upfront", "All Upfront")
# the instance types AWS sells as Capacity Blocks for ML
CAPACITY_BLOCK_TYPES = ("p4d.24xlarge", "p4de.24xlarge", "p5.4xlarge", "p5.48xlarge",
                        "p5e.48xlarge", "p5en.48xlarge", "p6-b200.48xlarge")


def savings_plan_offers(results: Iterable[Mapping[str, Any]], region: str,
                        instance_types: Iterable[str]) -> Parsed:
    """EC2 Instance Savings Plan rates (``describe_savings_plans_offering_rates`` search
    results) as offers: per instance type and term, the lowest rate of a Linux, shared-tenancy
    plan paid monthly (No Upfront, recurring) or all up front (the whole term's commitment as
    ``upfront_usd``). Partial Upfront is left out: the API does not say how its commitment is
    split. A rate that is not a positive number is reported, never used as $0."""
    wanted = set(instance_types)
    best: dict[tuple[str, Purchase], Offer] = {}
    warnings: list[str] = []
    for r in results:
        offering = r.get("savingsPlanOffering") or {}
        props = {p.get("name"): p.get("value") for p in r.get("properties") or []}
        itype = str(props.get("instanceType", ""))
        term = SAVINGS_PLAN_TERMS.get(int(offering.get("durationSeconds") or 0))
        if (offering.get("planType") != "EC2Instance" or props.get("region") != region
                or itype not in wanted or props.get("productDescription") != "Linux/UNIX"
                or props.get("tenancy") != "shared" or term is None
                or offering.get("paymentOption") not in SAVINGS_PLAN_PAYMENTS):
            continue
        label = f"{_label(region, itype)} {term.value}"
        try:
            rate = float(r.get("rate", "nan"))
        except (TypeError, ValueError):
            rate = math.nan
        if offering.get("currency") != "USD" or r.get("unit") != "Hrs":
            warnings.append(f"{label}: rate in {offering.get('currency')} per {r.get('unit')}; "
                            f"excluded")
            continue
        if not (math.isfinite(rate) and rate > 0):
            warnings.append(f"{label}: rate {r.get('rate')!r} is not a positive price; excluded, "
                            f"never used as $0")
            continue
        upfront = rate * HOURS_PER_MONTH * term.term_months \
            if offering.get("paymentOption") == "All Upfront" else 0.0
        offer = Offer(region, itype, term, rate, round(upfront, 2), term.term_months,
                      f"savingsplans:{offering.get('offeringId', '')}")
        key = (itype, term)
        if key not in best or (offer.usd_per_hour, offer.upfront_usd) < (
                best[key].usd_per_hour, best[key].upfront_usd):
            best[key] = offer
    return [best[k] for k in sorted(best, key=lambda k: (k[0], k[1].value))], warnings


def capacity_block_offers(offerings: Iterable[Mapping[str, Any]], region: str) -> Parsed:
    """Capacity Block offerings (``describe_capacity_block_offerings``) as offers: per
    instance type, the lowest fee per instance-hour, ``UpfrontFee / (InstanceCount ×
    CapacityBlockDurationHours)``, over the region's zones."""
    best: dict[str, Offer] = {}
    warnings: list[str] = []
    for o in offerings:
        itype = str(o.get("InstanceType", ""))
        zone = str(o.get("AvailabilityZone", ""))
        if not itype or not zone.startswith(region):
            continue
        try:
            fee = float(o.get("UpfrontFee", "nan"))
            per = float(o.get("InstanceCount") or 0) * float(o.get("CapacityBlockDurationHours")
                                                             or 0)
        except (TypeError, ValueError):
            fee, per = math.nan, 0.0
        label = f"{_label(region, itype)} capacity_block"
        if o.get("CurrencyCode") != "USD":
            warnings.append(f"{label}: fee in {o.get('CurrencyCode')}; excluded")
            continue
        if not (math.isfinite(fee) and fee > 0 and per > 0):
            warnings.append(f"{label}: fee {o.get('UpfrontFee')!r} for "
                            f"{o.get('InstanceCount')!r} instances x "
                            f"{o.get('CapacityBlockDurationHours')!r} h is not a positive price; "
                            f"excluded, never used as $0")
            continue
        offer = Offer(region, itype, Purchase.CAPACITY_BLOCK, fee / per, 0.0, 0,
                      f"ec2:capacity-block:{o.get('CapacityBlockOfferingId', '')}")
        if itype not in best or offer.usd_per_hour < best[itype].usd_per_hour:
            best[itype] = offer
    return [best[k] for k in sorted(best)], warnings


# --------------------------------------------------------------------------- records


def compute_records(offers: Iterable[Offer], facts: Mapping[str, InstanceFacts],
                    as_of: dt.date) -> tuple[list[ComputePrice], list[str]]:
    """Attach instance facts; an offer for an instance type without facts is reported."""
    records: list[ComputePrice] = []
    warnings: list[str] = []
    for o in offers:
        f = facts.get(o.instance_type)
        if f is None:
            warnings.append(f"{_label(o.region, o.instance_type)}: no GPU facts; excluded")
            continue
        records.append(ComputePrice(NAME, o.region, o.instance_type, f.gpu, f.gpu_count,
                                    f.gpu_memory_gib, f.vcpus, f.memory_gib, o.purchase,
                                    o.usd_per_hour, o.upfront_usd, o.term_months, Source.LIVE,
                                    o.source_ref, as_of))
    return records, warnings


def price_tiers(item: PriceItem, unit: str) -> list[tuple[float, float]]:
    """``(beginRange, USD)`` of the item's on-demand dimensions in ``unit``, by begin."""
    tiers = []
    for _, term in _offer_terms(item, "OnDemand"):
        for d in _dimensions(term):
            if d.get("unit") != unit:
                continue
            price = _usd(d)
            try:
                begin = float(d["beginRange"])
            except (KeyError, TypeError, ValueError):
                begin = math.nan
            tiers.append((begin, math.nan if price is None else price))
    return sorted(tiers)


def _tiered_item(items: Iterable[PriceItem], match: Callable[[PriceItem], bool],
                 what: str) -> tuple[PriceItem | None, list[str]]:
    """The one item ``match`` accepts (the first by SKU if several, reported)."""
    found = sorted((i for i in items if match(i)), key=lambda i: i.sku)
    if not found:
        return None, [f"{what}: no price item; none recorded"]
    skus = ", ".join(i.sku for i in found)
    notes = [] if len(found) == 1 else [
        f"{what}: {len(found)} price items ({skus}); used {found[0].sku}"]
    return found[0], notes


def _checked_tiers(item: PriceItem, unit: str, what: str, *,
                   zero_first_tier: bool) -> tuple[Tiers | None, str | None]:
    """The item's tiers, or None and why: a missing or negative rate, or a $0 one (allowed
    only as a first tier, and only where ``zero_first_tier``)."""
    tiers = price_tiers(item, unit)
    bad = [t for i, t in enumerate(tiers) if not all(math.isfinite(v) for v in t)
           or t[1] < 0 or (t[1] == 0 and not (zero_first_tier and i == 0))]
    if bad:
        return None, f"{what}: SKU {item.sku} has a missing or $0 tier price {bad}; excluded"
    try:
        return validate_tiers(tiers), None
    except ValueError as exc:
        return None, f"{what}: SKU {item.sku}: {exc}; excluded"


def storage_price(items: Iterable[PriceItem], region: str,
                  as_of: dt.date) -> tuple[StoragePrice | None, list[str]]:
    """S3 Standard storage tiers (GB-month) of ``region``."""
    what = f"aws:{region} storage standard"

    def match(i: PriceItem) -> bool:
        a = i.attributes
        return (i.product_family == "Storage" and a.get("volumeType") == "Standard"
                and a.get("regionCode") == region
                and a.get("usagetype", "").endswith("TimedStorage-ByteHrs"))
    item, notes = _tiered_item(items, match, what)
    if item is None:
        return None, notes
    tiers, problem = _checked_tiers(item, "GB-Mo", what, zero_first_tier=False)
    if tiers is None:
        return None, [*notes, str(problem)]
    return StoragePrice(NAME, region, "standard", tiers, Source.LIVE, item.sku, as_of), notes


def egress_price(items: Iterable[PriceItem], region: str,
                 as_of: dt.date) -> tuple[EgressPrice | None, list[str]]:
    """Internet egress tiers (GB of a month) from ``region``; a free first tier only if listed."""
    what = f"aws:{region} egress internet"

    def match(i: PriceItem) -> bool:
        a = i.attributes
        return (a.get("transferType") == "AWS Outbound" and a.get("fromRegionCode") == region
                and a.get("toLocation") == "External")
    item, notes = _tiered_item(items, match, what)
    if item is None:
        return None, notes
    tiers, problem = _checked_tiers(item, "GB", what, zero_first_tier=True)
    if tiers is None:
        return None, [*notes, str(problem)]
    return EgressPrice(NAME, region, "internet", tiers, Source.LIVE, item.sku, as_of), notes


def enabled_regions(response: Mapping[str, Any]) -> list[str]:
    """Region names of a ``describe_regions`` answer, without those not opted in."""
    return sorted(r["RegionName"] for r in response.get("Regions", [])
                  if r.get("OptInStatus") != "not-opted-in")


# --------------------------------------------------------------------------- I/O


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


@contextmanager
def sdk_errors(what: str) -> Iterator[None]:
    """Translate botocore errors raised inside the block into tco's error family."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError as exc:
        raise MissingCredentialsError(NAME, CREDENTIALS_HINT) from exc
    except ClientError as exc:
        message = (exc.response.get("Error") or {}).get("Message", "")
        raise PricingError(f"aws: {what} failed ({_error_code(exc)}: {message})") from exc
    except BotoCoreError as exc:
        raise PricingError(f"aws: {what} failed ({type(exc).__name__}: {exc})") from exc


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


class AwsAdapter:
    """Live AWS prices through boto3; clients are built on first use and reused."""

    name = NAME

    def __init__(self, session: Any, settings: PricingSettings,
                 instance_types: Sequence[str] | None = None) -> None:
        self._session = session
        self._settings = settings
        self._clients: dict[tuple[str, str], Any] = {}
        self.instance_types: tuple[str, ...] = tuple(
            instance_types if instance_types is not None else csv_facts())

    def client(self, service: str, region: str) -> Any:
        """The boto3 client of ``service`` in ``region`` (endpoints as boto3 resolves them)."""
        key = (service, region)
        if key not in self._clients:
            from botocore.config import Config

            s = self._settings
            # botocore's ``max_attempts`` counts retries only; ``total_max_attempts`` counts the
            # first request too, so this is exactly ``settings.retries`` retries.
            config = Config(connect_timeout=s.timeout_s, read_timeout=s.timeout_s,
                            retries={"total_max_attempts": s.retries + 1, "mode": "standard"})
            self._clients[key] = self._session.client(service, region_name=region, config=config)
        return self._clients[key]

    @property
    def pricing(self) -> Any:
        return self.client("pricing", PRICING_REGION)

    @property
    def endpoint(self) -> str:
        """The Price List API's URL, the first a fetch calls (as boto3 resolves it)."""
        return str(self.pricing.meta.endpoint_url)

    # -- fetch

    def fetch(self, regions: Sequence[str] | None = None,
              progress: Progress | None = None) -> FetchResult:
        """Prices for ``regions`` (when None: every region enabled for the account that lists
        one of the instance types)."""
        as_of = dt.date.today()
        result = FetchResult()
        facts: dict[str, InstanceFacts] = {}
        if regions is None:
            by_region = self._all_region_items(result.warnings)
            targets = [r for r in self._enabled_regions() if r in by_region]
        else:
            by_region, targets = {}, _unique(regions)
        for region in targets:
            if regions is None:
                items = by_region[region]
            else:
                items = self._region_items(region, result.warnings)
            offers, notes = compute_offers(items, self.instance_types, [region])
            result.warnings.extend(notes)
            if offers:
                self._fetch_region(region, offers, facts, as_of, result)
            else:
                result.warnings.append(f"aws:{region}: no usable GPU instance prices")
            if progress:
                progress(f"aws: {region}")
        return result

    def _fetch_region(self, region: str, offers: list[Offer], facts: dict[str, InstanceFacts],
                      as_of: dt.date, result: FetchResult) -> None:
        """Spot, GPU facts, compute records, S3 storage and egress of one region."""
        offers = [*offers, *spot_offers(region, self._spot(region, result.warnings)),
                  *self._savings_plans(region, result.warnings),
                  *self._capacity_blocks(region, result.warnings)]
        unknown = [t for t in _unique(o.instance_type for o in offers) if t not in facts]
        self._learn_facts(region, unknown, facts, result.warnings)
        records, notes = compute_records(offers, facts, as_of)
        result.compute.extend(records)
        result.warnings.extend(notes)
        storage, notes = self._storage(region, as_of, result.warnings)
        result.storage.extend([storage] if storage else [])
        result.warnings.extend(notes)
        egress, notes = self._egress(region, as_of, result.warnings)
        result.egress.extend([egress] if egress else [])
        result.warnings.extend(notes)

    # -- Price List API

    def get_products(self, service_code: str, filters: list[dict[str, str]],
                     warnings: list[str]) -> list[PriceItem]:
        """Every page of ``get_products`` for ``filters``, decoded."""
        raw: list[str] = []
        with sdk_errors(f"pricing get_products {service_code}"):
            pages = self.pricing.get_paginator("get_products").paginate(
                ServiceCode=service_code, Filters=filters, FormatVersion="aws_v1",
                MaxResults=PAGE_SIZE)
            for page in pages:
                raw.extend(page.get("PriceList", []))
        items, notes = parse_price_list(raw)
        warnings.extend(notes)
        return items

    def _region_items(self, region: str, warnings: list[str]) -> list[PriceItem]:
        """Compute price items of one region: one call series per instance type."""
        return [item for itype in self.instance_types
                for item in self.get_products("AmazonEC2", compute_filters(itype, region),
                                              warnings)]

    def _all_region_items(self, warnings: list[str]) -> dict[str, list[PriceItem]]:
        """Compute price items of every region, by region: one call series per instance type."""
        by_region: dict[str, list[PriceItem]] = {}
        for itype in self.instance_types:
            for item in self.get_products("AmazonEC2", compute_filters(itype, None), warnings):
                by_region.setdefault(item.attributes.get("regionCode", ""), []).append(item)
        return by_region

    def _storage(self, region: str, as_of: dt.date,
                 warnings: list[str]) -> tuple[StoragePrice | None, list[str]]:
        return storage_price(self.get_products("AmazonS3", storage_filters(region), warnings),
                             region, as_of)

    def _egress(self, region: str, as_of: dt.date,
                warnings: list[str]) -> tuple[EgressPrice | None, list[str]]:
        return egress_price(self.get_products("AWSDataTransfer", egress_filters(region), warnings),
                            region, as_of)

    # -- EC2

    def _soft_ec2(self, what: str, call: Callable[[], T], warnings: list[str]) -> T | None:
        """``call()``; an access or opt-in refusal becomes a warning and None."""
        try:
            with sdk_errors(what):
                return call()
        except MissingCredentialsError:
            raise
        except PricingError as exc:
            if _error_code(exc.__cause__ or exc) in SOFT_EC2_ERRORS:
                warnings.append(f"{exc}; skipped")
                return None
            raise

    def _enabled_regions(self) -> list[str]:
        with sdk_errors("ec2 describe_regions"):
            response = self.client("ec2", PRICING_REGION).describe_regions()
        return enabled_regions(response)

    def _learn_facts(self, region: str, instance_types: list[str],
                     facts: dict[str, InstanceFacts], warnings: list[str]) -> None:
        """Add GPU facts from ``describe_instance_types``; instances_aws.csv where it lacks them."""
        ec2 = self.client("ec2", region)

        def describe() -> list[Mapping[str, Any]]:
            pages = ec2.get_paginator("describe_instance_types").paginate(
                InstanceTypes=instance_types)
            return [d for page in pages for d in page.get("InstanceTypes", [])]
        described = self._soft_ec2(f"ec2 describe_instance_types in {region}", describe,
                                   warnings) if instance_types else []
        for description in described or []:
            found = facts_from_instance_type(description)
            if found is not None:
                facts[found.instance_type] = found
        for itype in instance_types:
            if itype not in facts and itype in csv_facts():
                facts[itype] = csv_facts()[itype]

    def _spot(self, region: str, warnings: list[str]) -> dict[str, SpotQuote]:
        ec2 = self.client("ec2", region)

        def history() -> list[Mapping[str, Any]]:
            pages = ec2.get_paginator("describe_spot_price_history").paginate(
                InstanceTypes=list(self.instance_types), ProductDescriptions=["Linux/UNIX"],
                StartTime=dt.datetime.now(dt.UTC))
            return [h for page in pages for h in page.get("SpotPriceHistory", [])]
        entries = self._soft_ec2(f"ec2 describe_spot_price_history in {region}", history, warnings)
        quotes, notes = latest_spot(entries or [])
        warnings.extend(notes)
        return quotes


    def _soft(self, what: str, call: Callable[[], T], warnings: list[str]) -> T | None:
        """``call()``; any API failure becomes a warning and None: a region keeps its other
        prices when its savings plans or capacity blocks cannot be read."""
        try:
            with sdk_errors(what):
                return call()
        except MissingCredentialsError:
            raise
        except PricingError as exc:
            warnings.append(f"{exc}; skipped")
            return None

    def _savings_plans(self, region: str, warnings: list[str]) -> list[Offer]:
        """EC2 Instance Savings Plan rates of the instance types in ``region``."""
        client = self.client("savingsplans", PRICING_REGION)
        types = list(self.instance_types)

        def rates() -> list[Mapping[str, Any]]:
            out: list[Mapping[str, Any]] = []
            token = None
            while True:
                page = client.describe_savings_plans_offering_rates(
                    savingsPlanTypes=["EC2Instance"], products=["EC2"],
                    serviceCodes=["AmazonEC2"], operations=["RunInstances"],
                    filters=[{"name": "region", "values": [region]},
                             {"name": "instanceType", "values": types},
                             {"name": "productDescription", "values": ["Linux/UNIX"]},
                             {"name": "tenancy", "values": ["shared"]}],
                    maxResults=PAGE_SIZE, **({"nextToken": token} if token else {}))
                out.extend(page.get("searchResults", []))
                token = page.get("nextToken")
                if not token:
                    return out
        found = self._soft(f"savingsplans describe_savings_plans_offering_rates in {region}",
                           rates, warnings) if types else []
        offers, notes = savings_plan_offers(found or [], region, types)
        warnings.extend(notes)
        return offers

    def _capacity_blocks(self, region: str, warnings: list[str]) -> list[Offer]:
        """The cheapest day-long Capacity Block of one instance of each type in ``region``."""
        ec2 = self.client("ec2", region)
        offers: list[Offer] = []
        for itype in [t for t in CAPACITY_BLOCK_TYPES if t in self.instance_types]:
            def offerings(itype: str = itype) -> list[Mapping[str, Any]]:
                answer = ec2.describe_capacity_block_offerings(
                    InstanceType=itype, InstanceCount=1, CapacityDurationHours=24)
                return list(answer.get("CapacityBlockOfferings", []))
            found = self._soft(f"ec2 describe_capacity_block_offerings {itype} in {region}",
                               offerings, warnings)
            parsed, notes = capacity_block_offers(found or [], region)
            offers.extend(parsed)
            warnings.extend(notes)
        return offers


def from_env(settings: PricingSettings) -> AwsAdapter:
    """An adapter on boto3's standard credential chain, or MissingCredentialsError."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.Session()
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE naming a profile that does not exist
        raise MissingCredentialsError(NAME, f"{CREDENTIALS_HINT}; {exc}") from exc
    if credentials is None:
        raise MissingCredentialsError(NAME, CREDENTIALS_HINT)
    return AwsAdapter(session, settings)
