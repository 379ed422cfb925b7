"""Sensitivity, break-even and risk on a plan small enough to work out by hand: one year of
one server's work (8 H100 GPUs, all hours of every month), on one owned server bought now or
on the cloud at $1 a GPU-hour.

The server: $100,000, 10 kW, idle at half power, a 60-month life, no lead time, every hour
usable; a site at PUE 1.0, $0.10/kWh, colo $100/kW-month, maintenance 12%/year, staff $200.
Discount rate 0. So a month of full use costs:
- energy 0.10 x 10 x 730 = 730 (365 idle, 365 for the hours used); colo 1,000;
  maintenance 1,000; staff 200: 2,930;
and a year 35,160, plus 100,000 paid less 82,000 credited for the server at age 12
(straight line to 10% over 60 months): 53,160 on-prem. The cloud: 8 x 730 x 12 x $1 = 70,080.

Per month, the server costs 1,500 of value + 2,930 = 4,430 against the cloud's 5,840; both are
linear in the months, so the plan is all one or all the other, and it flips where they meet:
- cloud price multiplier 4,430 / 5,840 = 0.758562...;
- electricity: 3,700 + 7,300 x e = 5,840, e = $0.293151.../kWh (x 2.93151 the plan's).
"""

from __future__ import annotations

import math

import pytest

from tco.analysis import breakeven, risk, sensitivity
from tco.analysis.montecarlo import percentile
from tco.analysis.sampling import sample
from tco.optimizer import plan_from_dict
from tests.conftest import catalog, offer, plan_doc

FULL = 8 * 730.0
SITE = {"name": "dc", "location": "us-east", "pue": 1.0, "electricity_usd_per_kwh": 0.10,
        "colo_usd_per_kw_month": 100.0, "staff_usd_per_server_month": 200.0,
        "storage_usd_per_tb_month": 5.0, "egress_usd_per_gb": 0.0, "availability": 0.999}
SERVER = {"name": "box", "gpu": "H100", "gpus": 8, "price_usd": 100_000.0, "network_usd": 0.0,
          "power_kw": 10.0, "idle_power_fraction": 0.5, "useful_life_months": 60,
          "residual_fraction": 0.1, "maintenance_rate": 0.12, "lead_time_months": 0,
          "max_utilization": 1.0, "decommission_usd": 2_000.0, "resale_fee_fraction": 0.0}
CLOUD = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 8.0))   # $1/GPU-hour

ONPREM = 53_160.0
CLOUD_NPV = 70_080.0
ENERGY = 8_760.0                          # a year's electricity at the plan's price
CLOUD_FLIP = 4_430.0 / 5_840.0
ELECTRICITY_FLIP = (5_840.0 - 3_700.0) / 7_300.0


def plan(uncertainty=None):
    doc = plan_doc({"name": "train", "kind": "training", "gpu": "H100", "gpu_hours": 12 * FULL},
                   onprem={"sites": [SITE], "servers": [SERVER]})
    if uncertainty:
        doc["uncertainty"] = uncertainty
    return plan_from_dict(doc)


def servers(outcome_or_point):
    return dict(outcome_or_point["servers"])


def test_the_base_plan_buys_the_server():
    res = sensitivity(plan(), CLOUD, ["electricity"])
    assert res.base.npv_usd == pytest.approx(ONPREM, abs=0.01)
    assert res.base.recommended == "hybrid"
    assert res.base.signature[1] == (("box", 1),)


