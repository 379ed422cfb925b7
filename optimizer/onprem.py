"""Owned hardware as capex plus opex (SPEC section 5): pure functions, no solver.

Per server of type ``z`` at site ``s``, from its arrival month (order month + lead time):

- capex = ``price_usd + network_usd``, paid in the arrival month;
- energy per month = ``pue * usd_per_kwh * power_kw * (730 * idle_power_fraction * servers
  + used_server_hours * (1 - idle_power_fraction))``, where a used server-hour is one hour of
  the whole server at full load (GPU-hours used / GPUs per server);
- colo per month = ``colo_usd_per_kw_month * power_kw``;
- maintenance per month = ``maintenance_rate / 12 * capex``;
- staff per month = ``staff_usd_per_server_month``;
- capacity = ``gpus * 730 * max_utilization`` GPU-hours per server-month;
- book value falls straight-line from capex to ``residual_fraction * capex`` over
  ``useful_life_months``. A server retires at end of life (its last month is arrival + life − 1)
  and its residual value is credited in the month after; one still alive at the horizon's end
  is credited at its book value in the month after the horizon (month index = horizon).
- existing servers carry no capex and no residual credit; they run for
  ``useful_life_months - age_months`` more months.
"""

from __future__ import annotations

from dataclasses import dataclass

from tco.pricing.models import HOURS_PER_MONTH

from .plan import Server, Site


def capex_usd(server: Server) -> float:
    """``price_usd + network_usd``."""
    return server.price_usd + (server.network_usd or 0.0)


def capacity_gpu_hours_per_month(server: Server) -> float:
    """``gpus * 730 * max_utilization``."""
    assert server.max_utilization is not None
    return server.gpus * HOURS_PER_MONTH * server.max_utilization


def idle_energy_usd_per_server_month(site: Site, server: Server) -> float:
    """``pue * usd_per_kwh * power_kw * 730 * idle_power_fraction``: paid by every live server."""
    assert site.pue is not None and site.electricity_usd_per_kwh is not None
    assert server.idle_power_fraction is not None
    return (site.pue * site.electricity_usd_per_kwh * server.power_kw * HOURS_PER_MONTH
            * server.idle_power_fraction)


def energy_usd_per_used_gpu_hour(site: Site, server: Server) -> float:
    """Energy above idle for one GPU-hour of use:
    ``pue * usd_per_kwh * power_kw * (1 - idle_power_fraction) / gpus``."""
    assert site.pue is not None and site.electricity_usd_per_kwh is not None
    assert server.idle_power_fraction is not None
    return (site.pue * site.electricity_usd_per_kwh * server.power_kw
            * (1 - server.idle_power_fraction) / server.gpus)


def colo_usd_per_server_month(site: Site, server: Server) -> float:
    """``colo_usd_per_kw_month * power_kw``."""
    assert site.colo_usd_per_kw_month is not None
    return site.colo_usd_per_kw_month * server.power_kw


def maintenance_usd_per_server_month(server: Server) -> float:
    """``maintenance_rate / 12 * capex``."""
    assert server.maintenance_rate is not None
    return server.maintenance_rate / 12 * capex_usd(server)


def staff_usd_per_server_month(site: Site) -> float:
    assert site.staff_usd_per_server_month is not None
    return site.staff_usd_per_server_month


def book_value_usd(server: Server, age_months: int) -> float:
    """Straight line from capex at age 0 to ``residual_fraction * capex`` at end of life."""
    assert server.useful_life_months is not None and server.residual_fraction is not None
    capex = capex_usd(server)
    used = min(max(age_months, 0), server.useful_life_months) / server.useful_life_months
    return capex - capex * (1 - server.residual_fraction) * used


@dataclass(frozen=True)
class Cohort:
    """Servers ordered in one month: when they arrive, live, and what they are worth at the end."""

    order_month: int
    arrival_month: int
    last_month: int           # last month in service, possibly past the horizon
    credit_month: int         # month the residual / book value is credited
    credit_usd: float         # per server

    def alive(self, month: int) -> bool:
        return self.arrival_month <= month <= self.last_month


def cohort(server: Server, order_month: int, horizon_months: int) -> Cohort:
    """Timeline of one server ordered in ``order_month`` for a horizon of ``horizon_months``."""
    assert server.lead_time_months is not None and server.useful_life_months is not None
    arrival = order_month + server.lead_time_months
    last = arrival + server.useful_life_months - 1
    credit_month = min(last + 1, horizon_months)
    return Cohort(order_month, arrival, last, credit_month,
                  book_value_usd(server, credit_month - arrival))


def existing_months_left(server: Server, age_months: int) -> int:
    """Months an existing server still runs: ``useful_life_months - age_months`` (at least 0)."""
    assert server.useful_life_months is not None
    return max(0, server.useful_life_months - age_months)


def order_months(server: Server, horizon_months: int, every: int = 1,
                 also: frozenset[int] = frozenset()) -> list[int]:
    """Order months whose servers arrive inside the horizon: every ``every`` months from the
    plan's start (the procurement cadence), plus the months in ``also`` (e.g. the month that
    makes a server arrive exactly when a workload starts)."""
    assert server.lead_time_months is not None
    last = horizon_months - server.lead_time_months
    return [m for m in range(0, max(0, last)) if m % every == 0 or m in also]
