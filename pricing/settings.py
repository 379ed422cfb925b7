"""One settings object for live pricing: cache location, freshness, network behaviour.

Decided in one place (``PricingSettings.from_env``) and passed to every adapter and to the
HTTP session factory, so no adapter decides expiry, cache paths or offline mode on its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

DEFAULT_TTL_S = 24 * 3600
DEFAULT_TIMEOUT_S = 10.0
# an automatic refresh first checks, this long at most, that a provider's API can be reached:
# without a network, a run pays about this once, not a timeout and retries per request
DEFAULT_CONNECT_TIMEOUT_S = 1.0
DEFAULT_RETRIES = 3
# after a failed refresh, automatic refreshes leave the provider alone this long
DEFAULT_RETRY_FAILED_AFTER_S = 3600


class Refresh(StrEnum):
    """When live prices are fetched: when the cache is older than its TTL, always, never."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class PricingSettings:
    cache_dir: Path
    ttl_s: int = DEFAULT_TTL_S
    offline: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    backoff_s: float = 0.5
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    retry_failed_after_s: int = DEFAULT_RETRY_FAILED_AFTER_S
    # where the GPU clouds' gpuhunt catalogs are read (``--from``): a base URL ending in
    # ``/v3`` or a directory of ``<provider>.csv`` files; None: gpuhunt's published catalogs
    catalog_from: str | None = None

    @classmethod
    def from_env(cls, *, offline: bool = False) -> PricingSettings:
        """``TCO_CACHE_DIR`` or the platform's user cache directory."""
        raw = os.environ.get("TCO_CACHE_DIR")
        if raw:
            cache_dir = Path(raw).expanduser()
        else:
            from platformdirs import user_cache_dir

            cache_dir = Path(user_cache_dir("tco", appauthor=False))
        return cls(cache_dir=cache_dir, offline=offline)

    @property
    def http_cache_path(self) -> Path:
        return self.cache_dir / "http.sqlite"

    def records_path(self, provider: str) -> Path:
        return self.cache_dir / "prices" / f"{provider}.json"
