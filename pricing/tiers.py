"""Tiered prices (storage, egress) as pure functions.

A tier list is ``((start_gb, usd_per_gb), ...)`` with ascending starts, the first at 0. Tiers
apply marginally: the first block of gigabytes at the first rate, the next at the second, and
so on. The resulting cost is monotone and continuous at every boundary.
"""

from __future__ import annotations

from collections.abc import Sequence


def validate_tiers(tiers: Sequence[Sequence[float]], *,
                   free: bool = False) -> tuple[tuple[float, float], ...]:
    """Return ``tiers`` as a tuple of pairs, or raise ``ValueError`` saying what is wrong.

    Every tier at 0 is accepted only when ``free``: the record says its source states that
    nothing is charged (RunPod's and Lambda's egress); a 0 read from anywhere else is a price
    missing, and unknown is never zero."""
    out: list[tuple[float, float]] = []
    for i, tier in enumerate(tiers):
        if len(tier) != 2:
            raise ValueError(f"tier {i} must be [start_gb, usd_per_gb], got {list(tier)!r}")
        start, rate = float(tier[0]), float(tier[1])
        if start < 0 or rate < 0:
            raise ValueError(f"tier {i} has a negative value: {list(tier)!r}")
        if out and start <= out[-1][0]:
            raise ValueError(f"tier {i} starts at {start:g} GB, not after the previous tier")
        out.append((start, rate))
    if not out:
        raise ValueError("no tiers")
    if out[0][0] != 0:
        raise ValueError(f"the first tier must start at 0 GB, not {out[0][0]:g}")
    if all(rate == 0 for _, rate in out) and not free:
        raise ValueError("every tier is priced at 0: unknown is never zero (where the source "
                         "says it is free, mark the record free)")
    return tuple(out)


def tiered_cost(tiers: Sequence[tuple[float, float]], quantity_gb: float) -> float:
    """Cost of ``quantity_gb`` under marginal ``tiers``.

    ``cost(q) = sum_k rate_k * max(0, min(q, start_{k+1}) - start_k)``.
    """
    if quantity_gb <= 0:
        return 0.0
    cost = 0.0
    for k, (start, rate) in enumerate(tiers):
        end = tiers[k + 1][0] if k + 1 < len(tiers) else float("inf")
        if quantity_gb <= start:
            break
        cost += rate * (min(quantity_gb, end) - start)
    return cost
