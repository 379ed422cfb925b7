"""The typed records a program is made of: its capacity variables (:class:`Cap`), and one
record per family of variables, returned by the ``define_*`` function that made it (``cloud``,
``fleet``, ``data``, ``service``, ``cuts``) and kept on the ``model.Model``. Extraction and
the solver's steps read a solution through these, never through variable names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tco.pricing.models import ComputePrice, Purchase

from . import onprem
from .onprem import Retired
from .plan import Server
from .program import Expr, Row, Var

__all__ = ["Cap", "CapIndex", "CohortPlan", "Cuts", "DemandUses", "EgressTerms", "Fleet",
           "Limit", "ReservationKey", "Reserved", "Service", "SiteMonth", "Tiered",
           "UnitGroup", "VenueUse"]

ReservationKey = tuple[str, str, Purchase, str, int]   # venue, gpu, term, instance type, start
# (venue, month) -> [(GB expression, most GB it can be, what it is)]: a provider-region's
# internet egress, priced on the tiers of the provider's total that month
EgressTerms = dict[tuple[str, int], list[tuple[object, float, str]]]


@dataclass(slots=True)
class Cap:
    """One capacity variable of a workload: GPU-hours of ``gpu`` at ``venue`` in ``month``."""

    var: Var
    workload: str
    venue: str
    gpu: str
    purchase: Purchase
    month: int
    factor: float                 # reference GPU-hours delivered per GPU-hour
    offer: ComputePrice | None = None
    server: Server | None = None
    # reserved use: the terms whose reservations it draws on (``purchase`` is the first)
    terms: tuple[Purchase, ...] = ()


@dataclass
class UnitGroup:
    """Capacity variables that share whole units in one month: reserved instances of one pool,
    or the servers of one model at a site. ``Σ caps ≤ Σ hours × unit``."""

    name: str
    caps: list[Cap]
    units: list[tuple[object, float]]   # (whole-number variable or fleet, GPU-hours per unit)


@dataclass(frozen=True)
class Limit:
    """A row that caps the plan from outside (capex budget, site power, a quota): the report
    names it when an infeasible scenario runs into it. ``unit`` is how much one more server
    or GPU would need."""

    label: str
    unit: float
    row: Row


class CapIndex:
    """Capacity variables by workload, then (venue, month)."""

    def __init__(self, caps: Iterable[Cap]) -> None:
        self._by: dict[str, dict[tuple[str, int], list[Cap]]] = defaultdict(
            lambda: defaultdict(list))
        for c in caps:
            self._by[c.workload][(c.venue, c.month)].append(c)

    def of(self, workload: str) -> dict[tuple[str, int], list[Cap]]:
        return self._by.get(workload, {})


@dataclass
class Reserved:
    """What ``define_reservations`` made: whole reservations by (venue, gpu, term, instance
    type, start month), each with its offer, and the workloads' use of the pools."""

    reservations: dict[ReservationKey, tuple[Var, ComputePrice]] = field(default_factory=dict)
    caps: list[Cap] = field(default_factory=list)

    def active(self, venue: str, gpu: str, month: int) -> list[tuple[Var, ComputePrice]]:
        """The reservations of one pool that run in ``month``."""
        return [(var, offer) for (v, g, _, _, start), (var, offer) in self.reservations.items()
                if v == venue and g == gpu and start <= month < start + offer.term_months]


@dataclass
class CohortPlan:
    """One cohort of owned servers in the program: how many are live in each stretch of months
    between the months they may be retired, and how many retire when.

    ``segments`` are (months inside the horizon, live servers: a whole-number variable or a
    number); each segment after the first starts in a month where servers may be retired, and
    holds at most as many as the one before it. ``retired`` lists (month, servers retired
    then, why) for every retirement inside the horizon, end of life included; ``held`` is the
    number still owned at the horizon's end (0 when the cohort's life ends inside it).
    """

    cohort: onprem.Cohort
    segments: list[tuple[range, Var | float]]
    retired: list[tuple[int, Var | Expr | float, Retired]]
    held: Var | float

    @property
    def chosen(self) -> bool:
        """Whether the program chooses how many stay (a scenario with sites), rather than
        retiring them all when the plan starts."""
        return any(isinstance(live, Var) for _, live in self.segments)


