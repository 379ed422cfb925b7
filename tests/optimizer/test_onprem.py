"""The on-prem cost model as pure functions, checked by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tco.optimizer import onprem
from tco.optimizer.plan import Server, Site

SITE = Site(name="dc", location="us-east", power_kw=None, pue=1.3, electricity_usd_per_kwh=0.08,
            colo_usd_per_kw_month=150, staff_usd_per_server_month=300,
            storage_usd_per_tb_month=8, egress_usd_per_gb=0, availability=0.995)
SERVER = Server(name="hgx", gpu="H100", gpus=8, price_usd=250_000, network_usd=30_000,
                power_kw=10.2, idle_power_fraction=0.3, useful_life_months=60,
                residual_fraction=0.1, resale_retention_per_year=None,
                resale_fee_fraction=0.0, decommission_usd=0.0, maintenance_rate=0.08,
                lead_time_months=3, max_utilization=0.9)


def test_capex_and_monthly_rates():
    assert onprem.capex_usd(SERVER) == 280_000
    assert onprem.capacity_gpu_hours_per_month(SERVER) == pytest.approx(8 * 730 * 0.9)
    assert onprem.idle_energy_usd_per_server_month(SITE, SERVER) == pytest.approx(
        1.3 * 0.08 * 10.2 * 730 * 0.3)
    assert onprem.energy_usd_per_used_gpu_hour(SITE, SERVER) == pytest.approx(
        1.3 * 0.08 * 10.2 * 0.7 / 8)
    assert onprem.colo_usd_per_server_month(SITE, SERVER) == pytest.approx(1_530)
    assert onprem.maintenance_usd_per_server_month(SERVER) == pytest.approx(0.08 / 12 * 280_000)
    assert onprem.staff_usd_per_server_month(SITE) == 300


def test_a_fully_used_month_of_energy_is_the_spec_formula():
    used_server_hours = 730 * 0.9
    spec = 1.3 * 0.08 * 10.2 * (730 * 0.3 * 1 + used_server_hours * 0.7)
    ours = (onprem.idle_energy_usd_per_server_month(SITE, SERVER)
            + used_server_hours * 8 * onprem.energy_usd_per_used_gpu_hour(SITE, SERVER))
    assert ours == pytest.approx(spec)


def test_book_value_straight_line():
    # a fraction of a new one's price: 1 - 0.9 x age / 60, and never below 0.1
    assert onprem.value_usd(SERVER, 0, 0) == 280_000
    assert onprem.value_usd(SERVER, 30, 0) == pytest.approx(280_000 - 252_000 / 2)
    assert onprem.value_usd(SERVER, 60, 0) == pytest.approx(28_000)
    assert onprem.value_usd(SERVER, 90, 0) == pytest.approx(28_000)


def test_market_value_by_retention():
    market = replace(SERVER, residual_fraction=None, resale_retention_per_year=0.69)
    assert onprem.value_usd(market, 0, 0) == 280_000
    assert onprem.value_usd(market, 12, 0) == pytest.approx(280_000 * 0.69)
    assert onprem.value_usd(market, 30, 0) == pytest.approx(280_000 * 0.69 ** 2.5)


def test_value_follows_the_new_server_price_of_the_month_of_sale():
    # server prices falling 20% a year: in month 24 a new one costs 280,000 x 0.8^2 = 179,200,
    # and a 12-month-old one sold then is worth that times 1 - 0.9 x 12/60 = 0.82
    assert onprem.new_server_usd(SERVER, 24, -0.2) == pytest.approx(179_200)
    assert onprem.value_usd(SERVER, 12, 24, -0.2) == pytest.approx(179_200 * 0.82)


def test_a_sale_brings_in_value_less_the_fee():
    fee = replace(SERVER, resale_fee_fraction=0.15)
    assert onprem.sale_proceeds_usd(fee, 30, 0) == pytest.approx(154_000 * 0.85)


def test_cohorts_and_their_retirement_months():
    bought = onprem.bought("dc", SERVER, order_month=2)
    assert (bought.arrival, bought.end_of_life, bought.key) == (5, 65, "ordered[2]")
    assert bought.age(17) == 12
    # after arrival, on the cadence, inside the horizon and the life
    assert onprem.retirement_months(bought, 12, every=3) == [6, 9]
    assert onprem.retirement_months(bought, 12, every=3, also=frozenset({7})) == [6, 7, 9]
    old = onprem.existing("dc", SERVER, age_months=55, count=4, index=0)
    assert (old.arrival, old.end_of_life, old.count, old.key) == (-55, 5, 4, "existing[0]")
    # servers already owned may always go in the first month
    assert onprem.retirement_months(old, 12, every=3) == [0, 3]
    assert onprem.retirement_months(old, 12, every=7) == [0]


def test_order_months():
    assert onprem.order_months(SERVER, 12) == list(range(9))
    assert onprem.order_months(SERVER, 12, every=3, also=frozenset({4})) == [0, 3, 4, 6]
