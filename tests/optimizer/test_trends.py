"""Prices over time (SPEC 11): falling cloud prices against reservations that lock a price,
servers bought later at a lower price, electricity that rises, a next generation that becomes
available. Every cost worked out by hand, under both solvers, and re-priced from scratch."""

from __future__ import annotations

import pytest

from tco.optimizer import plan_from_dict, solve
from tests.conftest import catalog, offer, plan_doc
from tests.reprice import assert_repriced

H = 730.0
FULL = 8 * H
SITE = {"name": "dc", "location": "us-east", "pue": 1.0, "electricity_usd_per_kwh": 0.10,
        "colo_usd_per_kw_month": 100.0, "staff_usd_per_server_month": 200.0,
        "storage_usd_per_tb_month": 5.0, "egress_usd_per_gb": 0.0, "availability": 0.999}
BOX = {"name": "box", "gpu": "H100", "gpus": 8, "price_usd": 100_000.0, "network_usd": 0.0,
       "power_kw": 10.0, "idle_power_fraction": 0.5, "useful_life_months": 60,
       "residual_fraction": 0.1, "maintenance_rate": 0.12, "lead_time_months": 2,
       "max_utilization": 1.0, "decommission_usd": 2_000.0, "resale_fee_fraction": 0.0}
RESERVABLE = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 10.0),
                     offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "reserved_1y", 6.0))
NO_CLOUD = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0))


def run(d, cat, solver):
    loaded = plan_from_dict(d)
    res = solve(loaded, cat, solver=solver)
    for s in res.scenarios:
        if s.feasible:
            assert_repriced(loaded.plan, cat, s, tolerance=0.01)
    return res


def f(rate: float, month: int) -> float:
    return (1 + rate) ** (month / 12)


def service(months=24, **trends):
    d = plan_doc({"name": "svc", "kind": "inference", "gpu": "L4", "gpus": 1,
                  "growth_per_month": 0.0}, months=months, trends=trends)
    d["cloud"]["commit_every_months"] = 12
    return d


def test_a_reservation_locks_its_start_months_price(solver):
    # one L4 for 24 months, list prices falling 50% a year: a 1-year reservation from 2027-01
    # pays $6/h for 12 months (52,560); one from 2028-01 pays the price then, $3/h (26,280).
    # On demand the years would cost 7,300 x sum(0.5^(m/12)) = 65,032 and 32,516.
    rec = run(service(cloud=-0.5), RESERVABLE, solver).recommended
    assert sorted((c.start_month, c.count, c.usd_per_month) for c in rec.commitments) == [
        ("2027-01", 1, pytest.approx(6.0 * H)), ("2028-01", 1, pytest.approx(3.0 * H))]
    assert rec.total_usd == pytest.approx(52_560.0 + 26_280.0, abs=0.01)
    assert rec.breakdown["cloud_compute"] == 0.0


def test_on_demand_falling_fast_beats_any_reservation(solver):
    # at -80% a year a reservation locked at the start costs more than the falling hours:
    # year 1 on demand 7,300 x sum(0.2^(m/12)) = 46,528 < 52,560; year 2 9,306 < 10,512.
    rec = run(service(cloud=-0.8), RESERVABLE, solver).recommended
    on_demand = 10.0 * H * sum(f(-0.8, m) for m in range(24))
    assert not rec.commitments
    assert rec.total_usd == pytest.approx(on_demand, abs=0.01)
    # month by month, the cash flows follow the price
    flows = {c.month: c.usd for c in rec.cash_flows}
    assert flows["2027-01"] == pytest.approx(7_300.0)
    assert flows["2028-12"] == pytest.approx(7_300.0 * f(-0.8, 23))


def test_a_flat_cloud_trend_keeps_todays_numbers(solver):
    # reservations for both years at $6/h: 105,120, as with no [trends] at all
    rec = run(service(cloud=0.0), RESERVABLE, solver).recommended
    assert rec.total_usd == pytest.approx(105_120.0, abs=0.01)


