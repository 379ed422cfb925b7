"""Owned hardware as capex plus opex, and as an asset (SPEC sections 5 and 10): pure
functions, no solver.

Per server of type ``z`` at site ``s``, from its arrival month (order month + lead time):

- capex = ``price_usd + network_usd``, paid in the arrival month;
- energy per month = ``pue * usd_per_kwh * power_kw * (730 * idle_power_fraction * servers
  + used_server_hours * (1 - idle_power_fraction))``, where a used server-hour is one hour of
  the whole server at full load (GPU-hours used / GPUs per server);
- colo per month = ``colo_usd_per_kw_month * power_kw``;
- maintenance per month = ``maintenance_rate / 12 * capex``;
- staff per month = ``staff_usd_per_server_month``;
- capacity = ``gpus * 730 * max_utilization`` GPU-hours per server-month.

**Value.** A server of age ``a`` months, valued in month ``m``, is worth a fraction of what a
new one of its type costs then (``new_server_usd``): straight-line from 1 to
``residual_fraction`` over ``useful_life_months`` when the type sets ``residual_fraction``,
else ``resale_retention_per_year ** (a / 12)`` (the market's rate for used servers).

**Cohorts.** Servers that arrived together (one order month, or one ``existing`` entry) age
together. A cohort serves from its arrival month until its end of life (arrival + life), and
may be retired at the start of a month on the order cadence before then
(``retirement_months``). A retirement inside the horizon credits what the sale brings in (the
value at that age less ``resale_fee_fraction`` of it) and pays ``decommission_usd`` per
server; one still owned at the horizon's end is credited at its value then (month index =
horizon), with no sale and no decommission cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tco.pricing.models import HOURS_PER_MONTH

from .plan import Server, Site


class Retired(StrEnum):
    """Why servers left the fleet inside the horizon."""

    SOLD = "sold"
    END_OF_LIFE = "end of life"


def capex_usd(server: Server) -> float:
    """``price_usd + network_usd``: what one new server costs at the plan's prices."""
    return server.price_usd + server.network_usd


def new_server_usd(server: Server, month: int, trend: float = 0.0) -> float:
    """What a new server of this type costs in month ``month``: ``capex × (1 + trend) **
    (month / 12)``, ``trend`` the annual rate of change of server prices (0: flat)."""
    return capex_usd(server) * (1.0 + trend) ** (month / 12)


def value_fraction(server: Server, age_months: int) -> float:
    """The fraction of a new server's price that one of ``age_months`` is worth.

    Straight line from 1 at age 0 to ``residual_fraction`` at end of life (and no lower after
    it) when the type sets ``residual_fraction``; otherwise ``resale_retention_per_year **
    (age / 12)``."""
    age = max(age_months, 0)
    if server.residual_fraction is not None:
        used = min(age, server.useful_life_months) / server.useful_life_months
        return 1.0 - (1.0 - server.residual_fraction) * used
    return float((server.resale_retention_per_year or 0.0) ** (age / 12))


def value_usd(server: Server, age_months: int, month: int, trend: float = 0.0) -> float:
    """What one server of ``age_months`` is worth when sold in ``month`` (times the type's
    ``value_factor``, 1 unless a decision analysis varies it)."""
    value = new_server_usd(server, month, trend) * value_fraction(server, age_months)
    return value if server.value_factor == 1.0 else value * server.value_factor


def annuity_usd(principal: float, rate: float, months: int) -> float:
    """The monthly payment that repays ``principal`` over ``months`` at ``rate`` a year:
    P·i / (1 − (1 + i)^−n), i = rate / 12 (P / n at a rate of 0)."""
    i = rate / 12
    if i == 0:
        return principal / months
    return principal * i / (1 - (1 + i) ** -months)


def sale_proceeds_usd(server: Server, age_months: int, month: int, trend: float = 0.0) -> float:
    """What selling one server of ``age_months`` in ``month`` brings in: its value less the
    seller's share lost to the sale (``resale_fee_fraction``: a broker's or auction's take)."""
    return value_usd(server, age_months, month, trend) * (1.0 - server.resale_fee_fraction)


