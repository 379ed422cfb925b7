"""Azure live prices: the public Retail Prices API, optionally overlaid with an EA price sheet.

The Retail Prices API (``https://prices.azure.com/api/retail/prices``, no credentials) answers
pages of rows (``Items``) linked by ``NextPageLink``. The adapter pushes an OData ``$filter``
down to it for speed, then re-applies one pure filter to every row, because correctness must
not depend on what the server did with the filter (SPEC 3 traps):

- Windows rows (``productName`` contains "Windows"), ``Low Priority`` meters, expired meters
  and ``DevTestConsumption`` rows are never used;
- ``Spot`` in ``skuName``/``meterName`` is spot; other ``Consumption`` rows are on-demand;
- ``Reservation`` rows give the TOTAL price of the term (``reservationTerm`` "1 Year" /
  "3 Years") although ``unitOfMeasure`` says "1 Hour": ``usd_per_hour = total / (months * 730)``
  with ``upfront_usd = 0`` (data/FORMAT.md);
- a missing or non-positive price is excluded and reported, never used as $0; rows not priced
  in USD are skipped and reported.

The API has no GPU facts: only the VM sizes of ``data/instances_azure.csv`` are kept, with their
GPU facts from there. Compute ``source_ref`` is ``meterId=<meterId>;skuId=<skuId>``.

Storage is Blob Storage Hot LRS capacity (``meterName`` "Hot LRS Data Stored", product
"General Block Blob v2", else "Blob Storage"); egress is internet egress over the Microsoft
global network (``serviceName`` Bandwidth, ``meterName`` "Standard Data Transfer Out", product
"Rtn Preference: MGN" preferred; the cheaper "Routing Preference: Internet" products and the
inter-region / inter-continent meters are not internet egress of the default routing and are
left out). Both are tiered by ``tierMinimumUnits``.

Environment:

- ``TCO_AZURE_RETAIL_URL`` replaces the Retail Prices API base URL (a mirror or a recorder).
- ``TCO_AZURE_BILLING_SCOPE`` (a subscription id, or ``/subscriptions/<id>``) turns on the
  negotiated-price overlay: the subscription's price sheet is read with
  ``azure-mgmt-consumption`` using ``DefaultAzureCredential`` and replaces on-demand retail
  prices meter by meter (:func:`overlay_price_sheet`). ``TCO_AZURE_BILLING_PERIOD`` (for
  example ``202605``) selects a billing period's sheet instead of the current one.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from .base import FetchResult, Progress
from .errors import MissingCredentialsError, PricingError
from .http import http_session
from .models import (
    HOURS_PER_MONTH,
    ComputePrice,
    EgressPrice,
    Provider,
    Purchase,
    Source,
    StoragePrice,
    Tiers,
)
from .reference import InstanceFacts
from .reference import instance_facts as reference_instance_facts
from .settings import PricingSettings
from .tiers import validate_tiers

NAME = Provider.AZURE.value
DEFAULT_RETAIL_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
URL_ENV = "TCO_AZURE_RETAIL_URL"
SCOPE_ENV = "TCO_AZURE_BILLING_SCOPE"
PERIOD_ENV = "TCO_AZURE_BILLING_PERIOD"

SKU_BATCH = 10          # armSkuName clauses per request (keeps URLs short)
REGION_BATCH = 10       # armRegionName clauses per request
MAX_PAGES = 2000        # per query; a loop guard, far above any real answer

VM_SERVICE = "Virtual Machines"
STORAGE_SERVICE = "Storage"
STORAGE_METER = "Hot LRS Data Stored"
STORAGE_PRODUCTS = ("General Block Blob v2", "Blob Storage")   # in order of preference
STORAGE_CLASS = "hot_lrs"
EGRESS_SERVICE = "Bandwidth"
EGRESS_METER = "Standard Data Transfer Out"
EGRESS_PREFERRED_PRODUCT = "Rtn Preference: MGN"
EGRESS_DESTINATION = "internet"

_REGION_CODE = re.compile(r"^[a-z][a-z0-9]*$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UNIT = re.compile(r"^\s*(\d+(?:[.,]\d+)?)?\s*(.*?)\s*$")
_TERM = re.compile(r"^\s*(\d+)\s*years?\s*$", re.IGNORECASE)
_SPOT = re.compile(r"\bspot\b", re.IGNORECASE)

Item = Mapping[str, Any]
PriceSheetSource = Callable[[Progress], list[Any]]


# --------------------------------------------------------------------------- instance facts


@cache
def instance_facts() -> Mapping[str, InstanceFacts]:
    """VM size (lower-cased ``armSkuName``) -> GPU facts, from ``instances_azure.csv`` (the
    API has no GPU facts)."""
    return {name.lower(): facts for name, facts in reference_instance_facts(NAME).items()}


# --------------------------------------------------------------------------- filters (pure)


def odata_literal(value: str) -> str:
    """An OData string literal: single quotes, embedded quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def _any_of(field_name: str, values: Sequence[str]) -> str:
    clauses = [f"{field_name} eq {odata_literal(v)}" for v in values]
    return clauses[0] if len(clauses) == 1 else "(" + " or ".join(clauses) + ")"


