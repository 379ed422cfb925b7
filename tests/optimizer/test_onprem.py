"""The on-prem cost model as pure functions, checked by hand."""

from __future__ import annotations

import pytest

from tco.optimizer import onprem
from tco.optimizer.plan import Server, Site

SITE = Site(name="dc", location="us-east", pue=1.3, electricity_usd_per_kwh=0.08,
            colo_usd_per_kw_month=150, staff_usd_per_server_month=300,
            storage_usd_per_tb_month=8, egress_usd_per_gb=0, availability=0.995)
SERVER = Server(name="hgx", gpu="H100", gpus=8, price_usd=250_000, network_usd=30_000,
                power_kw=10.2, idle_power_fraction=0.3, useful_life_months=60,
                residual_fraction=0.1, maintenance_rate=0.08, lead_time_months=3,
                max_utilization=0.9)


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
    assert onprem.book_value_usd(SERVER, 0) == 280_000
    assert onprem.book_value_usd(SERVER, 30) == pytest.approx(280_000 - 252_000 / 2)
    assert onprem.book_value_usd(SERVER, 60) == pytest.approx(28_000)
    assert onprem.book_value_usd(SERVER, 90) == pytest.approx(28_000)


def test_cohort_inside_and_past_the_horizon():
    c = onprem.cohort(SERVER, order_month=2, horizon_months=36)
    assert (c.arrival_month, c.last_month, c.credit_month) == (5, 64, 36)
    assert c.credit_usd == pytest.approx(onprem.book_value_usd(SERVER, 31))
    short_life = SERVER.model_copy(update={"useful_life_months": 12})
    c = onprem.cohort(short_life, order_month=0, horizon_months=36)
    assert (c.arrival_month, c.last_month, c.credit_month) == (3, 14, 15)
    assert c.credit_usd == pytest.approx(28_000)
    assert c.alive(3) and c.alive(14) and not c.alive(15)


def test_existing_and_order_months():
    assert onprem.existing_months_left(SERVER, 12) == 48
    assert onprem.existing_months_left(SERVER, 70) == 0
    assert onprem.order_months(SERVER, 12) == list(range(9))
    assert onprem.order_months(SERVER, 12, every=3, also=frozenset({4})) == [0, 3, 4, 6]