def capacity_gpu_hours_per_month(server: Server) -> float:
    """``gpus * 730 * max_utilization``."""
    return server.gpus * HOURS_PER_MONTH * server.max_utilization


def idle_energy_usd_per_server_month(site: Site, server: Server, price: float = 1.0) -> float:
    """``pue * usd_per_kwh * power_kw * 730 * idle_power_fraction``: paid by every live server
    (electricity at ``price`` times the site's rate, for a month whose price has moved)."""
    return (site.pue * site.electricity_usd_per_kwh * price * server.power_kw * HOURS_PER_MONTH
            * server.idle_power_fraction)


def energy_usd_per_used_gpu_hour(site: Site, server: Server, price: float = 1.0) -> float:
    """Energy above idle for one GPU-hour of use:
    ``pue * usd_per_kwh * power_kw * (1 - idle_power_fraction) / gpus``."""
    return (site.pue * site.electricity_usd_per_kwh * price * server.power_kw
            * (1 - server.idle_power_fraction) / server.gpus)


def colo_usd_per_server_month(site: Site, server: Server) -> float:
    """``colo_usd_per_kw_month * power_kw``."""
    return site.colo_usd_per_kw_month * server.power_kw


def maintenance_usd_per_server_month(server: Server, capex: float | None = None) -> float:
    """``maintenance_rate / 12 * capex`` (the server's own purchase price; the type's price
    when not given)."""
    return server.maintenance_rate / 12 * (capex_usd(server) if capex is None else capex)


def staff_usd_per_server_month(site: Site) -> float:
    return site.staff_usd_per_server_month


def decommission_usd(server: Server) -> float:
    return server.decommission_usd


@dataclass(frozen=True)
class Cohort:
    """Servers of one type at one site that arrived together and age together.

    ``arrival`` is a month index of the plan; for servers already owned it is ``-age_months``
    (so an existing server's age in month m is ``m - arrival`` like any other's). ``order``
    is the order month of servers bought in the plan, None for existing ones, whose number is
    ``count``.
    """

    site: str
    server: Server
    arrival: int
    order: int | None = None
    count: int = 0
    existing_index: int | None = None    # position in the site's ``existing`` list

    @property
    def existing(self) -> bool:
        return self.order is None

    @property
    def end_of_life(self) -> int:
        """The first month the cohort no longer serves: arrival + useful life."""
        return self.arrival + self.server.useful_life_months

    @property
    def key(self) -> str:
        """Names the cohort the same way in every scenario of a plan."""
        if self.order is None:
            return f"existing[{self.existing_index}]"
        return f"ordered[{self.order}]"

    def age(self, month: int) -> int:
        return month - self.arrival


def bought(site: str, server: Server, order_month: int) -> Cohort:
    """The cohort of servers ordered in ``order_month``: they arrive after the lead time."""
    return Cohort(site, server, order_month + server.lead_time_months, order=order_month)


def existing(site: str, server: Server, age_months: int, count: int, index: int) -> Cohort:
    return Cohort(site, server, -age_months, None, count, index)


def retirement_months(cohort: Cohort, horizon_months: int, every: int = 1,
                      also: frozenset[int] = frozenset()) -> list[int]:
    """Months at whose start some of the cohort may be retired before its end of life.

    On the order cadence (every ``every`` months from the plan's start) or in a month of
    ``also`` (e.g. the month after a workload ends), after the cohort's arrival, before its
    end of life and inside the horizon. Servers already owned may always be retired in the
    plan's first month.
    """
    first = 0 if cohort.existing else cohort.arrival + 1
    last = min(cohort.end_of_life, horizon_months)
    return [m for m in range(max(first, 0), last)
            if m % every == 0 or m in also or (m == 0 and cohort.existing)]


def order_months(server: Server, horizon_months: int, every: int = 1,
                 also: frozenset[int] = frozenset()) -> list[int]:
    """Order months whose servers arrive inside the horizon: every ``every`` months from the
    plan's start (the procurement cadence), plus the months in ``also`` (e.g. the month that
    makes a server arrive exactly when a workload starts)."""
    last = horizon_months - server.lead_time_months
    return [m for m in range(max(0, last)) if m % every == 0 or m in also]
