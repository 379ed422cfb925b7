"""Small plans that each isolate one mechanism, with costs computed by hand and asserted
exactly (to the cent). Every test runs under both solvers."""

from __future__ import annotations

import pytest

from tco.optimizer import plan_from_dict, solve
from tests.conftest import catalog, egress, offer, plan_doc, storage

H = 730.0


def run(doc, cat, solver):
    return solve(plan_from_dict(doc), cat, solver=solver)


def inference(name="svc", gpus=1.0, **kw):
    return {"name": name, "kind": "inference", "gpu": "L4", "gpus": gpus, "growth_per_month": 0.0,
            **kw}


def training(name="train", gpu_hours=1000.0, **kw):
    return {"name": name, "kind": "training", "gpu": "H100", "gpu_hours": gpu_hours, **kw}


# --- reservations -----------------------------------------------------------------------------

RES = catalog(
    offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 10.0),
    offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "reserved_1y", 6.0),
)


def test_steady_demand_is_reserved(solver):
    res = run(plan_doc(inference(gpus=1)), RES, solver)
    rec = res.recommended
    # one reserved instance for 12 months at $6/h
    assert rec.total_usd == pytest.approx(6.0 * H * 12, abs=0.01)
    assert rec.breakdown["cloud_reserved"] == pytest.approx(52_560.0, abs=0.01)
    assert rec.breakdown["cloud_compute"] == pytest.approx(0.0, abs=0.01)
    (c,) = rec.commitments
    assert (c.count, c.start_month, c.end_month, c.purchase) == (1, "2027-01", "2027-12",
                                                                 "reserved_1y")
    assert c.usd_per_month == pytest.approx(6.0 * H)


def test_half_an_instance_is_cheaper_on_demand(solver):
    # 1.5 GPUs: 1 reserved ($6/h) + 0.5 on demand ($10/h) = $8/h beats 2 reserved = $12/h
    res = run(plan_doc(inference(gpus=1.5)), RES, solver)
    rec = res.recommended
    assert rec.total_usd == pytest.approx((6.0 + 0.5 * 10.0) * H * 12, abs=0.01)  # 96,360
    assert rec.breakdown["cloud_compute"] == pytest.approx(0.5 * 10.0 * H * 12, abs=0.01)


def test_reservation_past_horizon_is_paid_and_flagged(solver):
    # 6-month horizon: a 1-year reservation costs 12 x $4,380 = $52,560 > 6 months on demand
    # ($43,800), so on-demand wins; with a $4/h reservation, 12 x 2,920 = $35,040 wins.
    short = plan_doc(inference(gpus=1), months=6)
    res = run(short, RES, solver)
    assert res.recommended.total_usd == pytest.approx(10.0 * H * 6, abs=0.01)
    cheap = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 10.0),
                    offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "reserved_1y", 4.0))
    res = run(short, cheap, solver)
    rec = res.recommended
    assert rec.total_usd == pytest.approx(4.0 * H * 12, abs=0.01)
    (c,) = rec.commitments
    assert c.months_past_horizon == 6
    assert any("past the horizon" in n for n in rec.notes)


def test_one_and_three_year_reservations_share_a_pool(solver):
    # "base" needs 1 L4 for 36 months, "burst" 1 more for the first 12. One 3-year
    # reservation at $3/h (36 x 2,190 = $78,840) and one 1-year at $5/h (12 x 3,650 =
    # $43,800) cost $122,640; two 3-year ones would cost $157,680 and on-demand burst $87,600.
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 10.0),
                  offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "reserved_1y", 5.0),
                  offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "reserved_3y", 3.0))
    doc = plan_doc(inference("base", gpus=1),
                   training("burst", gpu="L4", gpu_hours=12 * H, window=["2027-01", "2027-12"]),
                   months=36)
    rec = run(doc, cat, solver).recommended
    assert rec.total_usd == pytest.approx(122_640.0, abs=0.01)
    assert sorted((c.purchase, c.count, c.start_month) for c in rec.commitments) == [
        ("reserved_1y", 1, "2027-01"), ("reserved_3y", 1, "2027-01")]
    # in 2027-01 the pool holds 1,460 GPU-hours for $5,840 and both use half of it: each
    # row is its term's share of the hours (365) at that term's fee for them
    # (3 x 730 / 2 = $1,095 and 5 x 730 / 2 = $1,825)
    first = sorted((a.workload, a.purchase, a.gpu_hours, a.cost_usd)
                   for a in rec.allocations if a.month == "2027-01")
    assert first == [("base", "reserved_1y", 365.0, 1_825.0), ("base", "reserved_3y", 365.0, 1_095.0),
                     ("burst", "reserved_1y", 365.0, 1_825.0), ("burst", "reserved_3y", 365.0, 1_095.0)]
    later = [(a.workload, a.purchase, a.gpu_hours, a.cost_usd)
             for a in rec.allocations if a.month == "2028-01"]
    assert later == [("base", "reserved_3y", 730.0, 2_190.0)]
    # the pool is full every month, so the rows add up to everything reserved
    assert sum(a.cost_usd for a in rec.allocations) == pytest.approx(122_640.0, abs=0.01)