def test_each_sensitivity_row_by_hand():
    res = sensitivity(plan(), CLOUD, ["cloud_prices", "electricity", "server_prices", "demand",
                                      "utilization"], swing=0.2)
    rows = {r.param: r for r in res.parameters}
    expected = {
        # cloud at 0.8: 56,064, still dearer than the server; at 1.2 dearer still
        "cloud_prices": (ONPREM, ONPREM),
        # a year's electricity 8,760 x 0.8 and x 1.2
        "electricity": (ONPREM - 0.2 * ENERGY, ONPREM + 0.2 * ENERGY),
        # price 80,000: worth 65,600 at age 12, maintenance 800 a month:
        # 14,400 + 12 x (730 + 1,000 + 800 + 200) = 47,160; at 120,000: 21,600 + 37,560
        "server_prices": (47_160.0, 59_160.0),
        # 0.8 of the hours: 12 x (365 + 0.8 x 365 + 2,200) + 18,000 = 52,284; 1.2: the server
        # full and 0.2 x 5,840 GPU-hours a month on the cloud: 53,160 + 14,016
        "demand": (52_284.0, 67_176.0),
        # the server delivers 0.8 of its hours, the cloud the rest: 12 x (365 + 292 + 2,200)
        # + 18,000 + 12 x 1,168 = 66,300; at 1.2 utilization is capped at 1: the base plan
        "utilization": (66_300.0, ONPREM),
    }
    assert set(rows) == set(expected)
    for name, (low, high) in expected.items():
        r = rows[name]
        assert (r.low, r.high) == pytest.approx((0.8, 1.2)), name
        assert r.npv_low_usd == pytest.approx(low, abs=0.01), name
        assert r.npv_high_usd == pytest.approx(high, abs=0.01), name
        # the server is the right buy throughout: holding it costs nothing more
        assert r.committed_npv_low_usd == pytest.approx(low, abs=0.01), name
        assert r.committed_npv_high_usd == pytest.approx(high, abs=0.01), name
        assert not r.decision_changes_low and not r.decision_changes_high, name
    # a tornado: widest swing first
    assert [r.param for r in res.parameters] == ["demand", "utilization", "server_prices",
                                                 "electricity", "cloud_prices"]


def test_a_swing_that_flips_the_decision_shows_the_regret_of_holding_it():
    # cloud at half price: 35,040 a year, cheaper than the server; the server already bought
    # still does the work for only its electricity, so holding it costs the on-prem 53,160
    res = sensitivity(plan(), CLOUD, ["cloud_prices"], swing=0.5)
    (row,) = res.parameters
    assert row.npv_low_usd == pytest.approx(0.5 * CLOUD_NPV, abs=0.01)
    assert row.decision_changes_low and row.recommended_low in ("hybrid", "cloud-only")
    assert row.committed_npv_low_usd == pytest.approx(ONPREM, abs=0.01)
    assert row.regret_low_usd == pytest.approx(ONPREM - 0.5 * CLOUD_NPV, abs=0.01)
    assert row.npv_high_usd == pytest.approx(ONPREM, abs=0.01)
    assert not row.decision_changes_high and row.regret_high_usd == pytest.approx(0, abs=0.01)
    doc = res.to_dict()
    assert doc["base"] == {"npv_usd": ONPREM, "recommended": "hybrid", "gap_usd": 0.0,
                           "proven": True, "unproven": False}
    assert doc["parameters"][0]["committed_npv_low_usd"] == ONPREM


def _check_flip(res, at, before_servers, after_servers):
    (flip,) = res.flips
    width = res.high - res.low
    assert abs(flip.value - at) <= 0.001 * width
    assert flip.before.value <= at <= flip.after.value
    assert flip.after.value - flip.before.value <= 0.001 * width
    doc = flip.to_dict()
    assert doc["before"]["servers"] == before_servers
    assert doc["after"]["servers"] == after_servers


def test_breakeven_cloud_price_multiplier():
    res = breakeven(plan(), CLOUD, "cloud_prices", 0.5, 1.5)
    _check_flip(res, CLOUD_FLIP, {}, {"box": 1})
    (flip,) = res.flips
    # below the flip the cloud's NPV, above it the server's
    assert flip.before.outcome.npv_usd == pytest.approx(flip.before.value * CLOUD_NPV, abs=0.01)
    assert flip.after.outcome.npv_usd == pytest.approx(ONPREM, abs=0.01)
    for point in res.curve:
        assert point.outcome.npv_usd == pytest.approx(min(ONPREM, point.value * CLOUD_NPV),
                                                      abs=0.01)