def test_a_cloud_trend_by_gpu_class_overrides_the_general_one(solver):
    rec = run(service(cloud=0.0, cloud_by_gpu={"L4": -0.5}), RESERVABLE, solver).recommended
    assert rec.total_usd == pytest.approx(78_840.0, abs=0.01)


def onprem(gpu_hours, window, months=24, servers=None, existing=(), **trends):
    w = {"name": "train", "kind": "training", "gpu": "H100", "gpu_hours": gpu_hours,
         "window": list(window)}
    d = plan_doc(w, months=months, providers=("aws",), trends=trends,
                 onprem={"sites": [{**SITE, "existing": list(existing)}],
                         "servers": servers or [BOX]})
    return d


def test_a_server_bought_later_costs_less_and_is_sold_when_its_work_ends(solver):
    # servers 20% cheaper a year; three months of one server's work in 2028-01..03. Ordered
    # in 2027-11 to arrive as the work starts, it costs 100,000 x 0.8^(10/12); sold in
    # 2028-04 at age 3 for what a new one costs then, 100,000 x 0.8^(15/12), times
    # 1 - 0.9 x 3/60; 2,000 to decommission; three full months of energy, colo and staff
    # (1,930) and of maintenance at 12% a year of its own price.
    d = onprem(3 * FULL, ("2028-01", "2028-03"))
    cloud = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 16.0))  # $2/GPU-h
    rec = run({**d, "trends": {"servers": -0.2}}, cloud, solver).scenario("hybrid")
    capex = 100_000 * f(-0.2, 10)
    resale = 100_000 * f(-0.2, 15) * (1 - 0.9 * 3 / 60)
    assert [(p.order_month, p.arrival_month, p.count, p.capex_usd) for p in rec.procurement] == [
        ("2027-11", "2028-01", 1, pytest.approx(capex, abs=0.01))]
    assert [(r.month, r.resale_usd) for r in rec.retirements] == [
        ("2028-04", pytest.approx(resale, abs=0.01))]
    assert rec.total_usd == pytest.approx(
        capex + 3 * 1_930.0 + 3 * 0.01 * capex + 2_000.0 - resale, abs=0.01)
    # maintenance is 12% a year of the server's own, lower, price
    assert rec.breakdown["maintenance"] == pytest.approx(3 * 0.01 * capex, abs=0.01)


def test_electricity_rising_under_a_fixed_fleet(solver):
    # one owned server (age 0) fully used all year, electricity 50% dearer a year: energy in
    # month m is 730 x 1.5^(m/12) (idle 365 and used 365 at $0.10/kWh in the first month).
    # Colo, maintenance and staff stay 2,200 a month; credited 82,000 at age 12.
    d = onprem(12 * FULL, ("2027-01", "2027-12"), months=12,
               existing=[{"server": "box", "count": 1, "age_months": 0}], electricity=0.5)
    rec = run(d, NO_CLOUD, solver).scenario("onprem-only")
    energy = 730.0 * sum(f(0.5, m) for m in range(12))
    assert rec.breakdown["energy"] == pytest.approx(energy, abs=0.01)
    assert rec.total_usd == pytest.approx(energy + 12 * 2_200.0 - 82_000.0, abs=0.01)
    flows = {(c.month, c.category): c.usd for c in rec.cash_flows}
    assert flows[("2027-12", "energy")] == pytest.approx(730.0 * f(0.5, 11))
    paths = {p.item: p for p in rec.price_paths}
    assert paths["electricity at dc"].last_usd == pytest.approx(0.10 * f(0.5, 11))


NEXT = {**BOX, "name": "next", "gpu": "B200", "price_usd": 150_000.0}


