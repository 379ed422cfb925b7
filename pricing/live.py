"""Refreshing live prices and merging them with the bundled snapshot.

Preference per provider and region: a cached live fetch (refreshed when older than the TTL and
``refresh`` allows it), else the snapshot. A provider that fails keeps its last good prices
(stale-if-error) and its failure is remembered for an hour, so ``refresh = "auto"`` does not
retry it on every run; one provider failing never discards another's prices.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from .base import ADAPTERS, load_adapter
from .cache import CachedPrices, RecordCache
from .errors import MissingCredentialsError
from .integrity import check_catalog
from .models import Catalog
from .settings import PricingSettings
from .snapshot import load_snapshot

Progress = Callable[[str], None]
REFRESH_MODES = ("auto", "always", "never")


def offline_forced() -> bool:
    """``TCO_OFFLINE=1`` makes every run offline (air-gapped machines, CI)."""
    return os.environ.get("TCO_OFFLINE", "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class RefreshOutcome:
    provider: str
    ok: bool
    records: int
    message: str | None = None
    missing_credentials: bool = False


def refresh_provider(provider: str, settings: PricingSettings, cache: RecordCache,
                     regions: Sequence[str] | None = None,
                     progress: Progress | None = None) -> RefreshOutcome:
    """Fetch one provider's live prices and cache them; never raises for a provider failure."""
    try:
        adapter = load_adapter(provider, settings)
        result = adapter.fetch(list(regions) if regions else None, progress)
    except MissingCredentialsError as exc:
        cache.record_failure(provider, str(exc))
        return RefreshOutcome(provider, False, 0, str(exc), missing_credentials=True)
    except Exception as exc:  # noqa: BLE001 - a provider failing must not fail the run
        message = f"{provider}: refresh failed ({type(exc).__name__}: {exc})"
        cache.record_failure(provider, message)
        return RefreshOutcome(provider, False, 0, message)
    checked = check_catalog(Catalog(tuple(result.compute), tuple(result.storage),
                                    tuple(result.egress)))
    if not checked.catalog.compute:
        message = f"{provider}: refresh returned no usable compute prices; keeping the last good ones"
        cache.record_failure(provider, message)
        return RefreshOutcome(provider, False, 0, message)
    result.compute = list(checked.catalog.compute)
    result.storage = list(checked.catalog.storage)
    saved = cache.save(provider, result, list(regions) if regions else None)
    notes = [*result.warnings, *checked.rejected, *checked.warnings]
    return RefreshOutcome(provider, True, len(saved.catalog.compute) + len(saved.catalog.storage)
                          + len(saved.catalog.egress), "; ".join(notes[:5]) or None)


def refresh_all(providers: Iterable[str], settings: PricingSettings,
                regions: Sequence[str] | None = None,
                progress: Progress | None = None) -> list[RefreshOutcome]:
    """Refresh several providers concurrently."""
    cache = RecordCache(settings)
    names = [p for p in providers if p in ADAPTERS]
    if not names:
        return []
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = [pool.submit(refresh_provider, p, settings, cache, regions, progress)
                   for p in names]
        return [f.result() for f in futures]


def current_catalog(providers: Iterable[str] | None = None, *, refresh: str = "never",
                    settings: PricingSettings | None = None,
                    progress: Progress | None = None) -> Catalog:
    """The snapshot, with each provider's cached live prices laid over it region by region.

    ``refresh``: ``never`` uses the cache as it is; ``auto`` refreshes a provider whose cache is
    older than the TTL (unless it failed within the hour); ``always`` refreshes every provider.
    Offline settings (or ``TCO_OFFLINE=1``) never touch the network.
    """
    if refresh not in REFRESH_MODES:
        raise ValueError(f"refresh must be one of {', '.join(REFRESH_MODES)}")
    settings = settings or PricingSettings.from_env(offline=offline_forced())
    if offline_forced():
        settings = replace(settings, offline=True)
    snapshot = load_snapshot()
    wanted = sorted(set(providers) if providers is not None else set(ADAPTERS))
    cache = RecordCache(settings)
    warnings: list[str] = []
    cached: dict[str, CachedPrices | None] = {p: cache.load(p) for p in wanted}
    if not settings.offline and refresh != "never":
        due = [p for p in wanted if p in ADAPTERS and (
            refresh == "always" or ((cached[p] is None or not cached[p].fresh(settings))  # type: ignore[union-attr]
                                    and cache.recent_failure(p) is None))]
        for outcome in refresh_all(due, settings, progress=progress):
            if outcome.ok:
                cached[outcome.provider] = cache.load(outcome.provider)
            elif outcome.message:
                warnings.append(outcome.message + (
                    "; using the last good prices" if cached[outcome.provider] else
                    "; using the bundled snapshot"))
    warnings += cache.warnings
    merged = _lay_over(snapshot, [c for c in cached.values() if c is not None])
    for c in cached.values():
        if c is not None and not c.fresh(settings):
            warnings.append(f"{c.provider}: live prices fetched {c.fetched_at:%Y-%m-%d %H:%M} UTC "
                            f"are older than {settings.ttl_s // 3600} h")
    return replace(merged, warnings=merged.warnings + tuple(warnings))


def _lay_over(base: Catalog, live: list[CachedPrices]) -> Catalog:
    """Replace ``base`` records of every (provider, region) a live fetch covers."""
    covered = {(r.provider, r.region) for c in live for r in c.catalog.compute}
    storage_cov = {(r.provider, r.region) for c in live for r in c.catalog.storage}
    egress_cov = {(r.provider, r.region) for c in live for r in c.catalog.egress}
    return Catalog(
        tuple(r for r in base.compute if (r.provider, r.region) not in covered)
        + tuple(r for c in live for r in c.catalog.compute),
        tuple(r for r in base.storage if (r.provider, r.region) not in storage_cov)
        + tuple(r for c in live for r in c.catalog.storage),
        tuple(r for r in base.egress if (r.provider, r.region) not in egress_cov)
        + tuple(r for c in live for r in c.catalog.egress),
        base.warnings)