@dataclass
class Fleet:
    """What ``define_onprem_fleet`` made: the orders by (site, server, order month), every
    cohort, the live servers of each type at each site and month (an expression), and how
    many of them at most are servers already owned."""

    orders: dict[tuple[str, str, int], tuple[Var, onprem.Cohort]] = field(default_factory=dict)
    # servers of an order leased or bought on a loan (SPEC 20): (site, server, order month) ->
    # (count financed, "lease" or "loan")
    financed: dict[tuple[str, str, int], tuple[Var, str]] = field(default_factory=dict)
    cohorts: list[CohortPlan] = field(default_factory=list)
    live: dict[tuple[str, str, int], Expr] = field(default_factory=dict)
    existing: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def whole(self) -> list[Var]:
        """The whole-number decisions: servers ordered, and how many of each cohort stay live
        in each stretch between its possible retirements."""
        kept = [live for c in self.cohorts for _, live in c.segments if isinstance(live, Var)]
        return list(dict.fromkeys([*(var for var, _ in self.orders.values()), *kept,
                                   *(var for var, _ in self.financed.values())]))


@dataclass
class VenueUse:
    """What ``define_single_venue_and_storage`` made: venue-use indicators by (workload,
    venue, month) (a single-venue workload's pick stands for every month), the picks by
    (workload, venue), dataset copies by (workload, venue) where they are not a pick, and the
    egress of those copies from cloud regions."""

    uses: dict[tuple[str, str, int], Var] = field(default_factory=dict)
    picks: dict[tuple[str, str], Var] = field(default_factory=dict)
    moved: dict[tuple[str, str], Var] = field(default_factory=dict)
    egress: EgressTerms = field(default_factory=lambda: defaultdict(list))
    # a gang's runs (SPEC 17): (workload, first month of the run) -> (venue, GPU class) -> the
    # indicator that the run executes there, on that class (exactly one per run)
    gangs: dict[tuple[str, int], dict[tuple[str, str], Var]] = field(default_factory=dict)

    def is_pick(self, var: Var) -> bool:
        return any(var is p for p in self.picks.values())

    def choices(self) -> dict[str, list[Var]]:
        """Each placement decision as the indicators of its options, exactly one of which is
        1: a single-venue workload's venue, a gang run's venue and class."""
        out: dict[str, list[Var]] = defaultdict(list)
        for (workload, _), var in self.picks.items():
            out[workload].append(var)
        for (workload, first), options in self.gangs.items():
            out[f"{workload}@{first}"].extend(options.values())
        return dict(out)

    def placements(self) -> list[Var]:
        """Every placement indicator (``choices``), in a fixed order."""
        return [var for options in self.choices().values() for var in options]


# a tier segment: its variable, start, end (inf for the last), and the rows its width is
# in with the indicator it multiplies there: "segment k full" (its own) and "segment k only
# after k − 1 is full" (the previous one's)
Segment = tuple[Var, float, float, tuple[Row, Var] | None, tuple[Row, Var] | None]


@dataclass
class Tiered:
    """Every tiered price in the program: each one's segment variables, tier starts and
    "segment k is full" indicators."""

    groups: list[tuple[list[Var], list[float], list[Var]]] = field(default_factory=list)
    # the segments of the last one defined with every tier (``data.define_tiered``): each
    # segment, its start and end, and the rows its width is in with the indicator it
    # multiplies there (its own "full" row, and the previous segment's "order" row)
    segments: list[Segment] = field(default_factory=list)

    @property
    def indicators(self) -> list[Var]:
        return [full for _, _, fulls in self.groups for full in fulls]


@dataclass
class Service:
    """What ``define_latency_and_egress`` made: served GPU-hours by (workload, venue, month)
    and the internet egress they send from cloud regions."""

    serve: dict[tuple[str, str, int], Var] = field(default_factory=dict)
    egress: EgressTerms = field(default_factory=dict)


@dataclass(frozen=True)
class SiteMonth:
    """One workload that stores data, at one site, in one month: what ``cuts.held_cuts``
    reads to bound its venue use once the site's fleet is held."""

    name: str
    need: float                                 # reference GPU-hours to deliver
    # the live servers of each type the workload can use at the site, with the reference
    # GPU-hours one of them delivers in a month
    fleets: tuple[tuple[object, float], ...]
    here: tuple[tuple[object, float], ...]      # its deliveries at the site, as row terms
    use: Var | None                             # its use indicator at the site
    # every other venue it may use that month: the use indicator, the deliveries there
    elsewhere: tuple[tuple[Var, tuple[tuple[object, float], ...]], ...]
    # no row asks it for more than its need (no availability target, no gang runs): some
    # optimal plan delivers exactly the need
    exact: bool


