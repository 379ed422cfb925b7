"""The one HTTP session factory: requests-cache (SQLite) with bounded retries and backoff."""

from __future__ import annotations

from typing import Any

from .settings import PricingSettings

RETRY_STATUS = (429, 500, 502, 503, 504)


def http_session(settings: PricingSettings) -> Any:
    """A ``requests_cache.CachedSession`` for provider price APIs.

    Responses are kept ``settings.ttl_s`` seconds in ``<cache_dir>/http.sqlite``; on a failed
    refresh the stale response is served (stale-if-error). Throttling (429) and server errors
    are retried ``settings.retries`` times with exponential backoff. Offline, only cached
    responses are served (``only_if_cached``): a miss answers 504 without touching the network.
    """
    import requests_cache
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    session = requests_cache.CachedSession(
        str(settings.http_cache_path), backend="sqlite", expire_after=settings.ttl_s,
        stale_if_error=True, allowable_methods=("GET",), cache_control=False)
    retry = Retry(total=settings.retries, backoff_factor=settings.backoff_s,
                  status_forcelist=RETRY_STATUS, allowed_methods=("GET",),
                  respect_retry_after_header=True, raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if settings.offline:
        session.settings.only_if_cached = True
    return session
