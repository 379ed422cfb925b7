"""Plain result objects and the JSON document of SPEC sections 7, 10 and 13
(``Result.to_dict``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .gaps import joint_gap, told_apart
from .plan import Assumption
from .sizing import Sizing
from .solver import SolveInfo, SolveStatus

# a scenario whose plan may be further than this from the optimum is reported as unproven
UNPROVEN_GAP = 0.05


@dataclass(frozen=True)
class Allocation:
    scenario: str
    workload: str
    month: str
    venue: str
    provider: str | None
    region: str | None
    instance_type: str
    gpu: str
    purchase: str
    gpu_hours: float
    cost_usd: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Traffic:
    """The demand of a workload with internet egress that one venue served in one month, in
    the workload's reference GPU-hours, and the internet egress it sent from there: the
    month's egress times the share of the month's demand served there."""

    scenario: str
    workload: str
    month: str
    venue: str
    served_gpu_hours: float
    egress_gb: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "served_gpu_hours": round(self.served_gpu_hours, 4),
                "egress_gb": round(self.egress_gb, 4)}


@dataclass(frozen=True)
class Procurement:
    scenario: str
    site: str
    server: str
    order_month: str
    arrival_month: str
    count: int
    capex_usd: float              # the price of the servers ordered, financed or not
    leased: int = 0               # of them, leased (the type's financing)
    loan: int = 0                 # of them, bought on a loan

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Commitment:
    scenario: str
    provider: str
    region: str
    instance_type: str
    purchase: str
    start_month: str
    end_month: str
    count: int
    usd_per_month: float
    upfront_usd: float
    months_past_horizon: int
    source: str = "catalog"           # where its price came from; "quote" for a quote
    name: str | None = None           # a quote's name

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Retirement:
    """Owned servers retired at the start of ``month``: sold, or at the end of their life.
    ``cohort`` is ``existing[i]`` (the site's i-th ``existing`` entry) or ``ordered[YYYY-MM]``."""

    scenario: str
    site: str
    server: str
    cohort: str
    month: str
    age_months: int
    count: int
    reason: str
    resale_usd: float
    decommission_usd: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CashFlow:
    """One category's cash flow in one month, as paid and discounted to the plan's start
    (kept to full precision; the JSON document rounds them to cents)."""

    scenario: str
    month: str
    category: str
    usd: float
    npv_usd: float

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "month": self.month, "category": self.category,
                "usd": round(self.usd, 2), "npv_usd": round(self.npv_usd, 2)}


@dataclass(frozen=True)
class PricePath:
    """What one thing the plan buys costs in the first and the last month it buys it, under
    the plan's price trends: a cloud offer (per instance-hour), a server type (per server,
    ordered then) or a site's electricity (per kWh)."""

    scenario: str
    item: str
    unit: str
    first_month: str
    first_usd: float
    last_month: str
    last_usd: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "first_usd": round(self.first_usd, 4),
                "last_usd": round(self.last_usd, 4)}


@dataclass(frozen=True)
class VenueCost:
    """What a venue's GPU-hours cost in a plan. ``running_usd`` is what the allocations
    carry: cloud hours and reservation fees, or an owned fleet's energy, colocation,
    maintenance and staff. ``all_in_usd`` adds, at a site, the servers themselves: the price
    of those ordered, the value at the plan's start of those already owned (what selling them
    then would have brought in, less decommissioning: their cost to keep), less what their
    sales and the value still held at the end bring back, plus decommissioning. A cloud
    venue's all-in cost is its running cost."""

    scenario: str
    venue: str
    gpu_hours: float
    running_usd: float
    all_in_usd: float

    @property
    def running_usd_per_gpu_hour(self) -> float | None:
        return self.running_usd / self.gpu_hours if self.gpu_hours > 0 else None

    @property
    def all_in_usd_per_gpu_hour(self) -> float | None:
        return self.all_in_usd / self.gpu_hours if self.gpu_hours > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "venue": self.venue,
                "gpu_hours": round(self.gpu_hours, 2), "running_usd": round(self.running_usd, 2),
                "all_in_usd": round(self.all_in_usd, 2),
                "running_usd_per_gpu_hour": _r(self.running_usd_per_gpu_hour, 4),
                "all_in_usd_per_gpu_hour": _r(self.all_in_usd_per_gpu_hour, 4)}


