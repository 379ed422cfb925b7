"""The mixed-integer program's container and its building blocks (SPEC sections 5, 6, 10).

A :class:`Model` holds one scenario's program (``prob``), its cash-flow ledger, what the
program was built from (the plan, the scenario's venues and each workload's offers) and one
small typed record per family of variables, each returned by the ``define_*`` function that
made it (``build.py`` calls them in order, passing each the records it needs):

- ``cloud.py``: on-demand and spot hours, reservations and their pools, quotas;
- ``fleet.py``: owned servers by cohort (orders, retirements), their use, site power, budget;
- ``data.py``: venue use, storage, dataset copies, tiered storage and egress prices;
- ``service.py``: demand, latency, served traffic, failure domains;
- ``cuts.py``: valid inequalities that tighten the relaxation without changing the optimum.

Units: every capacity variable is GPU-hours of one GPU class in one month; its ``factor``
turns it into the workload's reference GPU-hours (× relative speed, ÷ (1 + spot_overhead) on
spot). Names are structured (``demand[chat-api,2027-03]``) so a written-out LP file reads like
the plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tco.pricing.models import GB_PER_TB, HOURS_PER_MONTH, ComputePrice, Purchase, Tiers

from .ledger import CATEGORIES, Coefficient, Ledger
from .plan import Plan, Workload
from .program import Expr, Program, Row, Var
from .records import (
    Cap,
    CapIndex,
    Cuts,
    DemandUses,
    Fleet,
    Limit,
    Reserved,
    Service,
    Tiered,
    UnitGroup,
    VenueUse,
)
from .venues import Scenario, Venue, WorkloadOffers

__all__ = ["CATEGORIES", "Cap", "CapIndex", "Limit", "Model", "UnitGroup", "linear",
           "monthly_demand", "monthly_egress_gb", "workload_months"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]")
# the same replacement as a byte table, for ASCII names (every name but a few user-chosen ones):
# about eight times faster than the regular expression, and names are made for every variable
# and constraint
_ASCII_SAFE = bytes(c if re.fullmatch(r"[A-Za-z0-9_.:\-]", chr(c)) else ord("_")
                    for c in range(256))


def _n(text: object) -> str:
    """A name fragment safe for LP files: every character but ``A-Za-z0-9_.:-`` becomes ``_``.

    Character by character, so ``_n(a + b) == _n(a) + _n(b)``: loops make a name's fixed part
    safe once and append the month label (``YYYY-MM``, already safe) for each month."""
    s = str(text)
    if s.isascii():
        return s.encode("ascii").translate(_ASCII_SAFE).decode("ascii")
    return _UNSAFE.sub("_", s)


def linear(terms: Iterable[tuple[object, float]]) -> Expr:
    """Σ coefficient × term, where a term is a variable, an expression or a number.

    Accumulated in place in one expression: a sum of products through operators would make a
    temporary expression per term, which would dominate model-building time on large plans.
    Most rows are distinct variables with their coefficients; those are copied in one step.
    """
    pairs = terms if isinstance(terms, list) else list(terms)
    if all(type(term) is Var for term, _ in pairs):
        expr = Expr(pairs)
        if len(expr) == len(pairs):
            return expr
        # a variable appears twice: add its coefficients up below
    expr = Expr()
    get = expr.get
    constant = 0.0
    for term, coef in pairs:
        if type(term) is Var:
            expr[term] = get(term, 0.0) + coef
        elif type(term) is Expr:
            for var, a in term.items():
                expr[var] = get(var, 0.0) + a * coef
            constant += term.constant * coef
        else:
            constant += float(term) * coef  # type: ignore[arg-type]
    expr.constant = constant
    return expr





def terms_of(caps: Iterable[Cap], sign: float = 1.0) -> list[tuple[object, float]]:
    """The caps' delivered reference GPU-hours, as row terms (× ``sign``)."""
    return [(c.var, sign * c.factor) for c in caps]


def delivered(caps: Iterable[Cap]) -> Expr:
    return linear((c.var, c.factor) for c in caps)