def test_breakeven_electricity_price_by_key_path():
    res = breakeven(plan(), CLOUD, "onprem.sites[0].electricity_usd_per_kwh", 0.1, 0.5)
    _check_flip(res, ELECTRICITY_FLIP, {"box": 1}, {})
    for point in res.curve:
        onprem = ONPREM + 87_600.0 * (point.value - 0.10)
        assert point.outcome.npv_usd == pytest.approx(min(onprem, CLOUD_NPV), abs=0.01)


def test_breakeven_electricity_multiplier():
    res = breakeven(plan(), CLOUD, "electricity", 1.0, 5.0, points=5)
    _check_flip(res, ELECTRICITY_FLIP / 0.10, {"box": 1}, {})


def test_breakeven_with_no_flip_in_range():
    res = breakeven(plan(), CLOUD, "electricity", 0.5, 2.0, points=4)
    assert res.flips == ()
    doc = res.to_dict()
    assert doc["flips"] == []
    assert [p["value"] for p in doc["curve"]] == [0.5, 1.0, 1.5, 2.0]
    for p in doc["curve"]:
        assert p["npv_usd"] == pytest.approx(ONPREM + ENERGY * (p["value"] - 1), abs=0.01)
        assert p["recommended"] == "hybrid"


UNIFORM = {"cloud_prices": {"dist": "uniform", "low": 0.5, "high": 1.5},
           "electricity": {"dist": "uniform", "low": 0.5, "high": 2.5}}


def test_risk_by_hand_under_uniform_prices():
    # the candidates: the server (hybrid, same as onprem-only) and the cloud (cloud-only, same
    # as aws-only). Held, the server costs 53,160 + 8,760 x (e - 1) whatever the cloud costs
    # (it does the work for its electricity); the cloud 70,080 x c.
    n, seed = 60, 7
    p = plan(UNIFORM)
    res = risk(p, CLOUD, samples=n, seed=seed)
    by = {c.scenario: c for c in res.candidates}
    assert set(by) == {"hybrid", "cloud-only"}
    assert by["hybrid"].same_as == ("onprem-only",)
    assert by["cloud-only"].same_as == ("aws-only",)

    draws = [sample(p.plan.uncertainty, seed, i) for i in range(n)]
    server = [ONPREM + ENERGY * (d["electricity"] - 1) for d in draws]
    cloud = [CLOUD_NPV * d["cloud_prices"] for d in draws]
    for name, column in (("hybrid", server), ("cloud-only", cloud)):
        s = by[name]
        ordered = sorted(column)
        assert s.mean_usd == pytest.approx(sum(column) / n, abs=0.01), name
        # nearest rank: the 54th of 60 for P90, the 6th for P10, the 30th for P50
        assert s.p90_usd == pytest.approx(ordered[53], abs=0.01), name
        assert s.p10_usd == pytest.approx(ordered[5], abs=0.01), name
        assert s.p50_usd == pytest.approx(ordered[29], abs=0.01), name
        assert s.cvar90_usd == pytest.approx(sum(ordered[54:]) / 6, abs=0.01), name
        assert s.p_infeasible == 0
    cheaper_cloud = sum(1 for a, b in zip(server, cloud, strict=True) if b < a)
    assert 0 < cheaper_cloud < n          # the seed gives both outcomes
    assert by["cloud-only"].p_cheapest == pytest.approx(cheaper_cloud / n)
    assert by["hybrid"].p_cheapest == pytest.approx(1 - cheaper_cloud / n)
    assert res.recommended == min(by, key=lambda k: by[k].mean_usd)
    doc = res.to_dict()
    assert doc["samples"] == n and doc["seed"] == seed and doc["criterion"] == "mean"


