"""What finance reads from a solved plan (SPEC 20): the books month by month, the budget by
fiscal year, and the NPV after tax. Pure functions over a scenario's result and its plan.

**The books.** Cash flows are the plan's own (``ScenarioResult.cash_flows``). Capex is the
``onprem_capex`` category; opex every category but capex and ``residual_credit``
(decommissioning is opex). Owned servers are depreciated straight line, in the book sense:
``(price + network) / useful_life_months`` a month per server from its arrival to the month
before it leaves, down to zero (``residual_fraction`` and market values do not enter the
book). A server bought in the plan is booked at what was paid for it (``Procurement``); one
already owned at the type's price and network as the plan gives them, already depreciated for
its age. A sale books a loss of its book value less what it brings in net of the resale fee
(negative: a gain); a retirement at end of life is a sale at book value zero. No depreciation
is booked after the horizon; servers still owned then are credited at their value in the
month after it (``residual_credit``), which is cash in the report's sense but not a sale.

**Tax.** With ``[finance] tax_rate`` t, month m's after-tax cash flow is its cash flow less
t × (opex + depreciation + loss on sales of month m); a gain adds tax; the end-of-horizon
credit is untaxed; no carry-forward. The after-tax NPV discounts those as the NPV does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .ledger import CATEGORIES, Category
from .months import month_offset, parse_month
from .onprem import capex_usd
from .plan import Plan
from .result import BudgetYear, ScenarioResult

__all__ = ["BudgetYear", "MonthBooks", "after_tax_npv", "books", "budget", "fiscal_year"]

CAPEX = Category.ONPREM_CAPEX.value
BOUGHT_OUT = "+bought-out"        # the part of an ordered cohort bought out of its lease
RETURNED = "lease ended"          # extract.RETURNED: leased servers going back
CREDIT = Category.RESIDUAL_CREDIT.value
OPEX = tuple(c for c in CATEGORIES if c not in (CAPEX, CREDIT))


@dataclass
class MonthBooks:
    """One month of the books (``month`` an index of the plan)."""

    month: int
    capex_usd: float = 0.0
    opex_usd: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPEX, 0.0))
    depreciation_usd: float = 0.0
    loss_on_sales_usd: float = 0.0
    cash_usd: float = 0.0
    untaxed_usd: float = 0.0         # the end-of-horizon credit (in cash, not in the P&L)
    book_value_usd: float = 0.0      # of the servers owned at the month's end

    @property
    def pnl_cost_usd(self) -> float:
        return sum(self.opex_usd.values()) + self.depreciation_usd + self.loss_on_sales_usd


@dataclass
class _Cohort:
    basis: float            # book value of one server when new
    life: int
    arrival: int            # month index (negative for servers already owned)
    count: int
    sold: dict[int, int] = field(default_factory=dict)          # month -> servers leaving

    def live(self, month: int) -> int:
        """Servers owned during ``month``."""
        if month < self.arrival:
            return 0
        return self.count - sum(n for m, n in self.sold.items() if m <= month)

    def book(self, months_used: int) -> float:
        """One server's book value after ``months_used`` months of depreciation."""
        return self.basis * max(0.0, 1.0 - max(0, months_used) / self.life)


def _cohorts(plan: Plan, s: ScenarioResult) -> dict[tuple[str, str, str], _Cohort]:
    """Every cohort of owned servers in ``s``, keyed (site, server, cohort label)."""
    out: dict[tuple[str, str, str], _Cohort] = {}
    start = plan.plan.start
    for site in plan.onprem.sites:
        for i, e in enumerate(site.existing):
            server = plan.server(e.server)
            out[(site.name, e.server, f"existing[{i}]")] = _Cohort(
                capex_usd(server), server.useful_life_months, -e.age_months, e.count)
    for p in s.procurement:
        server = plan.server(p.server)
        arrival = month_offset(start, p.arrival_month)
        label = f"ordered[{p.order_month}]"
        # leased servers are not owned; a loan's are
        out[(p.site, p.server, label)] = _Cohort(
            p.capex_usd / p.count, server.useful_life_months, arrival, p.count - p.leased)
        f = server.financing
        if p.leased and f is not None and f.buyout_usd is not None and (
                arrival + f.months < plan.plan.months):
            # bought out at the lease's end: owned from then, booked at the buyout price and
            # depreciated over the life left
            out[(p.site, p.server, label + BOUGHT_OUT)] = _Cohort(
                f.buyout_usd, server.useful_life_months - f.months, arrival + f.months,
                p.leased)
    return out


