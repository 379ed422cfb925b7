"""Merging price sources into the catalog the optimizer consumes.

Sources, in order of preference: a user catalog file (exclusively, when given), fresh live
prices, the bundled snapshot. Every catalog passes :func:`tco.pricing.integrity.check_catalog`
before use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .errors import CatalogError
from .files import atomic_write_text
from .integrity import check_catalog
from .models import Catalog, ComputePrice, Source
from .records import compute_from_row, egress_from_dict, storage_from_dict


def matches(record: ComputePrice, *, provider: Iterable[str] | None = None,
            gpu: Iterable[str] | None = None, region: Iterable[str] | None = None,
            purchase: Iterable[str] | None = None) -> bool:
    """Pure filter on compute records; ``None`` means no constraint on that field."""
    def ok(value: str, allowed: Iterable[str] | None, fold: bool = True) -> bool:
        if allowed is None:
            return True
        wanted = {a.lower() for a in allowed} if fold else set(allowed)
        return (value.lower() if fold else value) in wanted
    return (ok(record.provider, provider) and ok(record.gpu, gpu)
            and ok(record.region, region) and ok(record.purchase.value, purchase))


def filter_catalog(catalog: Catalog, *, provider: Iterable[str] | None = None,
                   region: Iterable[str] | None = None) -> Catalog:
    """Keep the records of the given providers and regions (all records when None)."""
    pset = {p.lower() for p in provider} if provider is not None else None
    rset = set(region) if region is not None else None

    def keep(p: str, r: str) -> bool:
        return (pset is None or p in pset) and (rset is None or r in rset)
    return replace(catalog,
                   compute=tuple(r for r in catalog.compute if keep(r.provider, r.region)),
                   storage=tuple(r for r in catalog.storage if keep(r.provider, r.region)),
                   egress=tuple(r for r in catalog.egress if keep(r.provider, r.region)))


def catalog_from_dict(doc: Any, origin: str) -> Catalog:
    """Parse the JSON document of SPEC 3; records without a ``source`` count as ``user``."""
    if not isinstance(doc, dict):
        raise CatalogError(f"{origin}: expected a JSON object with 'schema', 'compute', 'storage', "
                           f"'egress'")
    if doc.get("schema") != 1:
        raise CatalogError(f"{origin}: 'schema' must be 1, got {doc.get('schema')!r}")
    for key in ("compute", "storage", "egress"):
        if not isinstance(doc.get(key, []), list):
            raise CatalogError(f"{origin}: '{key}' must be a list")
    compute = [compute_from_row(row, f"{origin}: compute[{i}]", Source.USER)
               for i, row in enumerate(_objects(doc, "compute", origin))]
    storage = [storage_from_dict(row, f"{origin}: storage[{i}]", Source.USER)
               for i, row in enumerate(_objects(doc, "storage", origin))]
    egress = [egress_from_dict(row, f"{origin}: egress[{i}]", Source.USER)
              for i, row in enumerate(_objects(doc, "egress", origin))]
    if not compute:
        raise CatalogError(f"{origin}: 'compute' is empty: a catalog needs at least one price")
    return Catalog(tuple(compute), tuple(storage), tuple(egress))


def _objects(doc: dict[str, Any], key: str, origin: str) -> list[dict[str, Any]]:
    rows = doc.get(key, [])
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise CatalogError(f"{origin}: {key}[{i}] must be an object")
    return rows


def read_catalog_file(path: str | os.PathLike[str]) -> Catalog:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{p}: cannot read catalog ({exc.strerror or exc})") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{p}: line {exc.lineno}, column {exc.colno}: invalid JSON "
                           f"({exc.msg})") from exc
    return replace(catalog_from_dict(doc, str(p)), origin=str(path))


def write_catalog_file(catalog: Catalog, path: str | os.PathLike[str]) -> None:
    atomic_write_text(path, json.dumps(catalog.to_dict(), indent=1) + "\n")


def load_catalog(*, offline: bool = True, path: str | os.PathLike[str] | None = None,
                 providers: Iterable[str] | None = None, refresh: str = "never",
                 progress: Callable[[str], None] | None = None) -> Catalog:
    """The catalog to plan with.

    With ``path``, exactly that catalog file and no other source. Otherwise the bundled
    snapshot with cached live prices laid over it; ``refresh`` (``never``, ``auto``,
    ``always``) says when to fetch live prices first, and ``offline`` forbids any network
    access. Records failing the integrity rules are excluded; they and the softer anomalies
    are listed in ``catalog.notices``, each with its record, and ``catalog.origin`` names the
    catalog file when there is one.
    """
    if path is not None:
        base = read_catalog_file(path)
    else:
        from .live import current_catalog
        from .settings import PricingSettings

        settings = PricingSettings.from_env(offline=offline)
        base = current_catalog(providers, refresh="never" if offline else refresh,
                               settings=settings, progress=progress)
    if providers is not None:
        base = filter_catalog(base, provider=providers)
    return check_catalog(base).catalog


__all__ = ["catalog_from_dict", "filter_catalog", "load_catalog", "matches", "read_catalog_file",
           "write_catalog_file"]
