"""How far a plan may be from the best one, in the MIP solvers' own measure (SPEC 15), and when
two NPVs can be told apart (SPEC 16). Pure functions of numbers.

A plan of NPV ``N`` found with a proven lower bound ``B`` on every plan's NPV is at most
``N − B`` dollars dearer than the best plan: that is its gap in dollars. Its relative gap is
``(N − B) / max(|N|, |B|, 1)``: the definition of HiGHS and CBC (``mip_rel_gap``,
``allowableFractionGap``), never relative to a figure such as spending that a plan can
inflate by buying servers and selling them again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Npv", "gap_usd", "joint_gap", "least_bound", "relative_gap", "sure_target",
           "told_apart"]

# where a reported gap counts as within its target: rounding in the solver's last digits
_SLACK = 1e-9


def gap_usd(objective: float, bound: float | None) -> float | None:
    """The most a plan of NPV ``objective`` can be dearer than the best one, given that no
    plan costs less than ``bound``; None when no bound is known."""
    if bound is None or not math.isfinite(bound):
        return None
    return max(0.0, objective - bound)


def relative_gap(objective: float, bound: float | None) -> float | None:
    """``(objective − bound) / max(|objective|, |bound|, 1)``, or None without a bound."""
    gap = gap_usd(objective, bound)
    if gap is None or bound is None:
        return None
    return gap / max(abs(objective), abs(bound), 1.0)


def sure_target(bound: float, gap: float) -> float:
    """The largest NPV that is within ``gap`` (a relative gap below 1) of ``bound``: a solver
    may stop at the first plan at or below it. Above a bound of at least ``1 − gap`` the
    denominator is the NPV itself, so NPV ≤ bound / (1 − gap); below, it is ``max(|bound|,
    1)``."""
    if not math.isfinite(bound):
        return bound
    if gap >= 1.0:
        return math.inf
    if bound >= 1.0 - gap:
        return bound / (1.0 - gap)
    return bound + gap * max(abs(bound), 1.0)


def least_bound(objective: float, gap: float) -> float:
    """The lowest bound that a solver which stopped at relative gap ``gap`` with a plan of NPV
    ``objective`` may have had: what such a solve proves when the solver does not report its
    bound (CBC through PuLP). The inverse of ``sure_target``."""
    if gap >= 1.0:
        return -math.inf
    if objective >= 1.0:
        # for a bound B ≥ 0 the denominator is the NPV: B ≥ N(1 − g); a negative B would need
        # N − B ≤ g·max(N, −B), i.e. N ≤ g·max(N, −B) + B < N
        return objective * (1.0 - gap)
    # N < 1: with D = max(|N|, |B|, 1), the least B solves N − B = g·D
    low = objective - gap                       # when D = 1 (|B| ≤ 1)
    if low >= -1.0:
        return low
    # |B| > 1 and B < 0: N − B = −g·B, so B = N / (1 − g)
    return objective / (1.0 - gap)


def joint_gap(gap_a: float | None, gap_b: float | None) -> float | None:
    """How far apart two NPVs may be and still be a tie: the sum of their gaps in dollars;
    None when either is unknown."""
    if gap_a is None or gap_b is None:
        return None
    return gap_a + gap_b


def told_apart(a: float, gap_a: float | None, b: float, gap_b: float | None) -> bool:
    """Whether NPVs ``a`` and ``b`` differ by more than the sum of their gaps in dollars, so
    that the cheaper is surely cheaper (SPEC 16). An NPV with no known gap tells nothing
    apart."""
    joint = joint_gap(gap_a, gap_b)
    return joint is not None and abs(a - b) > joint


@dataclass(frozen=True)
class Npv:
    """An NPV with its proof: how much dearer than the best plan the plan behind it may be
    (``gap_usd``, None when unknown). ``Npv.unknown()``: the solver stopped, at its time
    limit, before it found any plan: neither a price nor a proof of infeasibility."""

    usd: float
    gap_usd: float | None
    # the solve behind it was stopped by the wall-clock safety net, not by its work budget
    time_limited: bool = False

    @staticmethod
    def unknown() -> Npv:
        return Npv(math.nan, None)

    @property
    def known(self) -> bool:
        return not math.isnan(self.usd)

    @property
    def mip_gap(self) -> float | None:
        """``gap_usd`` relative to max(|NPV|, |bound|, 1), the bound being NPV − gap."""
        if self.gap_usd is None:
            return None
        return relative_gap(self.usd, self.usd - self.gap_usd)

    def proven(self, target: float) -> bool:
        """Whether the gap is known and within ``target`` (a relative gap)."""
        gap = self.mip_gap
        return self.known and gap is not None and gap <= target + _SLACK

    def apart_from(self, other: Npv) -> bool:
        """Whether this NPV and ``other`` are told apart (``told_apart``)."""
        return told_apart(self.usd, self.gap_usd, other.usd, other.gap_usd)

    def to_dict(self, target: float) -> dict[str, Any]:
        return {"npv_usd": round(self.usd, 2) if self.known else None,
                "gap_usd": None if self.gap_usd is None else round(self.gap_usd, 2),
                "proven": self.proven(target)}