def test_work_smaller_than_a_reserved_instance_stays_on_demand(solver):
    # 2 of an 8-GPU instance's GPUs for 12 months: on demand 2 x $3 x 730 x 12 = $52,560 beats
    # one reserved instance at $12/h ($105,120). The relaxation finds the same: a workload's
    # use of a pool is bounded by its need times the active reservations, so a quarter of an
    # instance (12 x 730 x 12 / 4 = $26,280) is not on offer.
    cat = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 24.0),
                  offer("aws", "us-east-1", "p5", "H100", 8, "reserved_1y", 12.0))
    doc = plan_doc(inference(gpus=2, gpu="H100"))
    rec = run(doc, cat, solver).recommended
    assert rec.total_usd == pytest.approx(52_560.0, abs=0.01)
    assert not rec.commitments
    assert relaxation(doc, cat, "hybrid") == pytest.approx(52_560.0, abs=0.01)


def test_services_sharing_a_pool_round_to_whole_instances(solver):
    # two services of 5 GPUs on 8-GPU instances ($3 a GPU-hour on demand, $12 an hour for a
    # reserved instance): one reserved instance and 2 GPUs on demand, $8,760 + $4,380 =
    # $13,140 a month, $157,680 a year; two instances cost $17,520 a month, none $21,900
    cat = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 24.0),
                  offer("aws", "us-east-1", "p5", "H100", 8, "reserved_1y", 12.0))
    doc = plan_doc(inference("a", gpus=5, gpu="H100"), inference("b", gpus=5, gpu="H100"))
    rec = run(doc, cat, solver).recommended
    assert rec.total_usd == pytest.approx(157_680.0, abs=0.01)
    assert [(c.count, c.purchase) for c in rec.commitments] == [(1, "reserved_1y")]
    # the relaxation reserves 1.25 instances ($131,400). The rounding inequality of the pool
    # over both services (10 GPUs: k = 1 instance, f = 2 GPUs = 1,460 GPU-hours),
    # u_a + u_b <= 4,380 k + 1,460 r, leaves it the whole-instance optimum.
    from tco.optimizer.build import build
    from tco.optimizer.cuts import add_unit_covers
    from tco.optimizer.scenarios import scenarios_for
    from tco.optimizer.solver import run as solve_program
    assert relaxation(doc, cat, "hybrid") == pytest.approx(131_400.0, abs=0.01)
    plan = plan_from_dict(doc).plan
    model = build(plan, cat, next(s for s in scenarios_for(plan) if s.name == "hybrid"))
    solve_program(model.prob, solver, None, 0.0, relax=True)
    assert add_unit_covers(model) == 12            # one per month
    solve_program(model.prob, solver, None, 0.0, relax=True)
    assert model.prob.objective.value() == pytest.approx(157_680.0, abs=0.01)
    assert add_unit_covers(model) == 0


def test_warm_start_bound_includes_the_rounding_inequalities(solver, monkeypatch):
    # the plan above, with the rounds switched on for a program this small: the warm start's
    # bound is the whole-instance optimum, so its plan is proved optimal without a full solve
    from tco.optimizer import warmstart
    from tco.optimizer.build import build
    from tco.optimizer.scenarios import scenarios_for
    monkeypatch.setattr(warmstart, "COVERS_FROM", 0)
    cat = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 24.0),
                  offer("aws", "us-east-1", "p5", "H100", 8, "reserved_1y", 12.0))
    plan = plan_from_dict(plan_doc(inference("a", gpus=5, gpu="H100"),
                                   inference("b", gpus=5, gpu="H100"))).plan
    model = build(plan, cat, next(s for s in scenarios_for(plan) if s.name == "hybrid"))
    start = warmstart.warm_start(model, solver)
    assert start.bound == pytest.approx(157_680.0, abs=0.01)
    assert start.objective == pytest.approx(157_680.0, abs=0.01) and start.gap == 0.0


