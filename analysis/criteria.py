"""How ``tco risk`` chooses among its candidates (kept apart so the CLI can list the choices
without loading the solver)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Criterion"]


class Criterion(StrEnum):
    """The mean committed NPV, its 90th percentile, or the mean of its worst 10% (CVaR 90%)."""

    MEAN = "mean"
    P90 = "p90"
    CVAR = "cvar"