@dataclass(frozen=True)
class Decisions:
    """The first-stage decisions of a plan, which must be signed now (SPEC 12): servers to
    order, servers to retire (sold before their end of life) and reservations, each keyed the
    same way in every scenario of one plan.

    - ``orders``: (site, server, order month index) → count;
    - ``retirements``: (site, server, cohort, month index) → count retired before end of life;
    - ``reservations``: (venue, gpu, term, instance type, start month index) → count;
    - ``financed``: (site, server, order month index) → servers of the order leased or bought
      on a loan (the type's ``financing``).
    """

    orders: tuple[tuple[tuple[str, str, int], int], ...] = ()
    retirements: tuple[tuple[tuple[str, str, str, int], int], ...] = ()
    reservations: tuple[tuple[tuple[str, str, str, str, int], int], ...] = ()
    # (site, server, order month index) -> servers of the order leased or on a loan
    financed: tuple[tuple[tuple[str, str, int], int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"orders": [[*k, n] for k, n in self.orders],
                "retirements": [[*k, n] for k, n in self.retirements],
                "reservations": [[*k, n] for k, n in self.reservations],
                "financed": [[*k, n] for k, n in self.financed]}


@dataclass(frozen=True)
class BudgetYear:
    """A fiscal year of one scenario's plan (SPEC 20); ``start`` and ``end`` are the first
    and last months of the year the plan's cash flows reach."""

    scenario: str
    fiscal_year: int
    start: str
    end: str
    capex_usd: float
    opex_usd: dict[str, float]
    depreciation_usd: float
    book_value_usd: float
    loss_on_sales_usd: float
    pnl_cost_usd: float
    cash_out_usd: float

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "fiscal_year": self.fiscal_year,
                "start": self.start, "end": self.end, "capex_usd": round(self.capex_usd, 2),
                "opex_usd": {k: round(v, 2) for k, v in self.opex_usd.items()},
                "depreciation_usd": round(self.depreciation_usd, 2),
                "book_value_usd": round(self.book_value_usd, 2),
                "loss_on_sales_usd": round(self.loss_on_sales_usd, 2),
                "pnl_cost_usd": round(self.pnl_cost_usd, 2),
                "cash_out_usd": round(self.cash_out_usd, 2)}


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    feasible: bool
    reason: str | None
    npv_usd: float | None = None
    total_usd: float | None = None
    capex_usd: float | None = None
    opex_usd: float | None = None
    breakdown: dict[str, float] = field(default_factory=dict)
    breakdown_npv: dict[str, float] = field(default_factory=dict)
    gpu_hours: float = 0.0
    allocations: tuple[Allocation, ...] = ()
    procurement: tuple[Procurement, ...] = ()
    commitments: tuple[Commitment, ...] = ()
    retirements: tuple[Retirement, ...] = ()
    cash_flows: tuple[CashFlow, ...] = ()
    price_paths: tuple[PricePath, ...] = ()
    venues: tuple[VenueCost, ...] = ()
    solver: SolveInfo | None = None
    savings_vs_best_single_usd: float | None = None
    notes: tuple[str, ...] = ()
    decisions: Decisions | None = None
    # the plan itself: every variable's value that is not 0, by name (not in the report; a
    # wider scenario's program prices this plan as it is, SPEC 15)
    values: tuple[tuple[str, float], ...] = field(default=(), repr=False, compare=False)
    # the demand each venue served and the egress it sent, for the workloads with internet
    # egress
    traffic: tuple[Traffic, ...] = ()
    # the plan by fiscal year, and its NPV after tax (SPEC 20; ``finance``)
    budget: tuple[BudgetYear, ...] = ()
    after_tax_npv_usd: float | None = None

    @property
    def unproven(self) -> bool:
        """A plan that may be more than 5% dearer than the best one (SPEC 15): its gap is
        over that, or unknown."""
        if not self.feasible or self.solver is None:
            return False
        gap = self.solver.mip_gap
        return gap is None or gap > UNPROVEN_GAP

    @property
    def usd_per_gpu_hour(self) -> float | None:
        """What a GPU-hour of the plan costs all in: every venue's all-in cost (at a site the
        servers too, those already owned at what selling them at the start would have
        brought) over the GPU-hours they serve. Not the total over the GPU-hours: that counts
        servers owned as free and takes their sale off the cost of the work."""
        hours = sum(v.gpu_hours for v in self.venues)
        if not self.feasible or hours <= 0:
            return None
        return sum(v.all_in_usd for v in self.venues) / hours

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "feasible": self.feasible, "unproven": self.unproven,
            "reason": self.reason,
            "npv_usd": _r(self.npv_usd), "after_tax_npv_usd": _r(self.after_tax_npv_usd),
            "total_usd": _r(self.total_usd),
            "capex_usd": _r(self.capex_usd), "opex_usd": _r(self.opex_usd),
            "usd_per_gpu_hour": _r(self.usd_per_gpu_hour, 4),
            "savings_vs_best_single_usd": _r(self.savings_vs_best_single_usd),
            "breakdown": {k: _r(v) for k, v in self.breakdown.items()},
            "breakdown_npv": {k: _r(v) for k, v in self.breakdown_npv.items()},
            "gpu_hours": _r(self.gpu_hours),
            "notes": list(self.notes),
            "solver": self.solver.to_dict() if self.solver else None,
        }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Margin:
    """How much cheaper the recommended plan is than the next feasible scenario's (SPEC 16):
    ``usd`` = its NPV less the recommended one's, ``share`` = that over |its NPV|; ``tie``
    when the two NPVs differ by no more than the sum of their gaps (``within_usd``, None when
    a gap is unknown, which is a tie too). Scenarios whose plan is the recommended plan itself
    (``same``: the same first-stage decisions and NPV) are not the next one."""

    over: str
    usd: float
    share: float | None
    tie: bool
    within_usd: float | None
    same: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"over": self.over, "usd": round(self.usd, 2),
                "share": None if self.share is None else round(self.share, 6),
                "tie": self.tie, "within_usd": _r(self.within_usd), "same": list(self.same)}