def test_the_draws_are_the_distributions():
    # 4,000 draws of each distribution: moments within a few standard errors
    from tco.optimizer.planfile import Spread

    spreads = {"a": Spread(dist="uniform", low=0.5, high=1.5),
               "b": Spread(dist="triangular", low=0.7, mode=1.0, high=1.1),
               "c": Spread(dist="normal", mean=0.0, sd=0.1, low=-0.1, high=0.3),
               "d": Spread(dist="lognormal", median=1.0, sigma=0.25),
               "e": Spread(dist="choice", values=[1.0, 2.0], weights=[3.0, 1.0])}
    draws = [sample(spreads, 11, i) for i in range(4000)]

    def mean(key):
        return sum(d[key] for d in draws) / len(draws)
    assert mean("a") == pytest.approx(1.0, abs=0.015)
    assert mean("b") == pytest.approx((0.7 + 1.0 + 1.1) / 3, abs=0.01)
    assert all(-0.1 <= d["c"] <= 0.3 for d in draws)
    assert min(d["a"] for d in draws) >= 0.5 and max(d["a"] for d in draws) <= 1.5
    logs = sorted(math.log(d["d"]) for d in draws)
    assert logs[len(logs) // 2] == pytest.approx(0.0, abs=0.02)
    assert {d["e"] for d in draws} == {1.0, 2.0}
    assert mean("e") == pytest.approx(1.25, abs=0.03)
    # the same seed and index, the same draw; another index, another
    assert sample(spreads, 11, 5) == draws[5]
    assert sample(spreads, 11, 6) != draws[5]


def test_criterion_picks_by_the_tail():
    # cloud prices spread wide around a mean below the server's: the cloud wins on the mean,
    # the server on P90 and CVaR (it does not depend on the cloud's price)
    p = plan({"cloud_prices": {"dist": "choice", "values": [0.3, 1.0], "weights": [3, 1]}})
    by_mean = risk(p, CLOUD, samples=40, seed=3)
    by_p90 = risk(p, CLOUD, samples=40, seed=3, criterion="p90")
    by_cvar = risk(p, CLOUD, samples=40, seed=3, criterion="cvar")
    cloud = next(c for c in by_mean.candidates if c.scenario == "cloud-only")
    share_high = sum(1 for i in range(40) if sample(p.plan.uncertainty, 3, i)["cloud_prices"]
                     == 1.0) / 40
    assert cloud.mean_usd == pytest.approx(CLOUD_NPV * (0.3 + 0.7 * share_high), abs=0.01)
    assert cloud.mean_usd < ONPREM
    assert by_mean.recommended == "cloud-only"
    assert by_p90.recommended == "hybrid" and by_cvar.recommended == "hybrid"
    assert cloud.cvar90_usd == pytest.approx(CLOUD_NPV, abs=0.01)


def test_percentile_is_nearest_rank():
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.9) == 5.0
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([1.0, math.inf], 0.5) == 1.0
    assert percentile([1.0, math.inf], 0.9) == math.inf


def test_risk_counts_the_futures_a_plan_cannot_serve():
    # no cloud offers this GPU: only the server, which cannot do more than its year of work;
    # with demand uniform on [0.5, 1.5] it fails in the samples above 1, and otherwise costs
    # 53,160 less the energy of the hours not used: 4,380 x (1 - x)
    n, seed = 50, 2
    p = plan({"demand": {"dist": "uniform", "low": 0.5, "high": 1.5}})
    res = risk(p, catalog(offer("aws", "us-east-1", "g6", "L4", 1, "on_demand", 1.0)),
               samples=n, seed=seed)
    (only,) = res.candidates
    assert only.scenario == "hybrid" and only.same_as == ("onprem-only",)
    xs = [sample(p.plan.uncertainty, seed, i)["demand"] for i in range(n)]
    over = sum(1 for x in xs if x > 1)
    assert 0.1 < over / n < 0.9
    assert only.p_infeasible == pytest.approx(over / n)
    assert only.mean_usd is None and only.p90_usd is None and only.cvar90_usd is None
    # infeasible counts as infinitely expensive: P10 is the 5th cheapest of 50
    costs = sorted(ONPREM - 4_380.0 * (1 - x) if x <= 1 else math.inf for x in xs)
    assert only.p10_usd == pytest.approx(costs[4], abs=0.01)
    # cheapest where it is feasible, and in no sample where it cannot serve (SPEC 16: a sample
    # where no candidate is feasible counts for none)
    assert only.p_cheapest == pytest.approx(1 - over / n)
    assert only.p_cheapest <= 1 - only.p_infeasible + 1e-12
    assert res.samples_solved == n and res.samples_failed == 0
    assert res.recommended is None


