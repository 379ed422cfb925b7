"""The record cache: each provider's normalized live prices, stored atomically with their
fetch time, plus the last failed attempt (so a failing provider is not retried on every run).

Layout under ``settings.cache_dir``::

    http.sqlite              requests-cache responses (Azure), see http.py
    prices/<provider>.json   {"schema": 1, "provider", "fetched_at", "regions", "compute", ...}
    prices/<provider>.failed.json   {"at", "error"} of the last failed refresh

A file that cannot be read back is set aside (``.corrupt-<time>``) with a warning, never fatal.
Credentials never enter the cache: only price records are written.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import FetchResult
from .errors import CatalogError
from .files import atomic_write_text
from .models import Catalog, Source
from .records import compute_from_row, egress_from_dict, storage_from_dict
from .settings import PricingSettings

RETRY_FAILED_AFTER_S = 3600


@dataclass(frozen=True)
class CachedPrices:
    provider: str
    fetched_at: dt.datetime
    regions: tuple[str, ...] | None
    catalog: Catalog

    def age_s(self, now: dt.datetime | None = None) -> float:
        return ((now or _now()) - self.fetched_at).total_seconds()

    def fresh(self, settings: PricingSettings, now: dt.datetime | None = None) -> bool:
        return self.age_s(now) < settings.ttl_s


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RecordCache:
    def __init__(self, settings: PricingSettings) -> None:
        self.settings = settings
        self.warnings: list[str] = []

    @property
    def folder(self) -> Path:
        return self.settings.cache_dir / "prices"

    def _set_aside(self, path: Path, why: str) -> None:
        stamp = _now().strftime("%Y%m%dT%H%M%S")
        target = path.with_name(f"{path.name}.corrupt-{stamp}")
        try:
            path.replace(target)
            self.warnings.append(f"{path}: unreadable cache ({why}); set aside as {target.name}")
        except OSError:
            self.warnings.append(f"{path}: unreadable cache ({why}); ignored")

    def load(self, provider: str) -> CachedPrices | None:
        path = self.settings.records_path(provider)
        if not path.exists():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            fetched = dt.datetime.fromisoformat(doc["fetched_at"])
            where = str(path)
            catalog = Catalog(
                tuple(compute_from_row(r, f"{where}: compute[{i}]", Source.LIVE)
                      for i, r in enumerate(doc["compute"])),
                tuple(storage_from_dict(r, f"{where}: storage[{i}]", Source.LIVE)
                      for i, r in enumerate(doc.get("storage", []))),
                tuple(egress_from_dict(r, f"{where}: egress[{i}]", Source.LIVE)
                      for i, r in enumerate(doc.get("egress", []))))
            regions = doc.get("regions")
            return CachedPrices(provider, fetched, tuple(regions) if regions else None, catalog)
        except (OSError, ValueError, KeyError, TypeError, CatalogError) as exc:
            self._set_aside(path, str(exc) or type(exc).__name__)
            return None

    def save(self, provider: str, result: FetchResult, regions: list[str] | None,
             fetched_at: dt.datetime | None = None) -> CachedPrices:
        fetched = fetched_at or _now()
        doc: dict[str, Any] = {
            "schema": 1, "provider": provider, "fetched_at": fetched.isoformat(),
            "regions": regions,
            "compute": [r.to_dict() for r in result.compute],
            "storage": [r.to_dict() for r in result.storage],
            "egress": [r.to_dict() for r in result.egress],
        }
        atomic_write_text(self.settings.records_path(provider), json.dumps(doc, indent=1) + "\n")
        self.failure_path(provider).unlink(missing_ok=True)
        return CachedPrices(provider, fetched, tuple(regions) if regions else None,
                            Catalog(tuple(result.compute), tuple(result.storage),
                                    tuple(result.egress)))

    def failure_path(self, provider: str) -> Path:
        return self.folder / f"{provider}.failed.json"

    def record_failure(self, provider: str, message: str) -> None:
        atomic_write_text(self.failure_path(provider),
                          json.dumps({"at": _now().isoformat(), "error": message}) + "\n")

    def recent_failure(self, provider: str, now: dt.datetime | None = None) -> str | None:
        """The error of a failed refresh less than an hour ago, if any."""
        path = self.failure_path(provider)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            at = dt.datetime.fromisoformat(doc["at"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            return None
        if ((now or _now()) - at).total_seconds() < RETRY_FAILED_AFTER_S:
            return str(doc.get("error", "failed"))
        return None

    def info(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.exists() else []:
            if path.name.endswith(".failed.json"):
                continue
            cached = self.load(path.stem)
            if cached is None:
                continue
            rows.append({"provider": cached.provider, "fetched_at": cached.fetched_at.isoformat(),
                         "age_hours": round(cached.age_s() / 3600, 1),
                         "fresh": cached.fresh(self.settings),
                         "records": len(cached.catalog.compute) + len(cached.catalog.storage)
                         + len(cached.catalog.egress),
                         "bytes": path.stat().st_size,
                         "last_failure": self.recent_failure(cached.provider)})
        return rows

    def clear(self) -> int:
        """Remove tco's cache files; returns how many were removed."""
        removed = 0
        if self.folder.exists():
            removed += sum(1 for p in self.folder.iterdir() if p.is_file())
            shutil.rmtree(self.folder)
        for path in self.settings.cache_dir.glob("http.sqlite*"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed
