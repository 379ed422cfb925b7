"""Owned servers as assets (SPEC 10): kept, sold, retired at end of life, valued by book value
or by the resale market, in every scenario. Small plans with every cost worked out by hand
and asserted to the cent, under both solvers.

One server type throughout: $100,000, 8 GPUs, 10 kW, idle at half power, a 60-month life,
lead time 2 months, full utilization; a site at PUE 1.0 and $0.10/kWh, colo $100/kW-month,
maintenance 12%/year, staff $200. So per server and month:
- idle energy 1.0 x 0.10 x 10 x 730 x 0.5 = 365; each used GPU-hour 0.10 x 10 x 0.5 / 8 =
  0.0625 more, so a fully used month (5,840 GPU-hours) costs 365 more;
- colo 1,000; maintenance 1,000; staff 200;
- a fully used month 2,930, an idle one 2,565.
Straight-line value (residual 0.1 over 60 months): 100,000 x (1 - 0.9 x age / 60), 1,500 a
month; decommissioning $2,000 a server.
"""

from __future__ import annotations

import pytest

from tco.optimizer import plan_from_dict, solve
from tests.conftest import catalog, offer, plan_doc
from tests.reprice import assert_repriced, assert_venues_repriced

FULL = 8 * 730.0          # GPU-hours of one server in a month
SITE = {"name": "dc", "location": "us-east", "pue": 1.0, "electricity_usd_per_kwh": 0.10,
        "colo_usd_per_kw_month": 100.0, "staff_usd_per_server_month": 200.0,
        "storage_usd_per_tb_month": 5.0, "egress_usd_per_gb": 0.0, "availability": 0.999}
SERVER = {"name": "box", "gpu": "H100", "gpus": 8, "price_usd": 100_000.0, "network_usd": 0.0,
          "power_kw": 10.0, "idle_power_fraction": 0.5, "useful_life_months": 60,
          "residual_fraction": 0.1, "maintenance_rate": 0.12, "lead_time_months": 2,
          "max_utilization": 1.0, "decommission_usd": 2_000.0, "resale_fee_fraction": 0.0}
NO_CLOUD = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0))
CLOUD_1 = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 8.0))  # $1/GPU-hour
CLOUD_2 = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 16.0))  # $2/GPU-hour


def doc(gpu_hours: float, *, window=("2027-01", "2027-12"), existing=(), providers=(),
        server=None, months=12, **plan):
    w = {"name": "train", "kind": "training", "gpu": "H100", "gpu_hours": gpu_hours,
         "window": list(window)}
    site = {**SITE, "existing": [dict(e) for e in existing]}
    d = plan_doc(w, months=months, providers=providers,
                 onprem={"sites": [site], "servers": [server or SERVER]})
    d["plan"].update(plan)
    return d


def owned(count=1, age=12):
    return {"server": "box", "count": count, "age_months": age}


def run(d, cat, solver):
    """Solve, and check every scenario's cash flows and venue costs against its plan priced
    again."""
    loaded = plan_from_dict(d)
    res = solve(loaded, cat, solver=solver)
    for s in res.scenarios:
        if s.feasible:
            assert_repriced(loaded.plan, cat, s, tolerance=0.01)
            assert_venues_repriced(loaded.plan, cat, s, tolerance=0.01)
    return res


def retirements(s):
    return [(r.cohort, r.month, r.count, r.reason, r.resale_usd, r.decommission_usd)
            for r in s.retirements]


def test_keep_one_of_two_owned_servers_and_sell_the_other(solver):
    # one server's work all year, two owned at age 12 (worth 82,000 each now, 64,000 at age
    # 24). Keep one: 12 x 2,930 = 35,160 running, credited 64,000 at the horizon's end; sell
    # the other in the first month: credit 82,000, decommissioning 2,000.
    # -82,000 + 2,000 + 35,160 - 64,000 = -108,840. Keeping both adds 12 idle months and a
    # lower credit (+46,780); swapping for a new one pays a decommissioning and an idle month.
    rec = run(doc(12 * FULL, existing=[owned(2)]), NO_CLOUD, solver).scenario("onprem-only")
    assert rec.total_usd == pytest.approx(-108_840.0, abs=0.01)
    b = rec.breakdown
    assert b["residual_credit"] == pytest.approx(-146_000.0, abs=0.01)
    assert b["decommission"] == pytest.approx(2_000.0, abs=0.01)
    assert b["onprem_capex"] == 0.0 and not rec.procurement
    assert retirements(rec) == [("existing[0]", "2027-01", 1, "sold", 82_000.0, 2_000.0)]


def test_the_same_fleet_valued_by_the_resale_market(solver):
    # no residual_fraction: worth 100,000 x 0.5 ** (age / 12): 50,000 at age 12, 25,000 at
    # age 24. Keep one, sell one: -50,000 + 2,000 + 35,160 - 25,000 = -37,840.
    server = {k: v for k, v in SERVER.items() if k != "residual_fraction"}
    server["resale_retention_per_year"] = 0.5
    rec = run(doc(12 * FULL, existing=[owned(2)], server=server), NO_CLOUD,
              solver).scenario("onprem-only")
    assert rec.total_usd == pytest.approx(-37_840.0, abs=0.01)
    assert retirements(rec) == [("existing[0]", "2027-01", 1, "sold", 50_000.0, 2_000.0)]


def test_a_plan_without_residual_fraction_assumes_the_sourced_retention():
    server = {k: v for k, v in SERVER.items() if k not in ("residual_fraction",
                                                           "decommission_usd",
                                                           "resale_fee_fraction")}
    loaded = plan_from_dict(doc(12 * FULL, server=server))
    keys = {a.key: a for a in loaded.assumptions}
    for key in ("resale_retention_per_year", "decommission_usd", "resale_fee_fraction"):
        assert "http" in keys[f"onprem.servers[0].{key} (box)"].source, key
    (srv,) = loaded.plan.onprem.servers
    assert (srv.resale_retention_per_year, srv.decommission_usd, srv.resale_fee_fraction) == (
        0.69, 675.0, 0.15)


def test_a_sale_brings_in_its_value_less_the_brokers_share(solver):
    # as the first test with a 15% fee: the sold server brings in 82,000 x 0.85 = 69,700;
    # the one kept to the horizon's end is not sold and is credited at its full 64,000.
    # -69,700 + 2,000 + 35,160 - 64,000 = -96,540
    server = {**SERVER, "resale_fee_fraction": 0.15}
    rec = run(doc(12 * FULL, existing=[owned(2)], server=server), NO_CLOUD,
              solver).scenario("onprem-only")
    assert rec.total_usd == pytest.approx(-96_540.0, abs=0.01)
    assert retirements(rec) == [("existing[0]", "2027-01", 1, "sold", 69_700.0, 2_000.0)]


def test_buy_for_a_burst_and_sell_after_it(solver):
    # three months of one server's work (2027-04..06): ordered 2027-02 (to arrive as the
    # work starts), capex 100,000 in 2027-04, three full months 8,790, sold 2027-07 at age 3
    # for 100,000 x (1 - 0.9 x 3/60) = 95,500 less 2,000: 15,290. Keeping it to the end
    # would add six idle months (15,390) for a credit of 86,500 instead (37,680); on demand
    # at $1 a GPU-hour it would cost 17,520 x 1 = 17,520.
    d = doc(3 * FULL, window=("2027-04", "2027-06"), providers=("aws",))
    res = run(d, CLOUD_1, solver)
    rec = res.scenario("hybrid")
    assert rec.total_usd == pytest.approx(15_290.0, abs=0.01)
    assert [(p.order_month, p.arrival_month, p.count) for p in rec.procurement] == [
        ("2027-02", "2027-04", 1)]
    assert retirements(rec) == [("ordered[2027-02]", "2027-07", 1, "sold", 95_500.0, 2_000.0)]
    assert res.scenario("cloud-only").total_usd == pytest.approx(17_520.0, abs=0.01)
    assert res.recommended_name == "hybrid"


def test_buy_for_a_burst_and_sell_after_it_discounted(solver):
    # the same at 12% a year, month m discounted by 1.12 ** (-m / 12), against $2 a GPU-hour
    # on demand (at $1, the 16,871 of on-demand hours would beat the server's 17,322)
    d = doc(3 * FULL, window=("2027-04", "2027-06"), providers=("aws",), discount_rate=0.12)
    rec = run(d, CLOUD_2, solver).scenario("hybrid")
    assert retirements(rec) == [("ordered[2027-02]", "2027-07", 1, "sold", 95_500.0, 2_000.0)]

    def f(m):
        return 1.12 ** (-m / 12)
    npv = 100_000 * f(3) + 2_930 * (f(3) + f(4) + f(5)) + (2_000 - 95_500) * f(6)
    assert rec.npv_usd == pytest.approx(npv, abs=0.01)
    assert rec.total_usd == pytest.approx(15_290.0, abs=0.01)


def test_cloud_only_sells_the_owned_fleet_in_its_first_month(solver):
    # cloud-only cannot keep the two servers: both sold in 2027-01 (2 x 82,000 credit,
    # 2 x 2,000 decommissioning), the work on demand: 12 x 5,840 x $1 = 70,080.
    # 70,080 - 164,000 + 4,000 = -89,920. Keeping one on-prem is cheaper: -108,840.
    res = run(doc(12 * FULL, existing=[owned(2)], providers=("aws",)), CLOUD_1, solver)
    cloud = res.scenario("cloud-only")
    assert cloud.total_usd == pytest.approx(-89_920.0, abs=0.01)
    assert retirements(cloud) == [("existing[0]", "2027-01", 2, "sold", 164_000.0, 4_000.0)]
    assert res.scenario("hybrid").total_usd == pytest.approx(-108_840.0, abs=0.01)
    assert res.recommended_name == "hybrid"


def test_every_scenario_starts_with_the_same_fleet(solver):
    # the owned servers appear in every scenario's report: kept, or sold at their value. One
    # server's work all year, two owned at age 12, the cloud at $1 a GPU-hour:
    # - cloud-only and aws-only have no site: both sold in the first month;
    # - hybrid and onprem-only keep exactly one and sell the other at once. The second kept
    #   would idle all year: 12 x 2,565 = 30,780 for a credit of 64,000 at the end, -33,220,
    #   against -82,000 + 2,000 = -80,000 sold now (46,780 dearer; later sales are dearer
    #   still, 1,500 of value and 2,565 of idle costs a month). Keeping none in hybrid puts
    #   the work on the cloud, 12 x 5,840 x $1 = 70,080, against the kept server's 35,160 of
    #   running costs and 80,000 - 64,000 = 16,000 of value lost: 51,160.
    res = run(doc(12 * FULL, existing=[owned(2)], providers=("aws",)), CLOUD_1, solver)
    kept = {s.name: 2 - sum(r.count for r in s.retirements if r.cohort == "existing[0]")
            for s in res.scenarios}
    assert kept == {"hybrid": 1, "cloud-only": 0, "aws-only": 0, "onprem-only": 1}
    for s in res.scenarios:
        assert {r.month for r in s.retirements} == {"2027-01"}, s.name


def test_end_of_life_retirement_inside_the_horizon(solver):
    # an owned server at age 54 of 60 serves the first six months and retires in 2027-07 at
    # the end of its life: worth its residual 10,000, decommissioning 2,000 paid then.
    # 6 x 2,930 - 10,000 + 2,000 = 9,580.
    rec = run(doc(6 * FULL, window=("2027-01", "2027-06"), existing=[owned(1, age=54)]),
              NO_CLOUD, solver).scenario("onprem-only")
    assert rec.total_usd == pytest.approx(9_580.0, abs=0.01)
    assert retirements(rec) == [("existing[0]", "2027-07", 1, "end of life", 10_000.0,
                                 2_000.0)]