def test_no_variable_may_exceed_what_its_workload_could_use():
    # bounds that hold in some optimal plan, given so the solver can tighten its cuts:
    # 1.5 GPUs = 1,095 GPU-hours a month on demand or reserved, never more than 2 one-GPU
    # reservations; on spot with 25% overhead, 1,000 GPU-hours of work take 1,250
    from tco.optimizer.build import build
    from tco.optimizer.scenarios import scenarios_for

    def model_of(doc, cat):
        plan = plan_from_dict(doc).plan
        return build(plan, cat, next(s for s in scenarios_for(plan) if s.name == "hybrid"))

    model = model_of(plan_doc(inference(gpus=1.5)), RES)
    assert {v.upBound for v, _ in model.reserved.reservations.values()} == {2}
    assert model.caps and all(c.var.upBound == pytest.approx(1.5 * H) for c in model.caps)
    model = model_of(plan_doc(training(gpu_hours=1000, interruptible=True, spot_overhead=0.25,
                                       window=["2027-01", "2027-01"]), months=1), SPOT)
    assert {c.purchase.value: c.var.upBound for c in model.caps} == {
        "on_demand": pytest.approx(1000.0), "spot": pytest.approx(1250.0)}


def test_upfront_fee_is_amortized_into_the_hourly_price():
    from tco.pricing.models import effective_usd_per_hour
    # $1/h recurring + $8,760 upfront over 12 months = $1 + $1 = $2/h
    assert effective_usd_per_hour(1.0, 8760.0, 12) == pytest.approx(2.0)


# --- spot ------------------------------------------------------------------------------------

SPOT = catalog(
    offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 24.0),   # $3/GPU-h
    offer("aws", "us-east-1", "p5", "H100", 8, "spot", 16.0),        # $2/GPU-h
)


def test_spot_with_overhead(solver):
    # 1000 GPU-hours, overhead 0.25 -> 1250 spot GPU-hours x $2 = $2,500 < $3,000 on demand
    doc = plan_doc(training(gpu_hours=1000, interruptible=True, spot_overhead=0.25,
                            window=["2027-01", "2027-01"]), months=1)
    rec = run(doc, SPOT, solver).recommended
    assert rec.total_usd == pytest.approx(2500.0, abs=0.01)
    (a,) = rec.allocations
    assert (a.purchase, a.gpu_hours) == ("spot", pytest.approx(1250.0))


def test_spot_overhead_can_make_spot_dearer(solver):
    # overhead 0.6 -> 1600 x $2 = $3,200 > $3,000 on demand
    doc = plan_doc(training(gpu_hours=1000, interruptible=True, spot_overhead=0.6,
                            window=["2027-01", "2027-01"]), months=1)
    rec = run(doc, SPOT, solver).recommended
    assert rec.total_usd == pytest.approx(3000.0, abs=0.01)


def test_spot_only_for_interruptible(solver):
    doc = plan_doc(training(gpu_hours=1000, window=["2027-01", "2027-01"]), months=1)
    rec = run(doc, SPOT, solver).recommended
    assert rec.total_usd == pytest.approx(3000.0, abs=0.01)
    assert {a.purchase for a in rec.allocations} == {"on_demand"}


# --- GPU equivalence ---------------------------------------------------------------------------

def test_gpu_equivalence_by_relative_speed(solver):
    cat = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 32.0),     # $4/GPU-h
                  offer("aws", "us-east-1", "p4de", "A100-80GB", 8, "on_demand", 12.0))  # $1.5
    # A100 at 0.5 of an H100: 1000 H100-hours = 2000 A100-hours x $1.5 = $3,000 < $4,000
    w = training(gpu_hours=1000, window=["2027-01", "2027-01"])
    w["gpu"] = {"H100": 1.0, "A100-80GB": 0.5}
    rec = run(plan_doc(w, months=1), cat, solver).recommended
    assert rec.total_usd == pytest.approx(3000.0, abs=0.01)
    # at 0.3 it needs 3,333.3 A100-hours = $5,000 > $4,000: H100 wins
    w["gpu"] = {"H100": 1.0, "A100-80GB": 0.3}
    rec = run(plan_doc(w, months=1), cat, solver).recommended
    assert rec.total_usd == pytest.approx(4000.0, abs=0.01)


# --- latency -----------------------------------------------------------------------------------

LAT = catalog(
    offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
    offer("aws", "eu-west-1", "g6.xlarge", "L4", 1, "on_demand", 2.0),
)


def test_latency_excludes_far_regions(solver):
    # all users in London, 20 ms bound: Virginia (~85 ms) is excluded, Ireland (~10 ms) is not
    doc = plan_doc(inference(gpus=1, users={"eu-west": 1.0}, max_latency_ms=20), months=1)
    rec = run(doc, LAT, solver).recommended
    assert rec.total_usd == pytest.approx(2.0 * H, abs=0.01)
    assert {a.venue for a in rec.allocations} == {"aws:eu-west-1"}


def test_latency_splits_by_metro_share(solver):
    # 40% of traffic from London must be served in Europe; 60% from New York goes to Virginia
    doc = plan_doc(inference(gpus=10, users={"eu-west": 0.4, "us-east": 0.6}, max_latency_ms=20),
                   months=1)
    rec = run(doc, LAT, solver).recommended
    assert rec.total_usd == pytest.approx((4 * 2.0 + 6 * 1.0) * H, abs=0.01)