def _same_plan(a: ScenarioResult, b: ScenarioResult) -> bool:
    if a.npv_usd is None or b.npv_usd is None or a.decisions != b.decisions:
        return False
    return abs(a.npv_usd - b.npv_usd) <= 1e-6 * max(1.0, abs(a.npv_usd))


@dataclass(frozen=True)
class TokenCost:
    """What an inference workload sized from throughput (SPEC 14) pays per million output
    tokens at one venue of one scenario, or over all its venues (``venue`` = ``all``): tokens
    = allocated GPU-hours × the class's tokens/s per GPU × 3,600; cost = the workload's
    allocated cost there (SPEC 20)."""

    scenario: str
    workload: str
    venue: str
    gpu_hours: float
    tokens: float
    cost_usd: float

    @property
    def usd_per_million_tokens(self) -> float | None:
        return None if self.tokens <= 0 else self.cost_usd / (self.tokens / 1e6)

    def to_dict(self) -> dict[str, Any]:
        rate = self.usd_per_million_tokens
        return {"scenario": self.scenario, "workload": self.workload, "venue": self.venue,
                "gpu_hours": round(self.gpu_hours, 4), "tokens": round(self.tokens),
                "cost_usd": round(self.cost_usd, 2),
                "usd_per_million_tokens": None if rate is None else round(rate, 6)}


def token_costs(scenario: ScenarioResult, sizings: tuple[Sizing, ...]) -> list[TokenCost]:
    """Per inference workload sized from throughput: a row per venue it ran at, then one for
    ``all``. Hours on a class without a throughput figure are left out of both."""
    out: list[TokenCost] = []
    for z in sizings:
        if z.quantity != "gpus":
            continue
        rates = {c.gpu: c.rate for c in z.classes if c.rate and c.excluded is None}
        by_venue: dict[str, list[float]] = {}
        for a in scenario.allocations:
            if a.workload != z.workload or a.gpu not in rates:
                continue
            row = by_venue.setdefault(a.venue, [0.0, 0.0, 0.0])
            row[0] += a.gpu_hours
            row[1] += a.gpu_hours * rates[a.gpu] * 3600.0
            row[2] += a.cost_usd
        if not by_venue:
            continue
        rows = [TokenCost(scenario.name, z.workload, v, h, t, c)
                for v, (h, t, c) in sorted(by_venue.items())]
        out += rows
        out.append(TokenCost(scenario.name, z.workload, "all", sum(r.gpu_hours for r in rows),
                             sum(r.tokens for r in rows), sum(r.cost_usd for r in rows)))
    return out