def _chunks(values: Sequence[str], size: int) -> list[list[str]]:
    return [list(values[i:i + size]) for i in range(0, len(values), size)]


def _region_groups(regions: Sequence[str] | None) -> list[list[str] | None]:
    if not regions:
        return [None]
    return list(_chunks(sorted({r.lower() for r in regions}), REGION_BATCH))


def _with_regions(base: str, group: list[str] | None) -> str:
    return base if group is None else f"{base} and {_any_of('armRegionName', group)}"


def compute_filters(vm_sizes: Iterable[str], regions: Sequence[str] | None = None) -> list[str]:
    """``$filter`` expressions covering every VM size (batched) and, if given, the regions."""
    base = (f"serviceName eq {odata_literal(VM_SERVICE)} and "
            "(priceType eq 'Consumption' or priceType eq 'Reservation')")
    return [_with_regions(f"{base} and {_any_of('armSkuName', batch)}", group)
            for batch in _chunks(sorted(set(vm_sizes)), SKU_BATCH)
            for group in _region_groups(regions)]


def storage_filters(regions: Sequence[str] | None = None) -> list[str]:
    """``$filter`` expressions for Blob Hot LRS capacity rows."""
    base = (f"serviceName eq {odata_literal(STORAGE_SERVICE)} and priceType eq 'Consumption' and "
            f"meterName eq {odata_literal(STORAGE_METER)} and "
            f"{_any_of('productName', STORAGE_PRODUCTS)}")
    return [_with_regions(base, group) for group in _region_groups(regions)]


def bandwidth_filters(regions: Sequence[str] | None = None) -> list[str]:
    """``$filter`` expressions for internet egress rows."""
    base = (f"serviceName eq {odata_literal(EGRESS_SERVICE)} and priceType eq 'Consumption' and "
            f"meterName eq {odata_literal(EGRESS_METER)}")
    return [_with_regions(base, group) for group in _region_groups(regions)]


# --------------------------------------------------------------------------- row access (pure)


def _text(item: Item, key: str) -> str:
    value = item.get(key)
    return "" if value is None else str(value).strip()


def _number(value: Any) -> float | None:
    """A finite float, or None for a missing / non-numeric / non-finite value."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def retail_price(item: Item) -> float | None:
    """The row's ``retailPrice`` as a float, None when missing or not a number."""
    return _number(item.get("retailPrice"))


def unit_quantity(unit_of_measure: str) -> tuple[float, str]:
    """``"100 Hours"`` -> ``(100.0, "hours")``; ``"1 GB/Month"`` -> ``(1.0, "gb/month")``."""
    match = _UNIT.match(unit_of_measure or "")
    qty_text, unit = (match.group(1), match.group(2)) if match else (None, "")
    qty = float(qty_text.replace(",", ".")) if qty_text else 1.0
    return qty, unit.lower()


def _effective(item: Item) -> dt.date:
    try:
        return dt.date.fromisoformat(_text(item, "effectiveStartDate")[:10])
    except ValueError:
        return dt.date.min


def _ref(item: Item) -> str:
    return f"meterId={_text(item, 'meterId')};skuId={_text(item, 'skuId')}"


def meter_id_of(source_ref: str) -> str | None:
    """The meterId in a ``source_ref`` written by this adapter, None for any other ref."""
    for part in source_ref.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == "meterId" and value.strip():
            return value.strip()
    return None


