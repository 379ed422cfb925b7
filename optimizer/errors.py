"""The optimizer's errors (the family's base, :class:`TcoError`, is ``tco.pricing``'s)."""

from __future__ import annotations

from tco.pricing.errors import TcoError

__all__ = ["PlanError", "TcoError"]


class PlanError(TcoError):
    """The plan file (or a plan built in code) is malformed or inconsistent."""