def test_a_next_generation_becomes_the_choice_once_available(solver):
    # two H100 servers' work a month in 2027-07..12 (work that runs twice as fast on B200).
    # Two H100 boxes: 200,000 - 2 x 91,000 credited at the end (age 6) + 6 x 2 x 2,930 =
    # 53,160. One B200 box, available from 2027-07: 150,000 - 136,500 + 6 x 3,430 (its
    # maintenance is 1,500 a month) = 34,080. Available only after the horizon: the H100s.
    w = {"name": "train", "kind": "training", "gpu": {"H100": 1.0, "B200": 2.0},
         "gpu_hours": 6 * 2 * FULL, "window": ["2027-07", "2027-12"]}
    for available, total, bought in (("2027-07", 34_080.0, "next"),
                                     ("2028-01", 53_160.0, "box")):
        d = plan_doc(w, months=12, providers=(),
                     onprem={"sites": [SITE],
                             "servers": [BOX, {**NEXT, "available_from": available}]})
        rec = run(d, NO_CLOUD, solver).scenario("onprem-only")
        assert rec.total_usd == pytest.approx(total, abs=0.01), available
        assert {p.server for p in rec.procurement} == {bought}
        assert any("next could arrive no earlier than " + available in n for n in rec.notes)


def test_a_server_type_never_arrives_before_it_is_available(solver):
    # the same work from 2027-03: the B200 box (available 2027-07) cannot serve the first four
    # months, so H100 boxes do
    w = {"name": "train", "kind": "training", "gpu": {"H100": 1.0, "B200": 2.0},
         "gpu_hours": 10 * 2 * FULL, "window": ["2027-03", "2027-12"]}
    d = plan_doc(w, months=12, providers=(),
                 onprem={"sites": [SITE], "servers": [BOX, {**NEXT, "available_from": "2027-07"}]})
    rec = run(d, NO_CLOUD, solver).scenario("onprem-only")
    for p in rec.procurement:
        if p.server == "next":
            assert p.arrival_month >= "2027-07"
    assert any(p.server == "box" for p in rec.procurement)


def test_flat_trends_build_the_same_program_as_none():
    # [trends] with every rate 0 is the plan as it was: the same columns, rows and costs
    from tco.optimizer.build import build
    from tco.optimizer.scenarios import scenarios_for

    base = onprem(3 * FULL, ("2027-04", "2027-06"), months=12,
                  existing=[{"server": "box", "count": 1, "age_months": 30}])
    flat = {**base, "trends": {"cloud": 0, "servers": 0, "electricity": 0,
                               "cloud_by_gpu": {"H100": 0}}}
    cat = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 16.0),
                  offer("aws", "us-east-1", "p5", "H100", 8, "reserved_1y", 10.0))

    def program(doc):
        plan = plan_from_dict(doc).plan
        model = build(plan, cat, scenarios_for(plan)[0])
        prob = model.prob
        return ([(v.name, v.lowBound, v.upBound, v.integer) for v in prob.vars],
                sorted((v.name, c) for v, c in prob.objective.items()),
                [(r.name, r.sense, r.constant, sorted((v.name, c) for v, c in r.expr.items()))
                 for r in prob.rows])

    assert program(flat) == program(base)


def test_trend_rates_are_checked_and_the_extreme_ones_named():
    from tco.optimizer import PlanError

    with pytest.raises(PlanError, match="trends.cloud: must be greater than -1"):
        plan_from_dict(service(cloud=-1.5))
    with pytest.raises(PlanError, match="trends.cloud_by_gpu.B300: unknown GPU class"):
        plan_from_dict(service(cloud_by_gpu={"B300": -0.2}))
    loaded = plan_from_dict(service(cloud=-0.8, servers=1.5, electricity=0.03))
    assert len(loaded.warnings) == 2
    assert loaded.warnings[0].startswith("trends.cloud = -0.8")
    assert loaded.warnings[1].startswith("trends.servers = 1.5")
    # left out, every rate is 0 and listed as assumed, with where to find published figures
    assumed = {a.key: a for a in plan_from_dict(service()).assumptions}
    for key in ("trends.cloud", "trends.servers", "trends.electricity"):
        assert assumed[key].value.startswith("0 ")
        assert "docs/prices-over-time.md" in assumed[key].source