def _in_regions(region: str, wanted: frozenset[str] | None) -> bool:
    return wanted is None or region in wanted


def _region_set(regions: Sequence[str] | None) -> frozenset[str] | None:
    return frozenset(r.lower() for r in regions) if regions else None


def unique_items(items: Iterable[Item]) -> list[Item]:
    """Drop rows that are exact repeats (overlapping queries answer the same row twice)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = json.dumps(item, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _currency_warning(kind: str, currencies: Counter[str]) -> list[str]:
    if not currencies:
        return []
    detail = ", ".join(f"{c or 'none'}: {n}" for c, n in sorted(currencies.items()))
    return [f"azure: {sum(currencies.values())} {kind} row(s) not priced in USD skipped ({detail})"]


# --------------------------------------------------------------------------- the traps (pure)


def excluded_reason(item: Item) -> str | None:
    """Why a row is never a price tco uses (Windows, Low Priority, DevTest, ...), or None.

    This is the one central filter; it is applied to every row whatever the server filtered.
    """
    if "windows" in _text(item, "productName").lower():
        return "Windows"
    names = f"{_text(item, 'skuName')} {_text(item, 'meterName')}".lower()
    if "low priority" in names:
        return "Low Priority"
    if "expired" in names:
        return "expired meter"
    kind = _text(item, "type")
    if kind == "DevTestConsumption":
        return "DevTestConsumption"
    if kind not in ("Consumption", "Reservation"):
        return f"type {kind!r}"
    return None


def reservation_purchase(term: str) -> Purchase | None:
    """``"1 Year"`` -> reserved_1y, ``"3 Years"`` -> reserved_3y, anything else None."""
    match = _TERM.match(term or "")
    months = int(match.group(1)) * 12 if match else 0
    return {12: Purchase.RESERVED_1Y, 36: Purchase.RESERVED_3Y}.get(months)


def vm_purchase(item: Item) -> Purchase | None:
    """The purchase option of a VM row that passed :func:`excluded_reason`."""
    if _text(item, "type") == "Reservation":
        return reservation_purchase(_text(item, "reservationTerm"))
    if _SPOT.search(_text(item, "skuName")) or _SPOT.search(_text(item, "meterName")):
        return Purchase.SPOT
    return Purchase.ON_DEMAND


def hourly_usd(item: Item, purchase: Purchase, price: float) -> float:
    """USD per instance-hour of a VM row priced ``price``.

    Reservation rows carry the total for the term: ``price / (term_months * 730)``. Other rows
    are per ``unitOfMeasure`` hours (``"1 Hour"``). Raises ``ValueError`` for another unit.
    """
    if purchase.is_reserved:
        return price / (purchase.term_months * HOURS_PER_MONTH)
    qty, unit = unit_quantity(_text(item, "unitOfMeasure"))
    if unit not in ("hour", "hours") or qty <= 0:
        raise ValueError(f"unitOfMeasure {_text(item, 'unitOfMeasure')!r} is not hourly")
    return price / qty


def savings_plan_purchase(term: str) -> Purchase | None:
    """A ``savingsPlan`` entry's ``"1 Year"`` -> savings_plan_1y, ``"3 Years"`` ->
    savings_plan_3y, anything else None."""
    match = _TERM.match(term or "")
    months = int(match.group(1)) * 12 if match else 0
    return {12: Purchase.SAVINGS_PLAN_1Y, 36: Purchase.SAVINGS_PLAN_3Y}.get(months)


def _savings_plans(item: Item, on_demand: ComputePrice, warnings: list[str],
                   label: str) -> list[ComputePrice]:
    """The savings-plan prices of a pay-as-you-go VM row (its ``savingsPlan`` entries: an
    hourly ``unitPrice`` per term), as records beside its on-demand one; none for other rows."""
    entries = item.get("savingsPlan")
    if on_demand.purchase != Purchase.ON_DEMAND or not isinstance(entries, list):
        return []
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        purchase = savings_plan_purchase(str(entry.get("term", "")))
        price = entry.get("unitPrice", entry.get("retailPrice"))
        if purchase is None:
            warnings.append(f"{label}: savings plan term {entry.get('term')!r} is neither 1 nor "
                            f"3 years (ignored; {_ref(item)})")
            continue
        if not isinstance(price, int | float) or isinstance(price, bool) or price <= 0:
            warnings.append(f"{label} {purchase.value}: unitPrice {price!r} is not a positive "
                            f"price; excluded, never used as $0 ({_ref(item)})")
            continue
        qty, _ = unit_quantity(_text(item, "unitOfMeasure"))
        out.append(replace(on_demand, purchase=purchase, usd_per_hour=float(price) / qty,
                           term_months=purchase.term_months,
                           source_ref=f"{on_demand.source_ref} savingsPlan {entry.get('term')}"))
    return out


def _rank(item: Item, usd_per_hour: float, as_of: dt.date) -> tuple[bool, bool, dt.date, float]:
    """Which of several rows for one offer wins: primary meter region, in effect, newest,
    then cheapest."""
    effective = _effective(item)
    return (item.get("isPrimaryMeterRegion") is not False, effective <= as_of, effective,
            -usd_per_hour)


def parse_compute(items: Iterable[Item], as_of: dt.date, regions: Sequence[str] | None = None,
                  instances: Mapping[str, InstanceFacts] | None = None,
                  ) -> tuple[list[ComputePrice], list[str]]:
    """Retail rows -> one compute record per (region, VM size, purchase), plus warnings."""
    facts = instance_facts() if instances is None else instances
    wanted = _region_set(regions)
    Rank = tuple[bool, bool, dt.date, float]
    best: dict[tuple[str, str, Purchase], tuple[Rank, ComputePrice]] = {}
    warnings: list[str] = []
    currencies: Counter[str] = Counter()
    for item in items:
        if _text(item, "serviceName") != VM_SERVICE or excluded_reason(item):
            continue
        inst = facts.get(_text(item, "armSkuName").lower())
        region = _text(item, "armRegionName").lower()
        if inst is None or not region or not _in_regions(region, wanted):
            continue
        if _text(item, "currencyCode") != "USD":
            currencies[_text(item, "currencyCode")] += 1
            continue
        label = f"azure:{region} {inst.instance_type}"
        purchase = vm_purchase(item)
        if purchase is None:
            warnings.append(f"{label}: reservation term {_text(item, 'reservationTerm')!r} is "
                            f"neither 1 nor 3 years (ignored; {_ref(item)})")
            continue
        price = retail_price(item)
        if price is None or price <= 0:
            warnings.append(f"{label} {purchase.value}: retailPrice "
                            f"{item.get('retailPrice')!r} is not a positive price; excluded, "
                            f"never used as $0 ({_ref(item)})")
            continue
        try:
            usd = hourly_usd(item, purchase, price)
        except ValueError as exc:
            warnings.append(f"{label} {purchase.value}: {exc} (ignored; {_ref(item)})")
            continue
        record = ComputePrice(
            provider=NAME, region=region, instance_type=inst.instance_type, gpu=inst.gpu,
            gpu_count=inst.gpu_count, gpu_memory_gib=inst.gpu_memory_gib, vcpus=inst.vcpus,
            memory_gib=inst.memory_gib, purchase=purchase, usd_per_hour=usd, upfront_usd=0.0,
            term_months=purchase.term_months, source=Source.LIVE, source_ref=_ref(item),
            as_of=as_of)
        rank = _rank(item, usd, as_of)
        for rec in [record, *_savings_plans(item, record, warnings, label)]:
            key = (region, inst.instance_type, rec.purchase)
            if key not in best or rank > best[key][0]:
                best[key] = (rank, rec)
    warnings += _currency_warning("compute", currencies)
    return [best[k][1] for k in sorted(best)], warnings


# --------------------------------------------------------------------------- tiers (pure)


@dataclass
class _Ladder:
    """The tier rows of one meter in one region."""

    region: str
    product: str
    ref: str
    rows: dict[float, tuple[dt.date, float | None]] = field(default_factory=dict)

    def add(self, start: float, effective: dt.date, price: float | None) -> None:
        """Keep, per tier start, the row that took effect last."""
        if start not in self.rows or effective >= self.rows[start][0]:
            self.rows[start] = (effective, price)


def _ladders(items: Iterable[Item], accept: Callable[[Item], bool], unit: str, kind: str,
             regions: Sequence[str] | None, as_of: dt.date) -> tuple[list[_Ladder], list[str]]:
    """Group the accepted tier rows by (region, product, meter), skipping what cannot be used."""
    wanted = _region_set(regions)
    ladders: dict[tuple[str, str, str], _Ladder] = {}
    warnings: list[str] = []
    currencies: Counter[str] = Counter()
    for item in items:
        if excluded_reason(item) or _text(item, "type") != "Consumption" or not accept(item):
            continue
        region = _text(item, "armRegionName").lower()
        if not _REGION_CODE.match(region) or not _in_regions(region, wanted):
            continue
        if _text(item, "currencyCode") != "USD":
            currencies[_text(item, "currencyCode")] += 1
            continue
        if _effective(item) > as_of:
            continue
        qty, got = unit_quantity(_text(item, "unitOfMeasure"))
        if got != unit or qty != 1:
            warnings.append(f"azure:{region} {kind}: unitOfMeasure "
                            f"{_text(item, 'unitOfMeasure')!r} is not '1 {unit.upper()}' "
                            f"(ignored; {_ref(item)})")
            continue
        start = _number(item.get("tierMinimumUnits"))
        key = (region, _text(item, "productName"), _text(item, "meterId"))
        ladder = ladders.setdefault(key, _Ladder(region, key[1], _ref(item)))
        ladder.add(0.0 if start is None else start, _effective(item), retail_price(item))
    warnings += _currency_warning(kind, currencies)
    return list(ladders.values()), warnings


def _ladder_tiers(ladder: _Ladder, free_first_tier: bool) -> Tiers:
    """The ladder as validated tiers; raises ``ValueError`` naming a missing or zero rate.

    A zero rate is accepted only for the tier starting at 0 GB and only when
    ``free_first_tier`` (the free egress allowance); never for storage.
    """
    tiers = []
    for start, (_, price) in sorted(ladder.rows.items()):
        if price is None or price < 0 or (price == 0 and not (free_first_tier and start == 0)):
            raise ValueError(f"tier from {start:g} GB has retailPrice {price!r}")
        tiers.append((start, price))
    return validate_tiers(tiers)


def _best_ladders(ladders: list[_Ladder], product_rank: Callable[[str], int],
                  free_first_tier: bool, kind: str) -> tuple[dict[str, tuple[_Ladder, Tiers]],
                                                               list[str]]:
    """Per region, the usable ladder of the most preferred product."""
    chosen: dict[str, tuple[_Ladder, Tiers]] = {}
    warnings = []
    for ladder in sorted(ladders, key=lambda l: (l.region, product_rank(l.product), l.product,
                                                 l.ref)):
        if ladder.region in chosen:
            continue
        try:
            chosen[ladder.region] = (ladder, _ladder_tiers(ladder, free_first_tier))
        except ValueError as exc:
            warnings.append(f"azure:{ladder.region} {kind} ({ladder.product}): {exc}; excluded, "
                            f"never used as $0 ({ladder.ref})")
    return chosen, warnings


def parse_storage(items: Iterable[Item], as_of: dt.date, regions: Sequence[str] | None = None,
                  ) -> tuple[list[StoragePrice], list[str]]:
    """Blob Hot LRS capacity rows -> one tiered storage record per region, plus warnings."""
    def accept(item: Item) -> bool:
        return (_text(item, "serviceName") == STORAGE_SERVICE
                and _text(item, "meterName") == STORAGE_METER
                and _text(item, "productName") in STORAGE_PRODUCTS)

    ladders, warnings = _ladders(items, accept, "gb/month", "storage", regions, as_of)
    chosen, more = _best_ladders(ladders, STORAGE_PRODUCTS.index, False, "storage")
    records = [StoragePrice(NAME, region, STORAGE_CLASS, tiers, Source.LIVE, ladder.ref, as_of)
               for region, (ladder, tiers) in sorted(chosen.items())]
    return records, warnings + more


def _egress_rank(product: str) -> int:
    return 0 if product == EGRESS_PREFERRED_PRODUCT else 1


def parse_egress(items: Iterable[Item], as_of: dt.date, regions: Sequence[str] | None = None,
                 ) -> tuple[list[EgressPrice], list[str]]:
    """Internet egress rows -> one tiered egress record per region, plus warnings."""
    def accept(item: Item) -> bool:
        return (_text(item, "serviceName") == EGRESS_SERVICE
                and _text(item, "meterName") == EGRESS_METER
                and "internet" not in _text(item, "productName").lower())

    ladders, warnings = _ladders(items, accept, "gb", "egress", regions, as_of)
    chosen, more = _best_ladders(ladders, _egress_rank, True, "egress")
    records = [EgressPrice(NAME, region, EGRESS_DESTINATION, tiers, Source.LIVE, ladder.ref,
                           as_of)
               for region, (ladder, tiers) in sorted(chosen.items())]
    return records, warnings + more


# --------------------------------------------------------------------------- EA overlay (pure)


def _attr(row: Any, attr: str, key: str) -> Any:
    """``row.attr`` (SDK model) or ``row[key]`` (a mapping in the REST JSON shape)."""
    value = getattr(row, attr, None)
    if value is None and isinstance(row, Mapping):
        value = row.get(key)
    return value


def negotiated_hourly_prices(price_sheet_rows: Iterable[Any], meter_ids: Iterable[str],
                             warnings: list[str] | None = None) -> dict[str, tuple[float, str]]:
    """meterId (lower case) -> (USD per hour, part number) from price sheet rows.

    Only rows of ``meter_ids`` are read. A row not in USD, without a positive unit price or not
    priced in hours is skipped and reported; EA sheets price per ``"1 Hour"``, ``"10 Hours"``
    or ``"100 Hours"``, so the unit price is divided by that quantity. When a meter has several
    rows the lowest hourly price is kept.
    """
    wanted = {m.lower() for m in meter_ids}
    notes = warnings if warnings is not None else []
    out: dict[str, tuple[float, str]] = {}
    for row in price_sheet_rows:
        meter = str(_attr(row, "meter_id", "meterId") or "").strip().lower()
        if meter not in wanted:
            continue
        currency = str(_attr(row, "currency_code", "currencyCode") or "")
        price = _number(_attr(row, "unit_price", "unitPrice"))
        details = _attr(row, "meter_details", "meterDetails")
        unit = _attr(row, "unit_of_measure", "unitOfMeasure") or (
            _attr(details, "unit", "unit") if details is not None else None)
        qty, unit_name = unit_quantity(str(unit or ""))
        if currency != "USD":
            notes.append(f"azure: price sheet meter {meter} is in {currency or 'no currency'}, "
                         f"not USD (not applied)")
        elif price is None or price <= 0:
            notes.append(f"azure: price sheet meter {meter} has unit price "
                         f"{_attr(row, 'unit_price', 'unitPrice')!r}, not a positive price "
                         f"(not applied)")
        elif unit_name not in ("hour", "hours") or qty <= 0:
            notes.append(f"azure: price sheet meter {meter} is priced per {unit!r}, not per "
                         f"hour (not applied)")
        else:
            hourly = price / qty
            if meter not in out or hourly < out[meter][0]:
                out[meter] = (hourly, str(_attr(row, "part_number", "partNumber") or ""))
    return out


def overlay_price_sheet(records: Iterable[ComputePrice], price_sheet_rows: Iterable[Any], *,
                        warnings: list[str] | None = None) -> list[ComputePrice]:
    """Replace on-demand prices by the negotiated (EA) unit prices of the same meterId.

    ``price_sheet_rows`` are ``azure-mgmt-consumption`` ``PriceSheetProperties`` (or mappings
    in the REST shape: ``meterId``, ``unitPrice``, ``currencyCode``, ``unitOfMeasure``).
    Spot and reservation records, and records of other sources, are returned unchanged.
    Problems with the rows of the meters concerned are appended to ``warnings``.
    """
    records = list(records)
    meters = {m for r in records if r.purchase == Purchase.ON_DEMAND
              for m in [meter_id_of(r.source_ref)] if m}
    negotiated = negotiated_hourly_prices(price_sheet_rows, meters, warnings)
    out = []
    for r in records:
        meter = meter_id_of(r.source_ref) if r.purchase == Purchase.ON_DEMAND else None
        hit = negotiated.get(meter.lower()) if meter else None
        if hit is None:
            out.append(r)
            continue
        usd, part = hit
        ref = f"{r.source_ref};priceSheet" + (f"={part}" if part else "")
        out.append(replace(r, usd_per_hour=usd, source_ref=ref))
    return out


# --------------------------------------------------------------------------- I/O


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _get_page(session: Any, url: str, params: Mapping[str, str] | None,
              settings: PricingSettings) -> dict[str, Any]:
    """One page of the Retail Prices API as a dict with an ``Items`` list."""
    try:
        response = session.get(url, params=params, timeout=settings.timeout_s)
    except requests.RequestException as exc:
        raise PricingError(f"azure: request to {_where(url)} failed ({exc})") from exc
    if response.status_code != 200:
        hint = (" (offline and not in the HTTP cache)"
                if settings.offline and response.status_code == 504 else "")
        raise PricingError(f"azure: {_where(url)} answered HTTP {response.status_code}{hint}")
    try:
        doc = response.json()
    except ValueError as exc:
        raise PricingError(f"azure: {_where(url)} did not answer JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("Items"), list):
        raise PricingError(f"azure: {_where(url)} answered JSON without an 'Items' list")
    return doc


def _query(session: Any, base_url: str, filter_: str, settings: PricingSettings,
           report: Progress, what: str) -> Iterator[Item]:
    """Every row answering ``filter_``, following ``NextPageLink`` until it is null."""
    url: str = base_url
    params: dict[str, str] | None = {"api-version": API_VERSION, "$filter": filter_}
    seen: set[str] = set()
    for page in range(1, MAX_PAGES + 1):
        doc = _get_page(session, url, params, settings)
        items = [i for i in doc["Items"] if isinstance(i, Mapping)]
        report(f"azure: {what}, page {page} ({len(items)} rows)")
        yield from items
        link = doc.get("NextPageLink")
        if not link:
            return
        if not isinstance(link, str) or link in seen:
            raise PricingError(f"azure: NextPageLink {link!r} repeats or is not a URL")
        seen.add(link)
        url, params = link, None
    raise PricingError(f"azure: more than {MAX_PAGES} pages for {what}")


def _collect(session: Any, base_url: str, filters: list[str], settings: PricingSettings,
             report: Progress, kind: str) -> list[Item]:
    rows: list[Item] = []
    for i, filter_ in enumerate(filters, start=1):
        rows += _query(session, base_url, filter_, settings, report,
                       f"{kind} query {i}/{len(filters)}")
    return unique_items(rows)


def _skiptoken(next_link: str) -> str | None:
    query = parse_qs(urlsplit(next_link).query)
    values = query.get("$skiptoken") or query.get("$skipToken") or query.get("skiptoken")
    return values[0] if values else None


def read_price_sheet(client: Any, billing_period: str | None, report: Progress) -> list[Any]:
    """Every row of the subscription's price sheet (current, or of ``billing_period``)."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError

    rows: list[Any] = []
    token: str | None = None
    try:
        for page in range(1, MAX_PAGES + 1):
            if billing_period:
                result = client.price_sheet.get_by_billing_period(
                    billing_period, expand="meterDetails", skiptoken=token)
            else:
                result = client.price_sheet.get(expand="meterDetails", skiptoken=token)
            sheet = list(getattr(result, "pricesheets", None) or [])
            rows += sheet
            report(f"azure: price sheet, page {page} ({len(sheet)} rows)")
            link = getattr(result, "next_link", None)
            token = _skiptoken(link) if link else None
            if not token:
                return rows
    except ClientAuthenticationError as exc:
        raise MissingCredentialsError(
            "azure", f"{SCOPE_ENV} is set but no Azure identity could read its price sheet "
                     f"({type(exc).__name__}); sign in (az login), set AZURE_CLIENT_ID/"
                     f"AZURE_TENANT_ID/AZURE_CLIENT_SECRET or use a managed identity, "
                     f"or unset {SCOPE_ENV}") from exc
    except AzureError as exc:
        raise PricingError(f"azure: reading the price sheet failed ({type(exc).__name__}: "
                           f"{exc})") from exc
    raise PricingError(f"azure: more than {MAX_PAGES} price sheet pages")