def books(plan: Plan, s: ScenarioResult) -> list[MonthBooks]:
    """The books of ``s`` for every month its cash flows reach, from the plan's first."""
    start, horizon = plan.plan.start, plan.plan.months
    last = max([horizon - 1, *(month_offset(start, f.month) for f in s.cash_flows)])
    out = [MonthBooks(m) for m in range(last + 1)]
    for f in s.cash_flows:
        row = out[month_offset(start, f.month)]
        row.cash_usd += f.usd
        if f.category == CAPEX:
            row.capex_usd += f.usd
        elif f.category == CREDIT:
            if row.month >= horizon:
                row.untaxed_usd += f.usd
        else:
            row.opex_usd[f.category] += f.usd
    cohorts = _cohorts(plan, s)
    for r in s.retirements:
        if r.reason == RETURNED:
            continue            # never owned: no book, no sale
        parts = [c for c in (cohorts.get((r.site, r.server, r.cohort)),
                             cohorts.get((r.site, r.server, r.cohort + BOUGHT_OUT)))
                 if c is not None]
        if not parts:
            raise ValueError(f"a retirement from an unknown cohort: {r.site} {r.server} "
                             f"{r.cohort}")
        m = month_offset(start, r.month)
        # the servers bought outright leave first, then those bought out of their lease;
        # each at its book value when it leaves, depreciated through the month before
        left = r.count
        book = 0.0
        for cohort in parts:
            take = min(left, cohort.live(m)) if m >= cohort.arrival else 0
            if take:
                cohort.sold[m] = cohort.sold.get(m, 0) + take
                book += take * cohort.book(m - cohort.arrival)
                left -= take
        if left:
            raise ValueError(f"more {r.server} retired from {r.cohort} in {r.month} than "
                             f"owned")
        out[m].loss_on_sales_usd += book - r.resale_usd
    for cohort in cohorts.values():
        for m in range(max(0, cohort.arrival), horizon):
            live = cohort.live(m)
            if live and m - cohort.arrival < cohort.life:
                out[m].depreciation_usd += live * cohort.basis / cohort.life
        for m in range(last + 1):
            # owned at the month's end: a book frozen at the horizon's end after it
            at = min(m, horizon - 1)
            out[m].book_value_usd += cohort.live(at) * cohort.book(at + 1 - cohort.arrival)
    return out


def fiscal_year(plan: Plan, month: int) -> int:
    """The fiscal year of a month index: named by the calendar year it ends in."""
    year, mon = parse_month(plan.month_label(month))
    first = plan.plan.fiscal_year_start
    return year + 1 if first > 1 and mon >= first else year


def budget(plan: Plan, s: ScenarioResult,
           rows: list[MonthBooks] | None = None) -> list[BudgetYear]:
    """``s`` by fiscal year (SPEC 20), from its ``books`` (drawn here unless given); no rows
    for an infeasible scenario."""
    if not s.feasible:
        return []
    years: dict[int, list[MonthBooks]] = defaultdict(list)
    for row in books(plan, s) if rows is None else rows:
        years[fiscal_year(plan, row.month)].append(row)
    out = []
    for fy, in_year in sorted(years.items()):
        opex = {c: sum(r.opex_usd[c] for r in in_year) for c in OPEX}
        out.append(BudgetYear(
            s.name, fy, plan.month_label(in_year[0].month), plan.month_label(in_year[-1].month),
            sum(r.capex_usd for r in in_year), opex, sum(r.depreciation_usd for r in in_year),
            in_year[-1].book_value_usd, sum(r.loss_on_sales_usd for r in in_year),
            sum(r.pnl_cost_usd for r in in_year), sum(r.cash_usd for r in in_year)))
    return out


def after_tax_npv(plan: Plan, s: ScenarioResult,
                  rows: list[MonthBooks] | None = None) -> float | None:
    """The NPV of ``s`` after tax at ``[finance] tax_rate``, from its ``books`` (drawn here
    unless given); None without a rate, or for an infeasible scenario."""
    rate = plan.finance.tax_rate
    if rate is None or not s.feasible or s.npv_usd is None:
        return None
    r = plan.plan.discount_rate
    deductible = sum(row.pnl_cost_usd * (1 + r) ** (-row.month / 12)
                     for row in (books(plan, s) if rows is None else rows))
    return sum(f.npv_usd for f in s.cash_flows) - rate * deductible
