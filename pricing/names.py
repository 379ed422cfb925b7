"""Suggestions for a misspelt name: "did you mean ...".

A name that starts a family of known names suggests the family first (``A100`` suggests
``A100-40GB`` and ``A100-80GB``, where plain string likeness would offer ``A10``); otherwise
the closest known name by string likeness, if any is close.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["close_names", "did_you_mean"]


def close_names(value: str, known: Iterable[str], most: int = 3) -> list[str]:
    """The known names ``value`` most likely meant, best first."""
    names = list(dict.fromkeys(known))
    lowered = value.lower()
    same = [k for k in names if k.lower() == lowered]
    if same:
        return same[:1]            # the right name in another case
    family = sorted(k for k in names if k.lower().startswith(lowered)
                    and k[len(value):][:1] in ("-", "_", ".", " "))
    if family:
        return family[:most]
    return difflib.get_close_matches(value, names, n=1, cutoff=0.5)


def did_you_mean(value: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``) for an error message, or ``""``."""
    close = close_names(value, known)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