def test_no_offer_within_latency_names_workload_metro_and_bound(solver):
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0))
    doc = plan_doc(inference(name="chat-api", gpus=1, users={"ap-south": 1.0},
                             max_latency_ms=20), months=1)
    res = run(doc, cat, solver)
    assert not res.feasible
    assert "chat-api: no L4 offer within 20 ms of ap-south" in (res.recommended.reason or "")


def test_latency_from_london_to_virginia(solver):
    # London (51.51, -0.13) to us-east-1 at Ashburn (39.04, -77.49): 5,917.47 km on a sphere of
    # 6,371 km, so 2 + 2 x 5,917.47 x 1.5 / 200 = 90.76 ms round trip. Users in London with a
    # 75 ms bound cannot be served from Virginia ($1 an hour) and pay Ireland's $2; with 91 ms
    # they can.
    from tco.pricing.reference import estimated_rtt_ms
    assert estimated_rtt_ms(51.51, -0.13, 39.04, -77.49) == pytest.approx(90.762, abs=0.001)
    for bound, rate, venue in ((75, 2.0, "aws:eu-west-1"), (91, 1.0, "aws:us-east-1")):
        doc = plan_doc(inference(gpus=1, users={"eu-west": 1.0}, max_latency_ms=bound), months=1)
        rec = run(doc, LAT, solver).recommended
        assert rec.total_usd == pytest.approx(rate * H, abs=0.01), bound
        assert {a.venue for a in rec.allocations} == {venue}


def test_latency_override_from_the_plan(solver):
    doc = plan_doc(inference(gpus=1, users={"eu-west": 1.0}, max_latency_ms=20), months=1,
                   latency={"eu-west": {"aws:us-east-1": 15.0}})
    rec = run(doc, LAT, solver).recommended
    assert rec.total_usd == pytest.approx(1.0 * H, abs=0.01)


# --- redundancy --------------------------------------------------------------------------------

TWO = catalog(
    offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
    offer("aws", "us-east-2", "g6.xlarge", "L4", 1, "on_demand", 1.5),
    offer("aws", "us-west-2", "g6.xlarge", "L4", 1, "on_demand", 3.0),
)


def test_one_region_meets_a_target_it_exceeds(solver):
    rec = run(plan_doc(inference(gpus=2, availability=0.999), months=1), TWO, solver).recommended
    assert rec.total_usd == pytest.approx(2 * 1.0 * H, abs=0.01)


def test_n_plus_one_when_no_region_meets_the_target(solver):
    # 0.9999 > 0.9995: losing any region must leave the full 2 GPUs. Cheapest: 2 in us-east-1
    # and 2 in us-east-2 (each region alone carries the load) = 2 x ($1 + $1.5) x 730
    rec = run(plan_doc(inference(gpus=2, availability=0.9999), months=1), TWO, solver).recommended
    assert rec.total_usd == pytest.approx(2 * (1.0 + 1.5) * H, abs=0.01)


def test_two_domain_redundancy(solver):
    # 0.99999999 > 1 - (0.0005)^2: survive any two losses -> 2 GPUs in each of three regions
    rec = run(plan_doc(inference(gpus=2, availability=0.99999999), months=1), TWO,
              solver).recommended
    assert rec.total_usd == pytest.approx(2 * (1.0 + 1.5 + 3.0) * H, abs=0.01)


def test_spot_never_counts_toward_availability(solver):
    cat = catalog(
        offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
        offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "spot", 0.1),
        offer("aws", "us-east-2", "g6.xlarge", "L4", 1, "on_demand", 1.5),
        offer("aws", "us-east-2", "g6.xlarge", "L4", 1, "spot", 0.1),
    )
    w = inference(gpus=1, availability=0.9999, interruptible=True, spot_overhead=0.0)
    rec = run(plan_doc(w, months=1), cat, solver).recommended
    assert rec.total_usd == pytest.approx((1.0 + 1.5) * H, abs=0.01)


def test_too_few_domains_is_reported(solver):
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0))
    res = run(plan_doc(inference(name="api", gpus=1, availability=0.9999), months=1), cat, solver)
    assert not res.feasible
    assert "api: availability 0.9999 needs non-spot capacity in 2 failure domains" in (
        res.recommended.reason or "")


# --- on-prem: lead time, book value, capex budget -----------------------------------------------

SITE = {"name": "dc", "location": "us-east", "pue": 1.0, "electricity_usd_per_kwh": 0.10,
        "colo_usd_per_kw_month": 100.0, "staff_usd_per_server_month": 200.0,
        "storage_usd_per_tb_month": 5.0, "egress_usd_per_gb": 0.01, "availability": 0.999}