def test_an_end_of_life_sale_brings_in_its_value_less_the_brokers_share(solver):
    # as above with a 15% fee: the server retired at the end of its life is sold like any
    # other, for its residual 10,000 less 15%, 8,500; decommissioning 2,000.
    # 6 x 2,930 - 8,500 + 2,000 = 11,080 (9,580 were the fee skipped)
    server = {**SERVER, "resale_fee_fraction": 0.15}
    rec = run(doc(6 * FULL, window=("2027-01", "2027-06"), existing=[owned(1, age=54)],
                  server=server), NO_CLOUD, solver).scenario("onprem-only")
    assert retirements(rec) == [("existing[0]", "2027-07", 1, "end of life", 8_500.0,
                                 2_000.0)]
    assert rec.total_usd == pytest.approx(11_080.0, abs=0.01)
    assert rec.breakdown["residual_credit"] == pytest.approx(-8_500.0, abs=0.01)


def test_a_server_past_its_life_is_sold_with_the_brokers_share_at_the_start():
    # age 70 of 60 and a 15% fee: retired in the first month in every scenario, sold for its
    # residual 10,000 less 15%: 8,500
    server = {**SERVER, "resale_fee_fraction": 0.15}
    res = run(doc(2 * FULL, window=("2027-06", "2027-06"), existing=[owned(1, age=70)],
                  providers=("aws",), server=server), CLOUD_1, "highs")
    for s in res.scenarios:
        assert [r for r in retirements(s) if r[0] == "existing[0]"] == [
            ("existing[0]", "2027-01", 1, "end of life", 8_500.0, 2_000.0)], s.name


def test_a_server_past_its_life_is_retired_at_the_start():
    # age 70 of 60: retired in the first month in every scenario, at its residual value
    res = run(doc(2 * FULL, window=("2027-06", "2027-06"), existing=[owned(1, age=70)],
                  providers=("aws",)), CLOUD_1, "highs")
    for s in res.scenarios:
        assert [r for r in retirements(s) if r[0] == "existing[0]"] == [
            ("existing[0]", "2027-01", 1, "end of life", 10_000.0, 2_000.0)], s.name


def test_hybrid_beats_every_scenario_only_because_it_can_retire(solver):
    # one and a half servers' work all year (8,760 GPU-hours a month), two owned at age 12,
    # cloud at $1 a GPU-hour.
    # - onprem-only keeps both (one full, one half used: 2,747.50 a month):
    #   12 x (2,930 + 2,747.50) - 2 x 64,000 = -59,870
    # - cloud-only sells both: 105,120 - 164,000 + 4,000 = -54,880
    # - hybrid keeps one, sells one, half a server on demand:
    #   35,160 - 64,000 - 82,000 + 2,000 + 35,040 = -73,800
    # Without retirement hybrid could do no better than keeping both (-59,870).
    res = run(doc(12 * 1.5 * FULL, existing=[owned(2)], providers=("aws",)), CLOUD_1, solver)
    assert res.scenario("onprem-only").total_usd == pytest.approx(-59_870.0, abs=0.01)
    assert res.scenario("cloud-only").total_usd == pytest.approx(-54_880.0, abs=0.01)
    hybrid = res.scenario("hybrid")
    assert hybrid.total_usd == pytest.approx(-73_800.0, abs=0.01)
    assert retirements(hybrid) == [("existing[0]", "2027-01", 1, "sold", 82_000.0, 2_000.0)]
    assert res.recommended_name == "hybrid"


def test_no_churn_between_equal_servers(solver):
    # two owned servers at age 0 and work for one all year: keeping the same one all year
    # costs the same depreciation as selling it for a new one, but each swap pays a
    # decommissioning: the plan never swaps, and sells the spare once.
    rec = run(doc(12 * FULL, existing=[owned(2, age=0)]), NO_CLOUD,
              solver).scenario("onprem-only")
    assert not rec.procurement
    assert [(r.month, r.count) for r in rec.retirements] == [("2027-01", 1)]