@dataclass
class Model:
    """A built program (``prob``) plus everything needed to read a solution back.

    The inputs (``venues``, ``offers``, ``pools``, ``excluded``, the catalog's storage and
    egress tiers, ``demand``) are set by ``build.prepare``; the records by
    ``build.define_program``, each from the function that made its variables.
    """

    plan: Plan
    scenario: Scenario
    prob: Program
    venues: dict[str, Venue]
    demand: dict[str, list[float]]
    egress_gb: dict[str, list[float]]
    offers: dict[str, WorkloadOffers] = field(default_factory=dict)
    pools: dict[tuple[str, str, Purchase], list[ComputePrice]] = field(default_factory=dict)
    excluded: dict[str, dict[str, str]] = field(default_factory=dict)
    # the compute offers of the scenario's providers in GPU classes some workload accepts, by
    # venue: what the exclusion reasons are read from (``diagnosis.why_not``)
    compute_at: dict[str, list[ComputePrice]] = field(default_factory=dict)
    catalog_storage: dict[str, Tiers] = field(default_factory=dict)
    catalog_egress: dict[str, Tiers] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    # every capacity variable: on-demand and spot, reserved use, owned use (in that order)
    caps: list[Cap] = field(default_factory=list)
    # unmet demand allowed at a penalty (an elastic, diagnostic run only)
    short: dict[tuple[str, int], Var] = field(default_factory=dict)
    reserved: Reserved = field(default_factory=Reserved)
    fleet: Fleet = field(default_factory=Fleet)
    use: VenueUse = field(default_factory=VenueUse)
    service: Service = field(default_factory=Service)
    tiers: Tiered = field(default_factory=Tiered)
    cuts: Cuts = field(default_factory=Cuts)
    limits: list[Limit] = field(default_factory=list)
    # the relaxation's cost once the warm start has solved it: no plan costs less
    relaxed_bound: float | None = None
    # where the program reads the demand: a movable build's only (``redemand``)
    uses: DemandUses | None = None
    _labels: list[str] = field(default_factory=list, init=False, repr=False)
    _discounts: list[float] = field(default_factory=list, init=False, repr=False)
    _safe: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._labels = [self.plan.month_label(m) for m in range(self.plan.plan.months)]

    @property
    def months(self) -> int:
        return self.plan.plan.months

    def add_cost(self, category: str, month: int, expr: object, coef: float = 1.0,
                 tag: object = None) -> None:
        self.ledger.add(category, month, expr, coef, tag)

    def add_monthly_cost(self, category: str, months: range, var: object,
                         coef: Coefficient, tag: object = None) -> None:
        """``coef × var`` in every month of ``months`` (one entry instead of one per month);
        ``coef`` is a number, or a tuple with one per month."""
        self.ledger.add_monthly(category, months, var, coef, tag)

    def constrain(self, terms: Iterable[tuple[object, float]], sense: int, rhs: float,
                  name: str) -> Row:
        """Add ``Σ coefficient × term (sense) rhs``, built as one expression."""
        return self.prob.add(linear(terms), sense, rhs, name)

    def need(self, workload: str, month: int) -> Expr | float:
        """Demand to meet: the demand itself, less the shortfall in an elastic (diagnostic) run."""
        demand = self.demand[workload][month]
        short = self.short.get((workload, month))
        return demand if short is None else linear([(demand, 1.0), (short, -1.0)])

    def rediscount(self, plan: Plan) -> None:
        """Take ``plan`` as the model's plan, its discount factors made again from its rate."""
        if plan.plan.discount_rate != self.plan.plan.discount_rate:
            self._discounts = []
        self.plan = plan

    def discount(self, month: int) -> float:
        """``(1 + discount_rate) ** (-month / 12)``, made once per month."""
        factors = self._discounts
        if month >= len(factors):
            rate = self.plan.plan.discount_rate
            factors.extend((1 + rate) ** (-m / 12) for m in range(len(factors), month + 1))
        return factors[month]

    def discount_sum(self, months: range) -> float:
        """Σ discount(m) over ``months`` (a step-1 range)."""
        if not months:
            return 0.0
        self.discount(months[-1])
        return sum(self._discounts[months.start:months.stop])

    def label(self, month: int) -> str:
        """``YYYY-MM`` of a month offset; made once per month, as nearly every name needs one."""
        labels = self._labels
        if month < len(labels):
            return labels[month]
        return self.plan.month_label(month)

    def safe(self, text: str) -> str:
        """``_n(text)``, remembered: workload, venue and site names recur in thousands of names."""
        out = self._safe.get(text)
        if out is None:
            out = self._safe[text] = _n(text)
        return out


# --------------------------------------------------------------------------------------------
# demand


def workload_months(plan: Plan, w: Workload) -> range:
    return plan.window(w)


def monthly_demand(plan: Plan, w: Workload) -> list[float]:
    """Reference GPU-hours per month: training spread evenly over its window, or, recurring
    every k months, one run's ``gpu_hours`` in the window's first month and every k-th after;
    inference ``gpus * (1 + growth) ** (m - first) * 730`` in each window month."""
    months = workload_months(plan, w)
    out = [0.0] * plan.plan.months
    for m in months:
        if w.training and w.every_months:
            out[m] = (w.gpu_hours or 0.0) if (m - months.start) % w.every_months == 0 else 0.0
        elif w.training:
            out[m] = (w.gpu_hours or 0.0) / len(months)
        else:
            out[m] = (w.gpus or 0.0) * (1 + w.growth_per_month) ** (m - months.start) * HOURS_PER_MONTH
    return out


def monthly_egress_gb(plan: Plan, w: Workload) -> list[float]:
    """Internet egress per month: ``egress_tb_per_month * 1000`` growing like the GPUs, in the
    months the workload runs (a recurring training run sends nothing between its runs)."""
    months = workload_months(plan, w)
    demand = monthly_demand(plan, w)
    out = [0.0] * plan.plan.months
    for m in months:
        if demand[m] > 0:
            out[m] = w.egress_tb_per_month * GB_PER_TB * (1 + w.growth_per_month) ** (
                m - months.start)
    return out