SERVER = {"name": "box", "gpu": "H100", "gpus": 8, "price_usd": 100_000.0, "network_usd": 0.0,
          "power_kw": 10.0, "idle_power_fraction": 0.5, "useful_life_months": 60,
          "residual_fraction": 0.1, "maintenance_rate": 0.12, "lead_time_months": 2,
          "max_utilization": 1.0, "decommission_usd": 0.0, "resale_fee_fraction": 0.0}


def onprem_doc(gpu_hours: float, **plan_extra):
    w = training(gpu_hours=gpu_hours, window=["2027-03", "2027-12"])
    doc = plan_doc(w, providers=(), onprem={"sites": [SITE], "servers": [SERVER]})
    doc["plan"].update(plan_extra)
    return doc


def test_lead_time_and_book_value_credit(solver):
    # one server fully used in months 2..11: ordered 2027-01, arrives 2027-03
    #   capex 100,000; energy 1.0 x 0.10 x 10 kW x (730 x 0.5 + 730 x 0.5) = 730/month;
    #   colo 100 x 10 = 1,000/month; maintenance 0.12/12 x 100,000 = 1,000/month;
    #   staff 200/month; 10 months alive;
    #   book value at the horizon's end (age 10 of 60): 100,000 - 90,000 x 10/60 = 85,000.
    res = run(onprem_doc(8 * 730 * 10), ICLOUD, solver)
    rec = res.scenario("onprem-only")
    b = rec.breakdown
    assert b["onprem_capex"] == pytest.approx(100_000.0, abs=0.01)
    assert b["energy"] == pytest.approx(7_300.0, abs=0.01)
    assert b["colo"] == pytest.approx(10_000.0, abs=0.01)
    assert b["maintenance"] == pytest.approx(10_000.0, abs=0.01)
    assert b["staff"] == pytest.approx(2_000.0, abs=0.01)
    assert b["residual_credit"] == pytest.approx(-85_000.0, abs=0.01)
    assert rec.total_usd == pytest.approx(44_300.0, abs=0.01)
    (p,) = rec.procurement
    assert (p.order_month, p.arrival_month, p.count, p.capex_usd) == ("2027-01", "2027-03", 1,
                                                                      100_000.0)


def test_a_fraction_of_a_server_is_bought_whole(solver):
    # 1.5 servers' worth of work in each of months 2..11 (8,760 GPU-hours a month): two
    # servers, ordered 2027-01. Per month: idle energy 2 x 365 + used 8,760 x 0.0625 = 1,277.5;
    # colo 2 x 1,000; maintenance 2 x 1,000; staff 2 x 200. Ten months, two capex of 100,000,
    # two book-value credits of 85,000: 200,000 + 12,775 + 20,000 + 20,000 + 4,000 - 170,000.
    for single_venue in (False, True):
        doc = onprem_doc(1.5 * 8 * 730 * 10)
        doc["workloads"][0]["single_venue"] = single_venue
        rec = run(doc, ICLOUD, solver).scenario("onprem-only")
        assert rec.total_usd == pytest.approx(86_775.0, abs=0.01)
        assert [(p.order_month, p.count) for p in rec.procurement] == [("2027-01", 2)]


def relaxation(doc, cat, scenario_name):
    """The LP relaxation's optimum: the bound the solver starts from."""
    from tco.optimizer.build import build
    from tco.optimizer.scenarios import scenarios_for
    from tco.optimizer.solver import run as solve_program
    plan = plan_from_dict(doc).plan
    scenario = next(s for s in scenarios_for(plan) if s.name == scenario_name)
    model = build(plan, cat, scenario)
    solve_program(model.prob, "highs", None, 0.0, relax=True)
    return model.prob.objective.value()


def test_relaxation_counts_whole_servers_for_single_venue_work():
    # the warm start's bound: with single_venue the relaxation must already pay for two whole
    # servers (86,775, the optimum above); without it, 1.5 servers' worth of fixed costs and
    # the used energy: 1.5 x (100,000 - 85,000 + 10 x 2,565) + 10 x 547.5 = 66,450
    for single_venue, bound in ((True, 86_775.0), (False, 66_450.0)):
        doc = onprem_doc(1.5 * 8 * 730 * 10)
        doc["workloads"][0]["single_venue"] = single_venue
        assert relaxation(doc, ICLOUD, "onprem-only") == pytest.approx(bound, abs=0.01)