def subscription_id(scope: str) -> str:
    """The subscription id of ``TCO_AZURE_BILLING_SCOPE`` (``<id>`` or ``/subscriptions/<id>``)."""
    value = scope.strip().rstrip("/")
    if value.lower().startswith("/subscriptions/"):
        value = value[len("/subscriptions/"):]
    if not _GUID.match(value):
        raise MissingCredentialsError(
            "azure", f"{SCOPE_ENV} must be a subscription id (a GUID) or /subscriptions/<id>")
    return value


def _price_sheet_source(scope: str, billing_period: str | None) -> PriceSheetSource:
    """A loader of the subscription's price sheet, authenticated by DefaultAzureCredential."""
    subscription = subscription_id(scope)
    try:
        from azure.core.exceptions import AzureError
        from azure.identity import DefaultAzureCredential
        from azure.mgmt.consumption import ConsumptionManagementClient
    except ImportError as exc:
        raise MissingCredentialsError(
            "azure", f"{SCOPE_ENV} needs azure-identity and azure-mgmt-consumption") from exc
    try:
        client = ConsumptionManagementClient(DefaultAzureCredential(), subscription)
    except (ValueError, AzureError) as exc:
        raise MissingCredentialsError(
            "azure", f"no usable Azure identity for {SCOPE_ENV} ({type(exc).__name__})") from exc

    def load(report: Progress) -> list[Any]:
        return read_price_sheet(client, billing_period, report)
    return load


