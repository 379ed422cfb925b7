"""A built program moved to other prices in place: the price levers of SPEC 12 as multipliers
on the cash-flow ledger's entries, instead of a new build.

Every amount of the objective is a ledger entry whose coefficient is a price times
quantities that do not depend on prices (hours, kWh, servers, months, discount factors), so a
price lever multiplies the coefficients of the entries its family pays, and nothing else:

- cloud compute (on demand, spot, reservations, savings plans, capacity blocks) by its
  provider's factor, spot hours by the spot factor too; a quote never moves (its price is
  signed);
- energy (idle and used) by its site's electricity factor;
- a server's price and everything proportional to it: capex, a loan's or lease's payments and
  buyout (``Server.financing`` scales with the price), maintenance, and sale proceeds and
  values (which also take the resale factor); the capex budget row's coefficients likewise.

Rows, bounds and columns do not move: which venues a build keeps does not depend on these
levers (``venues.prune_dominated`` compares one provider's prices with its own, and every
price of a provider moves together). A lean build (``build.prepare(lean=True)``), which
leaves out the capacity blocks spot beats at its own prices, is optimized once and never
moved. The tests build each example at lever values and compare the program with the moved
one, coefficient by coefficient, and solve a plan whose cheapest venue a lever changes both
ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tco.pricing.models import Purchase

from .build import define_objective
from .ledger import Category, Tag
from .model import Model
from .plan import Trends
from .program import Row, Var
from .records import Cap

__all__ = ["PriceFactors", "entry_factor", "reprice", "retrend"]


@dataclass(frozen=True)
class PriceFactors:
    """Multipliers on the plan's prices: compute by provider, spot, electricity by site,
    server prices, resale values (1 everywhere: the prices the program was built at)."""

    cloud: Mapping[str, float] = field(default_factory=dict)
    spot: float = 1.0
    electricity: Mapping[str, float] = field(default_factory=dict)
    servers: float = 1.0
    resale: float = 1.0

    def over(self, base: PriceFactors) -> PriceFactors:
        """These factors relative to ``base`` (the ones the program holds now)."""
        providers = {*self.cloud, *base.cloud}
        sites = {*self.electricity, *base.electricity}
        return PriceFactors(
            {p: self.cloud.get(p, 1.0) / base.cloud.get(p, 1.0) for p in providers},
            self.spot / base.spot,
            {s: self.electricity.get(s, 1.0) / base.electricity.get(s, 1.0) for s in sites},
            self.servers / base.servers, self.resale / base.resale)


def entry_factor(model: Model, category: str, tag: object, f: PriceFactors) -> float:
    """How much a ledger entry of ``category`` tagged ``tag`` moves under ``f``."""
    if category == Category.CLOUD_COMPUTE:
        assert isinstance(tag, Cap), "every cloud hour is tagged with its capacity variable"
        provider = model.venues[tag.venue].provider or ""
        spot = f.spot if tag.purchase == Purchase.SPOT else 1.0
        return f.cloud.get(provider, 1.0) * spot
    if category == Category.CLOUD_RESERVED:
        assert isinstance(tag, Tag) and tag.kind == "reservation"
        venue, _, term = tag.key[0], tag.key[1], tag.key[2]
        if term == Purchase.QUOTE:
            return 1.0
        return f.cloud.get(model.venues[str(venue)].provider or "", 1.0)
    if category == Category.ENERGY:
        site = tag.venue if isinstance(tag, Cap) else str(tag.key[0])  # type: ignore[attr-defined]
        return f.electricity.get(site, 1.0)
    if category in (Category.ONPREM_CAPEX, Category.ONPREM_LEASE, Category.MAINTENANCE):
        return f.servers
    if category == Category.RESIDUAL_CREDIT:
        return f.servers * f.resale
    return 1.0


def reprice(model: Model, f: PriceFactors) -> None:
    """Move ``model``'s program from the prices it holds to ``f`` times them, in place: its
    objective, the capex budget row, and the solver's copy of the costs."""
    ledger = model.ledger
    ledger.flows = [(c, m, t, coef * entry_factor(model, c, tag, f), tag)
                    for c, m, t, coef, tag in ledger.flows]
    ledger.recurring = [(c, months, t, _scaled(coef, entry_factor(model, c, tag, f)), tag)
                        for c, months, t, coef, tag in ledger.recurring]
    define_objective(model)            # the ledger discounted, as a build makes it
    moved_rows = False
    for row in model.prob.rows:
        if row.name == "capex_budget" and f.servers != 1.0:
            for var in row.expr:
                row.expr[var] *= f.servers
            moved_rows = True
    session = model.prob.highs
    if moved_rows:
        model.prob.highs = None         # its matrix is another: made again on the next run
    elif session is not None and hasattr(session, "set_costs"):
        session.set_costs(model.prob)


