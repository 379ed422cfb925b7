"""First-stage decisions held fixed in a program (SPEC 12 and 15).

A plan's first-stage decisions are what must be signed now: servers ordered, servers retired
before their end of life, reservations (``result.Decisions``). Fixing them in a program and
solving it again re-optimizes only the hourly use (which venue serves which workload each
month, on demand or spot), the recourse. The same step prices

- a narrower scenario's plan as a plan of a wider one (``hybrid`` holds every other
  scenario's plans: priced in its own program, never copied);
- the simple plans that are cheap to find, that no returned plan may be worse than: no
  commitments and no purchases, with the servers already owned either kept to the end of
  their life or sold at once (``simple_decisions``);
- a plan under other inputs (its committed NPV, ``tco.analysis``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tco.pricing.errors import TcoError
from tco.pricing.models import Purchase

from .model import Model
from .onprem import Retired
from .program import Var
from .result import Decisions


class DecisionsError(TcoError):
    """Decisions that the program has no variables for (another plan's, or another
    scenario's that this one cannot carry out)."""


def fix(model: Model, decisions: Decisions) -> Callable[[], None]:
    """Hold ``decisions`` fixed in ``model``'s variables (anything they do not name at 0, and
    servers not said to be retired kept to their end of life); returns the function that
    frees them again. Raises :class:`DecisionsError` when they do not fit the program."""
    saved: list[tuple[Var, float | None, float | None]] = []

    def pin(var: Var, amount: float) -> None:
        saved.append((var, var.lowBound, var.upBound))
        var.lowBound = var.upBound = float(amount)

    def restore() -> None:
        for var, lo, up in reversed(saved):
            var.lowBound, var.upBound = lo, up

    try:
        orders = dict(decisions.orders)
        for key, (var, _) in model.fleet.orders.items():
            pin(var, orders.pop(key, 0))
        _none_left(orders, "servers ordered")
        financed = dict(decisions.financed)
        for key, (var, _) in model.fleet.financed.items():
            pin(var, financed.pop(key, 0))
        _none_left(financed, "servers financed")
        reservations = dict(decisions.reservations)
        for (venue, gpu, term, itype, start), (var, _) in model.reserved.reservations.items():
            taken = reservations.pop((venue, gpu, term.value, itype, start), 0)
            if term == Purchase.QUOTE and var.lowBound == 1:
                taken = 1          # a signed quote is held whatever the decisions say
            pin(var, taken)
        _none_left(reservations, "reservations")
        retirements = dict(decisions.retirements)
        for plan_ in model.fleet.cohorts:
            c = plan_.cohort
            if not plan_.chosen:
                # no choice in this program: retired at the start or at the end of life
                for month, gone, why in plan_.retired:
                    if why == Retired.SOLD and retirements.pop(
                            (c.site, c.server.name, c.key, month), 0) != gone:
                        raise DecisionsError(f"{c.site}: {c.server.name} {c.key} cannot be "
                                             f"kept in scenario {model.scenario.name}")
                continue
            order_var = None if c.order is None else model.fleet.orders[
                (c.site, c.server.name, c.order)][0]
            live_now = float(c.count) if c.order is None else float(
                dict(decisions.orders).get((c.site, c.server.name, c.order), 0))
            for span, live in plan_.segments:
                if isinstance(live, Var) and live is not order_var:
                    gone = retirements.pop((c.site, c.server.name, c.key, span.start), 0)
                    live_now -= gone
                    if live_now < 0:
                        raise DecisionsError(f"{c.site}: more {c.server.name} retired from "
                                             f"{c.key} than it holds")
                    pin(live, live_now)
        _none_left(retirements, "retirements")
    except BaseException:
        restore()
        raise
    return restore


def _none_left(rest: Mapping[Any, int], what: str) -> None:
    left = {k: n for k, n in rest.items() if n}
    if left:
        key = next(iter(left))
        raise DecisionsError(f"{what} not possible in this program: {key}")


def simple_decisions(model: Model, keep: bool) -> Decisions:
    """No orders and no reservations; the servers already owned kept to the end of their life
    (``keep``) or sold in the first month."""
    if keep:
        return Decisions()
    sold = []
    for plan_ in model.fleet.cohorts:
        c = plan_.cohort
        if c.existing and c.end_of_life > 0:
            sold.append(((c.site, c.server.name, c.key, 0), c.count))
    return Decisions(retirements=tuple(sorted(sold)))