def test_work_smaller_than_a_server_pays_for_a_whole_one(solver):
    # half a server's work (2,920 GPU-hours a month, months 2..11): one server, ordered
    # 2027-01: 100,000 - 85,000 + 10 x 2,565 fixed + 10 x 2,920 x 0.0625 used energy = 42,475.
    # The relaxation pays for the whole server too; without the bound on a workload's use of
    # a site (need x live servers) it would pay for half: 0.5 x 40,650 + 1,825 = 22,150.
    doc = onprem_doc(0.5 * 8 * 730 * 10)
    rec = run(doc, ICLOUD, solver).scenario("onprem-only")
    assert rec.total_usd == pytest.approx(42_475.0, abs=0.01)
    assert [(p.order_month, p.count) for p in rec.procurement] == [("2027-01", 1)]
    assert relaxation(doc, ICLOUD, "onprem-only") == pytest.approx(42_475.0, abs=0.01)


def test_demand_before_arrival_is_infeasible_on_prem(solver):
    doc = onprem_doc(8 * 730 * 10)
    doc["workloads"][0]["window"] = ["2027-01", "2027-10"]
    res = run(doc, ICLOUD, solver)
    assert not res.scenario("onprem-only").feasible


def test_existing_servers_carry_no_capex_but_keep_their_value(solver):
    # one server's work all year and one owned at age 12: it runs all 12 months (2,930 a
    # month) and is credited at its book value at age 24, 100,000 - 90,000 x 24/60 = 64,000.
    # Selling it in 2027-04 for a new one (arrived idle in 2027-03) would cost -24,775.
    doc = onprem_doc(8 * 730 * 12)
    doc["workloads"][0]["window"] = ["2027-01", "2027-12"]
    doc["onprem"]["sites"][0] = {**SITE, "existing": [{"server": "box", "count": 1,
                                                       "age_months": 12}]}
    rec = run(doc, ICLOUD, solver).scenario("onprem-only")
    b = rec.breakdown
    assert b["onprem_capex"] == 0.0 and not rec.procurement and not rec.retirements
    assert b["residual_credit"] == pytest.approx(-64_000.0, abs=0.01)
    assert b["energy"] == pytest.approx(12 * 730.0, abs=0.01)
    assert b["colo"] == pytest.approx(12_000.0, abs=0.01)
    assert rec.total_usd == pytest.approx(12 * 2_930.0 - 64_000.0, abs=0.01)


def test_retirement_at_end_of_life_credits_residual(solver):
    # life 6 months: the server ordered in 2027-01 serves 2027-03..2027-08 and retires; the
    # residual 10,000 is credited in 2027-09. A second server (ordered 2027-07) serves
    # 2027-09..2027-12, credited at book value 100,000 - 90,000 x 4/6 = 40,000.
    doc = onprem_doc(8 * 730 * 10)
    doc["onprem"]["servers"][0] = {**SERVER, "useful_life_months": 6}
    rec = run(doc, ICLOUD, solver).scenario("onprem-only")
    b = rec.breakdown
    assert b["onprem_capex"] == pytest.approx(200_000.0, abs=0.01)
    assert b["residual_credit"] == pytest.approx(-(10_000.0 + 40_000.0), abs=0.01)
    assert [(p.order_month, p.arrival_month) for p in rec.procurement] == [
        ("2027-01", "2027-03"), ("2027-07", "2027-09")]


def test_capex_budget_limits_servers(solver):
    # two servers' worth of demand, budget for one: the rest runs on cloud on-demand at
    # $4/GPU-hour: 58,400 x 4 = 233,600, plus the one server's 44,300 (as above)
    doc = onprem_doc(2 * 8 * 730 * 10, capex_budget_usd=150_000)
    doc["cloud"]["providers"] = ["aws"]
    cat = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 32.0))
    res = run(doc, cat, solver)
    rec = res.scenario("hybrid")
    assert rec.breakdown["onprem_capex"] == pytest.approx(100_000.0, abs=0.01)
    assert rec.total_usd == pytest.approx(44_300.0 + 233_600.0, abs=0.01)
    only = res.scenario("onprem-only")
    assert not only.feasible and "capex budget" in (only.reason or "")


def test_site_power_caps_servers(solver):
    doc = onprem_doc(2 * 8 * 730 * 10)
    doc["onprem"]["sites"][0] = {**SITE, "power_kw": 15.0}
    res = run(doc, ICLOUD, solver)
    only = res.scenario("onprem-only")
    assert not only.feasible
    assert "train:" in (only.reason or "") and "site power" in (only.reason or "")


# a catalog with one unrelated offer, for plans that use no cloud provider
ICLOUD = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0))


# --- data: storage, dataset transfer, egress tiers -----------------------------------------------

def test_egress_tiers_apply_to_the_provider_total(solver):
    # two services send 8 TB and 7 TB: 15,000 GB in one month at tiers [0: $0.09, 10,000: $0.05]
    #   = 10,000 x 0.09 + 5,000 x 0.05 = $1,150 (not 15,000 x either rate)
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  egress("aws", "us-east-1", (0.0, 0.09), (10_000.0, 0.05)))
    doc = plan_doc(inference("a", gpus=1, egress_tb_per_month=8),
                   inference("b", gpus=1, egress_tb_per_month=7), months=1)
    rec = run(doc, cat, solver).recommended
    assert rec.breakdown["egress"] == pytest.approx(1_150.0, abs=0.01)
    assert rec.total_usd == pytest.approx(1_150.0 + 2 * H, abs=0.01)