def _scaled(coef: float | tuple[float, ...], x: float) -> float | tuple[float, ...]:
    return tuple(c * x for c in coef) if isinstance(coef, tuple) else coef * x


def retrend(model: Model, trends: Trends) -> list[tuple[Row, Var]]:
    """Move ``model``'s ledger from the trends of its plan (SPEC 11) to ``trends``, in place,
    and the capex budget row with it; returns the row coefficients moved. The objective is the
    caller's to make again (``define_objective``), and the plan's to replace.

    A trend multiplies a price by ``(1 + rate) ** (month / 12)`` for the month the price is
    set in, so each entry moves by the new factor over the old one in that month: an hour of
    cloud compute in its own month, a reservation or block in the month it starts (it locks
    its price), used and idle energy in their month, a server's price, its maintenance and a
    loan on it in the month it was ordered (a lease's payments are its own, only the price it
    replaces moves), and a sale or the value held at the end in the month of the sale."""
    old = model.plan.trends
    cohorts = {(c.cohort.site, c.cohort.server.name, c.cohort.key): c.cohort
               for c in model.fleet.cohorts}
    financed = {key: kind for key, (_, kind) in model.fleet.financed.items()}

    def cloud(gpu: str, m: int) -> float:
        return trends.cloud_factor(gpu, m) / old.cloud_factor(gpu, m)

    def servers(m: int) -> float:
        return trends.server_factor(m) / old.server_factor(m)

    def factor(category: str, month: int, tag: object) -> float:
        if category == Category.CLOUD_COMPUTE:
            assert isinstance(tag, Cap)
            return cloud(tag.gpu, tag.month)
        if category == Category.CLOUD_RESERVED:
            assert isinstance(tag, Tag) and tag.kind == "reservation"
            _, gpu, term, _, start = tag.key
            return 1.0 if term == Purchase.QUOTE else cloud(str(gpu), int(start))  # type: ignore[call-overload]
        if category == Category.ENERGY:
            return trends.electricity_factor(month) / old.electricity_factor(month)
        if category == Category.RESIDUAL_CREDIT:
            return servers(month)
        if not isinstance(tag, Tag):
            return 1.0
        if category == Category.ONPREM_CAPEX and tag.kind == "order":
            return servers(int(tag.key[2]))  # type: ignore[call-overload]
        if category == Category.ONPREM_CAPEX and tag.kind == "financing":
            site, server, order = tag.key
            ordered = int(order)  # type: ignore[call-overload]
            if financed.get((str(site), str(server), ordered)) == "lease":
                arrival = model.fleet.orders[(str(site), str(server), ordered)][1].arrival
                return servers(ordered) if month == arrival else 1.0
            return servers(ordered)
        if category == Category.MAINTENANCE and tag.kind == "fleet":
            cohort = cohorts.get(tag.key)  # type: ignore[arg-type]
            return 1.0 if cohort is None or cohort.order is None else servers(cohort.order)
        return 1.0

    ledger = model.ledger
    ledger.flows = [(c, m, t, coef * factor(c, m, tag), tag)
                    for c, m, t, coef, tag in ledger.flows]
    recurring = []
    for c, months, t, coef, tag in ledger.recurring:
        each = [factor(c, m, tag) for m in months]
        if all(x == each[0] for x in each):
            recurring.append((c, months, t, _scaled(coef, each[0]), tag))
        else:
            per = coef if isinstance(coef, tuple) else (coef,) * len(months)
            recurring.append((c, months, t, tuple(a * x for a, x in zip(per, each, strict=True)),
                              tag))
    ledger.recurring = recurring
    moved: list[tuple[Row, Var]] = []
    orders = {id(var): order for (_, _, order), (var, _) in model.fleet.orders.items()}
    orders.update({id(var): order for (_, _, order), (var, _) in model.fleet.financed.items()})
    for row in model.prob.rows:
        if row.name == "capex_budget":
            for var in row.expr:
                if id(var) in orders:
                    row.expr[var] *= servers(orders[id(var)])
                    moved.append((row, var))
    return moved
