"""The one exception family of tco, and the errors of its price sources.

Every error the library raises on purpose derives from :class:`TcoError` (each package
defines its own below it: ``tco.optimizer.errors`` the plan's); the CLI maps each family to an
exit code (SPEC section 7) and never shows a traceback for them.
"""

from __future__ import annotations


class TcoError(Exception):
    """Base of every error tco raises on purpose."""


class CatalogError(TcoError):
    """A catalog file or price data file is malformed."""


class PricingError(TcoError):
    """A price source failed."""


class MissingCredentialsError(PricingError):
    """A live adapter cannot build itself from the environment."""

    def __init__(self, provider: str, hint: str) -> None:
        super().__init__(f"{provider}: no credentials ({hint})")
        self.provider = provider
        self.hint = hint


class NoPriceSourceError(PricingError):
    """No price source is available for a provider the plan requires."""
