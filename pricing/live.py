"""Refreshing live prices and merging them with the bundled snapshot.

Preference per provider and region: a cached live fetch (refreshed when older than the TTL and
``refresh`` allows it), else the snapshot. A provider that fails keeps its last good prices
(stale-if-error) and its failure is remembered in the cache for an hour, so ``refresh = "auto"``
does not retry it on every run; one provider failing never discards another's prices.

An automatic refresh is meant to be cheap when there is no network: before fetching, it checks
that the provider's API can be reached at all (one TCP connection, within
``settings.connect_timeout_s``, the providers side by side), and a failure is reported in one
short line, never as the error text of a library.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from .base import ADAPTERS, NO_LIVE_SOURCE, load_adapter
from .cache import CachedPrices, RecordCache
from .errors import MissingCredentialsError, PricingError
from .integrity import check_catalog
from .models import Catalog, Provider
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
    reason: str | None = None                  # why it failed, in a few words
    retry_after: dt.datetime | None = None     # automatic refreshes wait until then


def probe(url: str, timeout_s: float) -> tuple[str, str] | None:
    """None when a TCP connection to the host of ``url`` (or to the proxy the environment
    names for it) opens within ``timeout_s``; else a short reason and the host tried.

    Looking up the proxy and the name count against ``timeout_s`` too: the attempt runs in a
    daemon thread that is left behind, not waited for, when it takes longer."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "bad endpoint URL", url
    target: list[tuple[str, int]] = [(parts.hostname or "", port)]   # the proxy's, if any
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            proxy = urllib.request.getproxies().get(parts.scheme)
            if proxy and not urllib.request.proxy_bypass(target[0][0]):
                via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
                target[0] = (via.hostname or target[0][0], via.port or 80)
            socket.create_connection(target[0], timeout=timeout_s).close()
            outcome.append(None)
        except Exception as exc:  # noqa: BLE001 - every way of not connecting is an answer
            outcome.append(exc)

    attempt = threading.Thread(target=connect, name=f"probe {url}", daemon=True)
    attempt.start()
    attempt.join(timeout_s)
    where = "{}:{}".format(*target[0])
    if not outcome:
        return f"no answer within {timeout_s:g} s", where
    error = outcome[0]
    if error is None:
        return None
    return (_network_reason(error, timeout_s) or _first_line(str(error))
            or type(error).__name__), where


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}


def _network_reason(error: BaseException, timeout_s: float | None = None) -> str | None:
    """A few words for a failure to connect found in ``error`` or what caused it (SDKs wrap
    them several times over), or None when it is not one."""
    seen: set[int] = set()
    todo = [error]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, socket.gaierror):
            return "host not found"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, TimeoutError):
            return f"no answer within {timeout_s:g} s" if timeout_s else "no answer in time"
        if isinstance(e, OSError) and e.strerror and (
                isinstance(e, ConnectionError) or e.errno in _UNREACHABLE):
            return e.strerror.lower()
        reason = getattr(e, "reason", None)       # urllib3's MaxRetryError
        todo += [x for x in (e.__cause__, e.__context__, reason, *e.args)
                 if isinstance(x, BaseException)]
    return None


def _first_line(text: str, limit: int = 160) -> str:
    lines = text.strip().splitlines()
    line = lines[0].strip() if lines else ""
    line = re.sub(r"(https?://[^\s?'\"]+)\?[^\s'\")]*", r"\1", line)   # no query strings
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def short_reason(provider: str, exc: BaseException) -> str:
    """What went wrong, in one line of at most 160 characters: the failure to connect when
    the error comes from one; else the first line of the error, without the provider's name in
    front or the query strings of URLs."""
    network = _network_reason(exc)
    if network is not None:
        return f"API unreachable: {network}"
    text = str(exc).strip()
    if text.startswith(f"{provider}: "):
        text = text[len(provider) + 2:]
    line = _first_line(text) or type(exc).__name__
    return line if isinstance(exc, PricingError) else _first_line(f"{type(exc).__name__}: {line}")


