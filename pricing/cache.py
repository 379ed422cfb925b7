"""The record cache: each provider's normalized live prices, stored atomically with their
fetch time, plus the last failed attempt (so a failing provider is not retried on every run).

Layout under ``settings.cache_dir``::

    http.sqlite              requests-cache responses (Azure), see http.py
    prices/<provider>.json   {"schema": 1, "provider", "fetched_at", "regions", "compute", ...}
    prices/<provider>.failed.json   {"at", "error", "retry_after"} of the last failed refresh

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
from .settings import DEFAULT_RETRY_FAILED_AFTER_S, PricingSettings

RETRY_FAILED_AFTER_S = DEFAULT_RETRY_FAILED_AFTER_S


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


@dataclass(frozen=True)
class Failure:
    """The last failed refresh of a provider: when, why (a short reason), and the time before
    which an automatic refresh does not try again."""

    provider: str
    at: dt.datetime
    error: str
    retry_after: dt.datetime

    def cooling(self, now: dt.datetime | None = None) -> bool:
        return (now or _now()) < self.retry_after


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

    def record_failure(self, provider: str, message: str,
                       at: dt.datetime | None = None) -> Failure:
        """Remember a failed refresh; automatic refreshes skip ``provider`` until its
        ``retry_after`` (``settings.retry_failed_after_s`` later)."""
        at = at or _now()
        failure = Failure(provider, at, message,
                          at + dt.timedelta(seconds=self.settings.retry_failed_after_s))
        atomic_write_text(self.failure_path(provider), json.dumps(
            {"at": at.isoformat(), "error": message,
             "retry_after": failure.retry_after.isoformat()}) + "\n")
        return failure

    def failure(self, provider: str) -> Failure | None:
        """The last failed refresh of ``provider``, however long ago (None: none since the
        last success). An unreadable record is dropped."""
        path = self.failure_path(provider)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            at = dt.datetime.fromisoformat(doc["at"])
            after = doc.get("retry_after")
            retry_after = (dt.datetime.fromisoformat(after) if after else
                           at + dt.timedelta(seconds=RETRY_FAILED_AFTER_S))
            return Failure(provider, at, str(doc.get("error") or "failed"), retry_after)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            return None

    def recent_failure(self, provider: str, now: dt.datetime | None = None) -> str | None:
        """The error of a failed refresh whose cool-down has not ended, if any."""
        failure = self.failure(provider)
        return failure.error if failure is not None and failure.cooling(now) else None

    def info(self) -> list[dict[str, Any]]:
        """Per provider with cached prices or a failed refresh on record: what is cached, and
        the last failure with the time the next automatic attempt may be made (None: the next
        run may try)."""
        rows: list[dict[str, Any]] = []
        if not self.folder.exists():
            return rows
        names = sorted({p.name.removesuffix(".failed.json") if p.name.endswith(".failed.json")
                        else p.stem for p in self.folder.glob("*.json")})
        for provider in names:
            cached = self.load(provider) if self.settings.records_path(provider).exists() else None
            failure = self.failure(provider)
            if cached is None and failure is None:
                continue
            row: dict[str, Any] = {"provider": provider, "fetched_at": None, "age_hours": None,
                                   "fresh": False, "records": 0, "bytes": 0}
            if cached is not None:
                row.update({"fetched_at": cached.fetched_at.isoformat(),
                            "age_hours": round(cached.age_s() / 3600, 1),
                            "fresh": cached.fresh(self.settings),
                            "records": len(cached.catalog.compute) + len(cached.catalog.storage)
                            + len(cached.catalog.egress),
                            "bytes": self.settings.records_path(provider).stat().st_size})
            row.update({
                "last_failure": failure.error if failure else None,
                "failed_at": failure.at.isoformat() if failure else None,
                "next_attempt": (failure.retry_after.isoformat()
                                 if failure is not None and failure.cooling() else None)})
            rows.append(row)
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