def _ignore(_message: str) -> None:
    return None


class AzureAdapter:
    """Live Azure prices; build it with :func:`from_env`."""

    name = NAME

    def __init__(self, settings: PricingSettings, retail_url: str = DEFAULT_RETAIL_URL,
                 price_sheet: PriceSheetSource | None = None,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        self.settings = settings
        self.retail_url = retail_url
        self.price_sheet = price_sheet
        self.today = today

    @property
    def endpoint(self) -> str:
        """The Retail Prices API's URL."""
        return self.retail_url

    def fetch(self, regions: Sequence[str] | None = None,
              progress: Progress | None = None) -> FetchResult:
        """Compute, storage and egress prices for ``regions`` (every region when None)."""
        report = progress or _ignore
        as_of = self.today()
        sizes = [f.instance_type for f in instance_facts().values()]
        session = http_session(self.settings)
        try:
            vm_rows = _collect(session, self.retail_url, compute_filters(sizes, regions),
                               self.settings, report, "compute")
            storage_rows = _collect(session, self.retail_url, storage_filters(regions),
                                    self.settings, report, "storage")
            egress_rows = _collect(session, self.retail_url, bandwidth_filters(regions),
                                   self.settings, report, "egress")
        finally:
            session.close()
        compute, warnings = parse_compute(vm_rows, as_of, regions)
        storage, more = parse_storage(storage_rows, as_of, regions)
        warnings += more
        egress, more = parse_egress(egress_rows, as_of, regions)
        warnings += more
        if self.price_sheet is not None:
            compute = overlay_price_sheet(compute, self.price_sheet(report), warnings=warnings)
        result = FetchResult(compute=compute, storage=storage, egress=egress)
        result.warnings = list(dict.fromkeys([*warnings, *result.unpriced_regions(NAME)]))
        return result


def from_env(settings: PricingSettings) -> AzureAdapter:
    """The Azure adapter: public retail prices, plus the EA overlay when a scope is set.

    Raises :class:`MissingCredentialsError` only when ``TCO_AZURE_BILLING_SCOPE`` is set and
    cannot be used; the Retail Prices API itself needs no credentials.
    """
    url = (os.environ.get(URL_ENV) or "").strip() or DEFAULT_RETAIL_URL
    scope = (os.environ.get(SCOPE_ENV) or "").strip()
    period = (os.environ.get(PERIOD_ENV) or "").strip() or None
    sheet = _price_sheet_source(scope, period) if scope else None
    return AzureAdapter(settings, url, sheet)


__all__ = ["AzureAdapter", "InstanceFacts", "bandwidth_filters", "compute_filters",
           "excluded_reason", "from_env", "hourly_usd", "instance_facts", "meter_id_of",
           "negotiated_hourly_prices", "overlay_price_sheet", "parse_compute", "parse_egress",
           "parse_storage", "read_price_sheet", "reservation_purchase", "retail_price",
           "storage_filters", "subscription_id", "unit_quantity", "vm_purchase"]
