"""The cash-flow ledger of a program: every cost and credit, by category and month, each entry
tagged with what it pays for. The objective is the ledger discounted to present value, and the
report reads every amount from the same entries (``extract``), so the two cannot drift.

An entry is ``(category, month, term, coefficient, tag)``: the amount is ``value(term) ×
coefficient``, where a term is a variable, an expression or a number. A fee paid every month
of a range (a reservation's, a server's running costs) is one recurring entry rather than one
per month; its coefficient is one number, or one per month when the price moves (a trend).

Tags say what an amount is for, so the report can attribute it without recomputing it: a
capacity variable (``model.Cap``) for the price of its own hours, or a :class:`Tag`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import NamedTuple


class Category(StrEnum):
    """The cost categories of the breakdown (SPEC 7, 10), in report order."""

    CLOUD_COMPUTE = "cloud_compute"
    CLOUD_RESERVED = "cloud_reserved"
    STORAGE = "storage"
    EGRESS = "egress"
    ONPREM_CAPEX = "onprem_capex"
    ONPREM_LEASE = "onprem_lease"
    ENERGY = "energy"
    COLO = "colo"
    MAINTENANCE = "maintenance"
    STAFF = "staff"
    DECOMMISSION = "decommission"
    RESIDUAL_CREDIT = "residual_credit"


CATEGORIES = tuple(c.value for c in Category)


class Tag(NamedTuple):
    """What a ledger entry pays for. ``kind`` is one of:

    - ``reservation``: key (venue, gpu, term, instance_type, start month);
    - ``order``: capex of servers ordered, key (site, server, order month);
    - ``fleet``: running costs of a cohort of owned servers, key (site, server, cohort);
    - ``retire``: resale credit and decommissioning of retired servers, key (site, server,
      cohort, month);
    - ``held``: value of servers still owned at the horizon's end, key (site, server, cohort);
    - ``storage``, ``egress``: key (venue,) or (provider,);
    - ``financing``: a lease's or loan's payments instead of the price, key (site, server,
      order month).
    """

    kind: str
    key: tuple[object, ...]


Entry = tuple[str, int, object, float, object]
# a recurring entry's coefficient: the same every month, or one per month of its range
Coefficient = float | tuple[float, ...]


def monthly(coef: Coefficient, i: int) -> float:
    """The coefficient of a recurring entry in the ``i``-th month of its range."""
    return coef if isinstance(coef, float | int) else coef[i]


class Ledger:
    """Cash flows as entries; ``recurring`` ones stand for an amount every month of a range."""

    __slots__ = ("flows", "recurring")

    def __init__(self) -> None:
        self.flows: list[Entry] = []
        self.recurring: list[tuple[str, range, object, Coefficient, object]] = []

    def add(self, category: str, month: int, term: object, coef: float = 1.0,
            tag: object = None) -> None:
        if coef != 0:
            self.flows.append((category, month, term, coef, tag))

    def add_monthly(self, category: str, months: range, term: object, coef: Coefficient,
                    tag: object = None) -> None:
        """``coef × term`` in every month of ``months`` (one entry instead of one per month);
        ``coef`` is a number, or a tuple with one per month."""
        if not months:
            return
        if isinstance(coef, tuple):
            if len(coef) != len(months):
                raise ValueError("add_monthly: one coefficient per month")
            if any(coef):
                self.recurring.append((category, months, term, coef, tag))
        elif coef != 0:
            self.recurring.append((category, months, term, coef, tag))

    def entries(self) -> Iterator[Entry]:
        """Every cash flow month by month, recurring ones expanded."""
        yield from self.flows
        for category, months, term, coef, tag in self.recurring:
            for i, m in enumerate(months):
                yield category, m, term, monthly(coef, i), tag

    def objective(self, discount: Callable[[int], float],
                  discount_sum: Callable[[range], float]) -> list[tuple[object, float]]:
        """``(term, coefficient)`` pairs whose sum is the ledger's present value."""
        return [*((term, coef * discount(m)) for _, m, term, coef, _ in self.flows),
                *((term, present(coef, months, discount, discount_sum))
                  for _, months, term, coef, _ in self.recurring)]


def present(coef: Coefficient, months: range, discount: Callable[[int], float],
            discount_sum: Callable[[range], float]) -> float:
    """Present value of ``coef`` paid in every month of ``months``."""
    if isinstance(coef, tuple):
        return sum(c * discount(m) for c, m in zip(coef, months, strict=True))
    return coef * discount_sum(months)

    def __len__(self) -> int:
        return len(self.flows) + len(self.recurring)
