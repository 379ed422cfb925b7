"""Calendar months as ``YYYY-MM`` strings and their offsets from the plan's first month."""

from __future__ import annotations

import functools
import re

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> tuple[int, int]:
    """``"2027-03" -> (2027, 3)``; raises ValueError for anything else."""
    m = _MONTH.match(text.strip()) if isinstance(text, str) else None
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def month_offset(start: str, month: str) -> int:
    """Months from ``start`` to ``month`` (0 for the same month)."""
    y0, m0 = parse_month(start)
    y1, m1 = parse_month(month)
    return (y1 - y0) * 12 + (m1 - m0)


@functools.lru_cache(maxsize=4096)
def month_label(start: str, offset: int) -> str:
    """The ``YYYY-MM`` that lies ``offset`` months after ``start``."""
    y0, m0 = parse_month(start)
    total = y0 * 12 + (m0 - 1) + offset
    return f"{total // 12:04d}-{total % 12 + 1:02d}"