@dataclass(frozen=True)
class Result:
    """Every scenario of one plan, solved, and the recommendation."""

    plan_name: str
    start: str
    months: int
    scenarios: tuple[ScenarioResult, ...]
    recommended_name: str | None
    prices: tuple[dict[str, Any], ...]
    assumptions: tuple[Assumption, ...]
    warnings: tuple[str, ...] = ()
    # the annual rates of change of prices the plan assumed: key -> rate
    trends: tuple[tuple[str, float], ...] = ()
    # how the workloads given as models were sized (SPEC 14)
    sizings: tuple[Sizing, ...] = ()
    # every input of the plan, defaults filled in: (key path, value) (``plan.plan_inputs``)
    inputs: tuple[tuple[str, object], ...] = ()
    # what chose the recommendation: "npv", or "after_tax" (``[finance] criterion``)
    criterion: str = "npv"
    fiscal_year_start: int = 1          # the month the plan's fiscal years start in

    def value(self, s: ScenarioResult) -> float | None:
        """What the recommendation is chosen by for scenario ``s``: its NPV, or its NPV after
        tax."""
        return s.after_tax_npv_usd if self.criterion == "after_tax" else s.npv_usd

    @property
    def recommended(self) -> ScenarioResult:
        """The cheapest feasible scenario by NPV (or the hybrid one, infeasible, when none is)."""
        name = self.recommended_name or "hybrid"
        return self.scenario(name)

    def scenario(self, name: str) -> ScenarioResult:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def feasible(self) -> bool:
        return self.recommended_name is not None

    @property
    def unproven(self) -> bool:
        """The recommended plan's gap is over 5% or unknown, or no plan was found but some
        scenario's solver stopped without one rather than proving it infeasible: the answer
        is unknown, not infeasible (``tco compare`` exits 4)."""
        if self.feasible:
            return self.recommended.unproven
        return bool(self.unsolved)

    @property
    def unsolved(self) -> tuple[str, ...]:
        """The scenarios whose solver stopped (at its budget or time limit) without a plan."""
        return tuple(s.name for s in self.scenarios if not s.feasible and s.solver is not None
                     and s.solver.status == SolveStatus.NOT_SOLVED)

    @property
    def margin(self) -> Margin | None:
        """The recommendation's margin over the next feasible scenario with another plan; None
        when there is no such scenario."""
        if not self.feasible:
            return None
        rec = self.recommended
        others = [s for s in self.scenarios if s.feasible and self.value(s) is not None
                  and s.name != rec.name]
        same = tuple(s.name for s in others if _same_plan(s, rec))
        rest = [s for s in others if s.name not in same]
        mine = self.value(rec)
        if not rest or mine is None:
            return None
        nxt = min(rest, key=lambda s: self.value(s) or 0.0)
        theirs = self.value(nxt)
        assert theirs is not None
        # the gaps are the NPVs' (the solves minimize the NPV; nothing bounds the NPV after
        # tax): with criterion after_tax they are a guide, not a proof
        gaps = [x.solver.gap_usd if x.solver else None for x in (rec, nxt)]
        within = joint_gap(gaps[0], gaps[1])
        usd = theirs - mine
        apart = told_apart(mine, gaps[0], theirs, gaps[1])
        share = usd / abs(theirs) if abs(theirs) >= 1.0 else None
        return Margin(nxt.name, usd, share, not apart, within, same)

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommended
        solver = rec.solver.to_dict() if rec.solver else None
        return {
            "plan": {"name": self.plan_name, "start": self.start, "months": self.months},
            "recommended": self.recommended_name,
            "scenarios": [{**s.summary(), "delta_npv_vs_recommended_usd": _r(
                s.npv_usd - rec.npv_usd if s.npv_usd is not None and rec.npv_usd is not None
                and self.feasible else None)} for s in self.scenarios],
            "allocations": [a.to_dict() for s in self.scenarios for a in s.allocations],
            "traffic": [t.to_dict() for s in self.scenarios for t in s.traffic],
            "procurement": [p.to_dict() for s in self.scenarios for p in s.procurement],
            "commitments": [c.to_dict() for s in self.scenarios for c in s.commitments],
            "retirements": [r.to_dict() for s in self.scenarios for r in s.retirements],
            "cash_flows": [c.to_dict() for s in self.scenarios for c in s.cash_flows],
            "price_paths": [p.to_dict() for s in self.scenarios for p in s.price_paths],
            "venues": [v.to_dict() for s in self.scenarios for v in s.venues],
            "trends": dict(self.trends),
            "prices": list(self.prices),
            "assumptions": [a.to_dict() for a in self.assumptions],
            "inputs": [{"key": k, "value": v} for k, v in self.inputs],
            "sizing": [z.to_dict() for z in self.sizings],
            "tokens": [t.to_dict() for s in self.scenarios
                       for t in token_costs(s, self.sizings)],
            "budget": [b.to_dict() for s in self.scenarios for b in s.budget],
            "warnings": list(self.warnings),
            "solver": solver,
            "margin": None if self.margin is None else self.margin.to_dict(),
        }