def refresh_provider(provider: str, settings: PricingSettings, cache: RecordCache,
                     regions: Sequence[str] | None = None,
                     progress: Progress | None = None, *, check_reach: bool = False,
                     ) -> RefreshOutcome:
    """Fetch one provider's live prices and cache them; never raises for a provider failure.

    With ``check_reach`` (automatic refreshes), the adapter's ``endpoint``, when it names
    one, must accept a connection within ``settings.connect_timeout_s`` before anything is
    fetched; otherwise this is the one attempt of the run. A failure is remembered in the cache
    with a short reason."""
    try:
        adapter = load_adapter(provider, settings)
        endpoint: str | None = getattr(adapter, "endpoint", None) if check_reach else None
        unreachable = probe(endpoint, settings.connect_timeout_s) if endpoint else None
        if unreachable is not None:
            why, where = unreachable
            return _failed(provider, cache, f"API unreachable: {why}", f"({where})")
        result = adapter.fetch(list(regions) if regions else None, progress)
    except MissingCredentialsError as exc:
        failure = cache.record_failure(provider, short_reason(provider, exc))
        return RefreshOutcome(provider, False, 0, str(exc), missing_credentials=True,
                              reason="no credentials", retry_after=failure.retry_after)
    except Exception as exc:  # noqa: BLE001 - a provider failing must not fail the run
        return _failed(provider, cache, short_reason(provider, exc))
    checked = check_catalog(Catalog(tuple(result.compute), tuple(result.storage),
                                    tuple(result.egress)))
    if not checked.catalog.compute:
        message = f"{provider}: refresh returned no usable compute prices; keeping the last good ones"
        failure = cache.record_failure(provider, "no usable compute prices in the answer")
        return RefreshOutcome(provider, False, 0, message, reason="no usable compute prices",
                              retry_after=failure.retry_after)
    result.compute = list(checked.catalog.compute)
    result.storage = list(checked.catalog.storage)
    saved = cache.save(provider, result, list(regions) if regions else None)
    notes = [*result.warnings, *checked.rejected, *checked.warnings]
    return RefreshOutcome(provider, True, len(saved.catalog.compute) + len(saved.catalog.storage)
                          + len(saved.catalog.egress), "; ".join(notes[:5]) or None)


def _failed(provider: str, cache: RecordCache, reason: str, where: str = "") -> RefreshOutcome:
    detail = f"{reason} {where}".strip()
    failure = cache.record_failure(provider, detail)
    return RefreshOutcome(provider, False, 0, f"{provider}: refresh failed ({detail})",
                          reason=reason, retry_after=failure.retry_after)


def refresh_all(providers: Iterable[str], settings: PricingSettings,
                regions: Sequence[str] | None = None,
                progress: Progress | None = None, *, check_reach: bool = False,
                ) -> list[RefreshOutcome]:
    """Refresh several providers concurrently (``check_reach``: see ``refresh_provider``)."""
    cache = RecordCache(settings)
    asked = list(providers)
    names = [p for p in asked if p in ADAPTERS]
    without = [RefreshOutcome(p, False, 0, f"{p}: {NO_LIVE_SOURCE[Provider(p)]}",
                              reason="no live source")
               for p in asked if p in NO_LIVE_SOURCE]
    if not names:
        return without
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = [pool.submit(refresh_provider, p, settings, cache, regions, progress,
                               check_reach=check_reach) for p in names]
        return [*(f.result() for f in futures), *without]


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
    failed: list[RefreshOutcome] = []
    if not settings.offline and refresh != "never":
        due = [p for p in wanted if p in ADAPTERS and (
            refresh == "always" or ((cached[p] is None or not cached[p].fresh(settings))  # type: ignore[union-attr]
                                    and cache.recent_failure(p) is None))]
        for outcome in refresh_all(due, settings, progress=progress,
                                   check_reach=refresh == "auto"):
            if outcome.ok:
                cached[outcome.provider] = cache.load(outcome.provider)
            elif outcome.missing_credentials and outcome.message:
                warnings.append(outcome.message + "; " + _fallback(cached[outcome.provider]))
            else:
                failed.append(outcome)
    warnings += _failure_lines(failed, cached)
    warnings += cache.warnings
    merged = _lay_over(snapshot, [c for c in cached.values() if c is not None])
    said = {o.provider for o in failed}
    for c in cached.values():
        if c is not None and not c.fresh(settings) and c.provider not in said:
            warnings.append(f"{c.provider}: live prices fetched {c.fetched_at:%Y-%m-%d %H:%M} UTC "
                            f"are older than {settings.ttl_s // 3600} h")
    return replace(merged, warnings=merged.warnings + tuple(warnings))


def _fallback(cached: CachedPrices | None) -> str:
    if cached is None:
        return "using the bundled snapshot"
    return f"using the last good prices (fetched {cached.fetched_at:%Y-%m-%d %H:%M} UTC)"


def _failure_lines(failed: list[RefreshOutcome],
                   cached: dict[str, CachedPrices | None]) -> list[str]:
    """One line per reason and fallback, naming every provider it applies to: without a
    network, one line for all of them."""
    groups: dict[tuple[str, str], list[RefreshOutcome]] = {}
    for o in sorted(failed, key=lambda o: o.provider):
        key = (o.reason or "failed", _fallback(cached.get(o.provider)))
        groups.setdefault(key, []).append(o)
    lines = []
    for (reason, fallback), outcomes in groups.items():
        retry = max((o.retry_after for o in outcomes if o.retry_after is not None), default=None)
        lines.append(f"{', '.join(o.provider for o in outcomes)}: refresh failed ({reason}); "
                      f"{fallback}" + (f"; next try after {retry:%H:%M} UTC" if retry else ""))
    return lines


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