def test_egress_tiers_fill_in_order_when_the_volume_is_below_its_bound(solver):
    # an 8 TB dataset in us-east-1 moves to whichever of two regions runs the job (us-east-2:
    # cheaper hours, dearer storage; us-west-2 the other way round), so its egress could be up
    # to 16 TB: tiers [0: $0.09, 10,000 GB: $0.05] get a segment each. It moves once: 8,000 GB
    # all in the first tier, $720. (Were the cheap segment allowed to fill first, 2,000 x 0.09 +
    # 6,000 x 0.05 = $480.) us-east-2: 730 h x $1 + 8,000 GB x $0.02 = $890; us-west-2:
    # 730 x $1.2 + 8,000 x $0.01 = $956.
    cat = catalog(offer("aws", "us-east-2", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  offer("aws", "us-west-2", "g6.xlarge", "L4", 1, "on_demand", 1.2),
                  storage("aws", "us-east-1", (0.0, 0.02)),
                  storage("aws", "us-east-2", (0.0, 0.02)),
                  storage("aws", "us-west-2", (0.0, 0.01)),
                  egress("aws", "us-east-1", (0.0, 0.09), (10_000.0, 0.05)),
                  egress("aws", "us-east-2", (0.0, 0.09)),
                  egress("aws", "us-west-2", (0.0, 0.09)))
    w = training(gpu="L4", gpu_hours=730, window=["2027-01", "2027-01"], dataset_tb=8,
                 data_at="aws:us-east-1")
    rec = run(plan_doc(w, months=1), cat, solver).recommended
    assert rec.breakdown["egress"] == pytest.approx(720.0, abs=0.01)
    assert rec.breakdown["storage"] == pytest.approx(160.0, abs=0.01)
    assert rec.total_usd == pytest.approx(720.0 + 890.0, abs=0.01)
    assert {a.venue for a in rec.allocations} == {"aws:us-east-2"}


@pytest.mark.parametrize("tb,expected", [(9.999, 899.91), (10.0, 900.0), (10.001, 900.05)])
def test_egress_is_continuous_at_a_tier_boundary(solver, tb, expected):
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  egress("aws", "us-east-1", (0.0, 0.09), (10_000.0, 0.05)))
    rec = run(plan_doc(inference(gpus=1, egress_tb_per_month=tb), months=1), cat,
              solver).recommended
    assert rec.breakdown["egress"] == pytest.approx(expected, abs=0.01)


def test_storage_is_billed_per_venue_used(solver):
    # 2 TB stored in one region for 3 months at $0.023/GB-month = 2,000 x 0.023 x 3 = $138
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  storage("aws", "us-east-1", (0.0, 0.023)))
    rec = run(plan_doc(inference(gpus=1, storage_tb=2), months=3), cat, solver).recommended
    assert rec.breakdown["storage"] == pytest.approx(138.0, abs=0.01)


STORAGE_TIERS = ((0.0, 0.023), (50_000.0, 0.022))


def test_storage_tiers_price_one_workloads_volume_exactly(solver):
    # 60 TB at tiers [0: $0.023, 50,000 GB: $0.022] per GB-month:
    #   50,000 x 0.023 + 10,000 x 0.022 = 1,150 + 220 = $1,370 a month, 2 months = $2,740
    from tco.optimizer.build import build
    from tco.optimizer.scenarios import scenarios_for
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  storage("aws", "us-east-1", *STORAGE_TIERS))
    doc = plan_doc(inference(gpus=1, storage_tb=60), months=2)
    rec = run(doc, cat, solver).recommended
    assert rec.breakdown["storage"] == pytest.approx(2_740.0, abs=0.01)
    # the volume is all or nothing, so it is priced as a whole: no tier segments to choose
    plan = plan_from_dict(doc).plan
    assert build(plan, cat, scenarios_for(plan)[0]).tiers.groups == []


def test_storage_tiers_apply_to_the_regions_total(solver):
    # two services store 30 TB each in one region: 60 TB billed on the tiers together,
    #   $1,370 (as above), not 2 x 30,000 x 0.023 = $1,380
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  storage("aws", "us-east-1", *STORAGE_TIERS))
    doc = plan_doc(inference("a", gpus=1, storage_tb=30), inference("b", gpus=1, storage_tb=30),
                   months=1)
    rec = run(doc, cat, solver).recommended
    assert rec.breakdown["storage"] == pytest.approx(1_370.0, abs=0.01)
    assert rec.total_usd == pytest.approx(1_370.0 + 2 * H, abs=0.01)


