"""The cash-flow ledger of a program: every cost and credit, by category and month, each entry
tagged with what it pays for. The objective is the ledger discounted to present value, and the
report reads every amount from the same entries (``extract``), so the two cannot drift.

An entry is ``(category, month, term, coefficient, tag)``: the amount is ``value(term) ×
coefficient``, where a term is a variable, an expression or a number. A fee paid every month
of a range (a reservation's, a server's running costs) is one recurring entry rather than one
per month.

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
    - ``storage``, ``egress``: key (venue,) or (provider,).
    """

    kind: str
    key: tuple[object, ...]


Entry = tuple[str, int, object, float, object]


class Ledger:
    """Cash flows as entries; ``recurring`` ones stand for the same amount every month of a
    range."""

    __slots__ = ("flows", "recurring")

    def __init__(self) -> None:
        self.flows: list[Entry] = []
        self.recurring: list[tuple[str, range, object, float, object]] = []

    def add(self, category: str, month: int, term: object, coef: float = 1.0,
            tag: object = None) -> None:
        if coef != 0:
            self.flows.append((category, month, term, coef, tag))

    def add_monthly(self, category: str, months: range, term: object, coef: float,
                    tag: object = None) -> None:
        """``coef × term`` in every month of ``months`` (one entry instead of one per month)."""
        if coef != 0 and months:
            self.recurring.append((category, months, term, coef, tag))

    def entries(self) -> Iterator[Entry]:
        """Every cash flow month by month, recurring ones expanded."""
        yield from self.flows
        for category, months, term, coef, tag in self.recurring:
            for m in months:
                yield category, m, term, coef, tag

    def objective(self, discount: Callable[[int], float],
                  discount_sum: Callable[[range], float]) -> list[tuple[object, float]]:
        """``(term, coefficient)`` pairs whose sum is the ledger's present value."""
        return [*((term, coef * discount(m)) for _, m, term, coef, _ in self.flows),
                *((term, coef * discount_sum(months))
                  for _, months, term, coef, _ in self.recurring)]

    def __len__(self) -> int:
        return len(self.flows) + len(self.recurring)
