"""Building records from loosely typed rows (CSV files, JSON catalogs) with precise errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .errors import CatalogError
from .models import CLOUD_PURCHASES, ComputePrice, EgressPrice, Purchase, Source, StoragePrice
from .tiers import validate_tiers

T = TypeVar("T")
TieredPrice = TypeVar("TieredPrice", StoragePrice, EgressPrice)


class _Row:
    """Typed access to one row, raising CatalogError naming ``where`` and the field."""

    def __init__(self, row: Mapping[str, Any], where: str) -> None:
        self.row = row
        self.where = where

    def get(self, key: str, conv: Callable[[Any], T], what: str) -> T:
        if key not in self.row or self.row[key] in (None, ""):
            raise CatalogError(f"{self.where}: missing '{key}' (expected {what})")
        try:
            return conv(self.row[key])
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"{self.where}: '{key}' = {self.row[key]!r} is not {what}") from exc

    def opt(self, key: str, conv: Callable[[Any], T], default: T, what: str) -> T:
        if self.row.get(key) in (None, ""):
            return default
        return self.get(key, conv, what)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _int(value: Any) -> int:
    f = float(value)
    if f != int(f):
        raise ValueError(value)
    return int(f)


def compute_from_row(row: Mapping[str, Any], where: str, default_source: Source) -> ComputePrice:
    r = _Row(row, where)
    purchase = r.get("purchase", Purchase, "one of " + ", ".join(p.value for p in CLOUD_PURCHASES))
    term = r.opt("term_months", _int, purchase.term_months, "a whole number of months")
    upfront = r.opt("upfront_usd", float, 0.0, "a number")
    if "usd_per_hour" in row:
        usd_per_hour = r.get("usd_per_hour", float, "a number")
    else:
        recurring = r.get("recurring_usd_per_hour", float, "a number")
        usd_per_hour = recurring + (upfront / (term * 730.0) if term else 0.0)
    return ComputePrice(
        provider=r.get("provider", str, "a provider name").lower(),
        region=r.get("region", str, "a region code"),
        instance_type=r.get("instance_type", str, "an instance type"),
        gpu=r.get("gpu", str, "a GPU class"),
        gpu_count=r.get("gpu_count", _int, "a whole number"),
        gpu_memory_gib=r.opt("gpu_memory_gib", float, 0.0, "a number"),
        vcpus=r.opt("vcpus", _int, 0, "a whole number"),
        memory_gib=r.opt("memory_gib", float, 0.0, "a number"),
        purchase=purchase,
        usd_per_hour=usd_per_hour,
        upfront_usd=upfront,
        term_months=term,
        source=r.opt("source", Source, default_source, "one of live, snapshot, user"),
        source_ref=r.opt("source_ref", str, "", "a text"),
        as_of=r.get("as_of", _date, "a date YYYY-MM-DD"),
    )


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "1"):
        return True
    if text in ("no", "false", "0"):
        return False
    raise ValueError(value)


def _tiers(r: _Row, key: str) -> tuple[tuple[float, float], ...]:
    raw = r.get(key, list, "a list of [start_gb, usd_per_gb] pairs")
    free = r.opt("free", _bool, False, "yes or no")
    try:
        return validate_tiers(raw, free=free)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{r.where}: '{key}': {exc}") from exc


def _tiered_from_dict(cls: type[TieredPrice], kind: tuple[str, str], row: Mapping[str, Any],
                      where: str, default_source: Source) -> TieredPrice:
    """A StoragePrice or EgressPrice; ``kind`` is its extra field and that field's default."""
    r = _Row(row, where)
    key, default = kind
    return cls(
        provider=r.get("provider", str, "a provider name").lower(),
        region=r.get("region", str, "a region code"),
        tiers=_tiers(r, "tiers"),
        source=r.opt("source", Source, default_source, "one of live, snapshot, user"),
        source_ref=r.opt("source_ref", str, "", "a text"),
        as_of=r.get("as_of", _date, "a date YYYY-MM-DD"),
        **{key: r.opt(key, str, default, "a text")},
    )


def storage_from_dict(row: Mapping[str, Any], where: str, default_source: Source) -> StoragePrice:
    return _tiered_from_dict(StoragePrice, ("storage_class", "standard"), row, where,
                             default_source)


def egress_from_dict(row: Mapping[str, Any], where: str, default_source: Source) -> EgressPrice:
    return _tiered_from_dict(EgressPrice, ("destination", "internet"), row, where, default_source)