def test_dataset_transfer_pays_source_egress_once(solver):
    # 10 TB dataset at the site, training runs on cloud: 10,000 GB x $0.01 = $100 once;
    # storage in the cloud region for the 1 month used: 10,000 x 0.02 = $200
    cat = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 8.0),
                  storage("aws", "us-east-1", (0.0, 0.02)),
                  egress("aws", "us-east-1", (0.0, 0.09)))
    w = training(gpu_hours=100, window=["2027-01", "2027-01"], dataset_tb=10, data_at="dc",
                 single_venue=True)
    doc = plan_doc(w, months=1, onprem={"sites": [SITE], "servers": [SERVER]})
    rec = run(doc, cat, solver).scenario("cloud-only")
    assert rec.breakdown["egress"] == pytest.approx(100.0, abs=0.01)
    assert rec.breakdown["storage"] == pytest.approx(200.0, abs=0.01)
    assert rec.breakdown["cloud_compute"] == pytest.approx(100.0, abs=0.01)


def test_unpriced_storage_excludes_the_venue(solver):
    # storage is only priced in us-east-2: the dearer region is used rather than a silent $0
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  offer("aws", "us-east-2", "g6.xlarge", "L4", 1, "on_demand", 2.0),
                  storage("aws", "us-east-2", (0.0, 0.02)))
    rec = run(plan_doc(inference(gpus=1, storage_tb=1), months=1), cat, solver).recommended
    assert {a.venue for a in rec.allocations} == {"aws:us-east-2"}
    assert rec.total_usd == pytest.approx(2.0 * H + 20.0, abs=0.01)


# --- money over time ---------------------------------------------------------------------------

def test_discounting(solver):
    # $730/month for 12 months at 12%/year: NPV = sum 730 x 1.12^(-m/12), total = 8,760
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0))
    doc = plan_doc(inference(gpus=1))
    doc["plan"]["discount_rate"] = 0.12
    rec = run(doc, cat, solver).recommended
    expected = sum(730.0 * 1.12 ** (-m / 12) for m in range(12))
    assert rec.total_usd == pytest.approx(8_760.0, abs=0.01)
    assert rec.npv_usd == pytest.approx(expected, abs=0.01)
    assert rec.npv_usd < rec.total_usd


def test_negotiated_discount_applies_to_on_demand_not_spot(solver):
    doc = plan_doc(training(gpu_hours=1000, interruptible=True, spot_overhead=0.0,
                            window=["2027-01", "2027-01"]), months=1,
                   cloud={"discounts": {"aws": 0.5}})
    # on demand $3 x 0.5 = $1.5/GPU-h beats spot $2: 1000 x 1.5 = $1,500
    rec = run(doc, SPOT, solver).recommended
    assert rec.total_usd == pytest.approx(1500.0, abs=0.01)


def test_growth_compounds_monthly(solver):
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0))
    w = inference(gpus=10, growth_per_month=0.1)
    rec = run(plan_doc(w, months=3, cloud={"purchase_options": ["on_demand"]}), cat,
              solver).recommended
    assert rec.total_usd == pytest.approx((10 + 11 + 12.1) * H, abs=0.01)


def test_quota_caps_concurrent_gpus(solver):
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  offer("aws", "us-east-2", "g6.xlarge", "L4", 1, "on_demand", 2.0))
    doc = plan_doc(inference(gpus=10), months=1,
                   cloud={"quotas": [{"provider": "aws", "region": "us-east-1", "gpu": "L4",
                                      "max_gpus": 4}]})
    rec = run(doc, cat, solver).recommended
    assert rec.total_usd == pytest.approx((4 * 1.0 + 6 * 2.0) * H, abs=0.01)


def test_dataset_in_another_providers_region_pays_that_egress(solver):
    # data lives in aws:us-east-1; the gcp-only plan copies 5 TB out of AWS once:
    # 5,000 GB x $0.09 = $450, plus 100 GPU-hours at $2 = $200 on GCP
    cat = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 80.0),
                  offer("gcp", "us-central1", "a3", "H100", 8, "on_demand", 16.0),
                  storage("gcp", "us-central1", (0.0, 0.02)),
                  egress("aws", "us-east-1", (0.0, 0.09)))
    w = training(gpu_hours=100, window=["2027-01", "2027-01"], dataset_tb=5,
                 data_at="aws:us-east-1")
    res = run(plan_doc(w, months=1, providers=("aws", "gcp")), cat, solver)
    gcp = res.scenario("gcp-only")
    assert gcp.breakdown["egress"] == pytest.approx(450.0, abs=0.01)
    assert gcp.breakdown["storage"] == pytest.approx(100.0, abs=0.01)
    assert gcp.total_usd == pytest.approx(450.0 + 100.0 + 200.0, abs=0.01)