def test_cvar_is_the_exact_mean_of_the_worst_tenth():
    # SPEC 16: sorted from the worst, k = floor(n/10) whole and the next with weight
    # n/10 - k, over n/10. Twelve values 1..12: the worst 1.2 of them are 12 and a fifth of
    # 11, so (12 + 0.2 x 11) / 1.2 = 11.8333...
    from tco.analysis.montecarlo import cvar90

    assert cvar90([float(x) for x in range(1, 13)]) == pytest.approx((12 + 0.2 * 11) / 1.2,
                                                                     rel=1e-12)
    # 25 values 1..25: 2.5 of them, (25 + 24 + half of 23) / 2.5 = 60.5 / 2.5 = 24.2
    assert cvar90([float(x) for x in range(1, 26)]) == pytest.approx(24.2, rel=1e-12)
    # fewer than ten: the worst value alone (n/10 of it, over n/10)
    assert cvar90([3.0, 9.0, 1.0]) == 9.0
    # ten: the worst one whole; thirty: the worst three whole and nothing of the fourth
    # (0.1 x 30 is 3.0000000000000004 in floating point)
    assert cvar90([float(x) for x in range(10)]) == 9.0
    assert cvar90([30.0, 20.0, 10.0] + [1.0] * 27) == pytest.approx(20.0, rel=1e-12)
    # an infeasible sample in the tail makes the tail infinitely expensive
    assert cvar90([math.inf] + [1.0] * 29) == math.inf


def test_ties_within_the_gaps_count_for_each_candidate():
    # SPEC 16: a candidate is cheapest in a sample when it is feasible and no feasible
    # candidate is cheaper by more than the two NPVs' gaps
    from tco.analysis.montecarlo import cheapest_counts
    from tco.optimizer.gaps import Npv

    rows = [
        # 100 vs 101 with gaps 1 + 1: a tie, both count
        [Npv(100.0, 1.0), Npv(101.0, 1.0), Npv(150.0, 0.0)],
        # 100 vs 103 with gaps 1 + 1: the first alone
        [Npv(100.0, 1.0), Npv(103.0, 1.0), None],
        # the second is cheaper beyond the gaps; the third cannot serve
        [Npv(200.0, 0.0), Npv(150.0, 0.0), None],
        # an unknown gap cannot tell the two apart: both count
        [Npv(100.0, None), Npv(120.0, 0.0), None],
        # nobody can serve: nobody counts
        [None, None, None],
    ]
    assert cheapest_counts(rows) == [3, 3, 0]


def test_p_cheapest_never_exceeds_the_share_of_samples_a_candidate_can_serve():
    # twelve samples, demand uniform on [0.5, 1.5]: the server alone fails above 1; every
    # statistic over the samples, CVaR counting the tail in twelfths
    n, seed = 12, 5
    p = plan({"demand": {"dist": "uniform", "low": 0.5, "high": 1.5}})
    res = risk(p, catalog(offer("aws", "us-east-1", "g6", "L4", 1, "on_demand", 1.0)),
               samples=n, seed=seed)
    (only,) = res.candidates
    assert only.p_cheapest <= 1 - only.p_infeasible + 1e-12
    assert only.p_cheapest + only.p_infeasible == pytest.approx(1.0)
    doc = res.to_dict()
    assert doc["samples_solved"] == n and doc["samples_failed"] == 0
    assert len(doc["samples_drawn"]) == n
    for row, x in zip(doc["samples_drawn"], range(n), strict=True):
        assert row["sample"] == x
        assert row["levers"] == sample(p.plan.uncertainty, seed, x)
        demand = row["levers"]["demand"]
        npv = row["npv_usd"]["hybrid"]
        if demand > 1:
            assert npv is None
        else:
            assert npv == pytest.approx(ONPREM - 4_380.0 * (1 - demand), abs=0.01)