@dataclass
class Cuts:
    """The groups of capacity variables that share whole units (for ``add_unit_covers``), the
    site-shortfall candidates not yet in the program, and how many covers were added."""

    unit_groups: list[UnitGroup] = field(default_factory=list)
    # (expression, right-hand side (≥), name)
    shortfall: list[tuple[Expr, float, str]] = field(default_factory=list)
    # read when the fleet is held (``cuts.held_cuts``), never rows of their own
    site_months: list[SiteMonth] = field(default_factory=list)
    covers: int = 0


@dataclass
class DemandUses:
    """Where a movable program (``build.prepare(movable=True)``) reads each workload's
    monthly demand, so that ``redemand.move_demand`` can move it to other demand in place.
    Each entry names the workload and month whose demand D (reference GPU-hours) it reads."""

    # ``var.upBound = a × D``
    bounds: list[tuple[Var, str, int, float]] = field(default_factory=list)
    # ``row.constant = a × D`` (the need on a row's right side)
    constants: list[tuple[Row, str, int, float]] = field(default_factory=list)
    # ``row.expr[var] = a × D`` (a big-M: an indicator times the need)
    coefs: list[tuple[Row, Var, str, int, float]] = field(default_factory=list)
    # ``cuts.bound_small_use``: the row, its capacity variable, that variable's workload,
    # month and factor, the units (a variable or an expression of them) with their GPU-hours
    # (``cap − Σ min(hours, D / factor) × unit ≤ 0``), the most GPU-hours of one unit, and the
    # server type of an owned unit (whose GPU-hours are its capacity: ``max_utilization``)
    small_use: list[tuple[Row, Var, str, int, float, tuple[tuple[object, float], ...], float,
                          str | None]] = field(default_factory=list)
    # ``cuts._servers_for``: ``row.expr[placed] = −ceil(D / (speed × server capacity))``, as
    # (row, placed, workload, month, speed, server type)
    whole: list[tuple[Row, Var, str, int, float, str]] = field(default_factory=list)
    # an owned capacity row (``use − capacity × live ≤ 0``), its live servers (a variable or
    # an expression), its unit group and its server type
    owned: list[tuple[Row, object, UnitGroup, str]] = field(default_factory=list)
    # a pool's capacity variables (workload, month, factor) and its whole units (variable,
    # first month, months it is active, GPU-hours it holds per month or day): each unit's
    # upper bound is what the pool's users could fill in the busiest month it is active
    pools: list[tuple[tuple[tuple[str, int, float], ...],
                      tuple[tuple[Var, int, int, float], ...]]] = field(default_factory=list)
    # a workload's served GPU-hours ``serve[w,v,m]``: every coefficient it has outside the rows
    # of ``serving`` (its egress in GB) is egress GB / D times a price or 1
    serve: list[tuple[Var, str, int]] = field(default_factory=list)
    serving: set[int] = field(default_factory=set)
    # those coefficients, read on the first move (``redemand``): in a row, or in a ledger
    # entry (its index, and the variable within its expression), each as k × GB / D
    egress_rows: list[tuple[Row, Var, str, int, float]] = field(default_factory=list)
    egress_flows: list[tuple[int, Var, str, int, float]] = field(default_factory=list)
    egress_read: bool = False
    # each provider-month's egress tiers (a movable build keeps them all, ``Tiered``): its
    # segments, the GB of data that may move out that month, the month, and the services
    # whose egress that month, with those GB, is the most the tiers carry
    egress_tiers: list[tuple[tuple[Segment, ...], float, int, tuple[str, ...]]] = field(
        default_factory=list)
    # the site-shortfall candidates: expression, name, workload, month, the server types
    # with the workload's speed on each (``most``: the most reference GPU-hours one of them
    # delivers; right side ``ceil(D / most)``), and the deliveries elsewhere with their
    # factors (``expr[var] = factor / most``)
    shortfall: list[tuple[Expr, str, str, int, tuple[tuple[str, float], ...],
                          tuple[tuple[Var, float], ...]]] = field(default_factory=list)
    # rows the build made; any after them are cuts a solve added, which assume the demand
    rows_built: int = 0
