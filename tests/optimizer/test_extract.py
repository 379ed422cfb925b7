"""The report's record of traffic served (``extract._traffic``): which venue served which share
of a service's demand, and the internet egress that sends, worked out by hand."""

from __future__ import annotations

import pytest

from tco.optimizer import plan_from_dict, solve
from tests.conftest import catalog, egress, offer, plan_doc
from tests.reprice import assert_repriced

H = 730.0
TIERS = ((0.0, 0.09), (5_000.0, 0.05))
LAT = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
              offer("aws", "eu-west-1", "g6.xlarge", "L4", 1, "on_demand", 2.0),
              egress("aws", "us-east-1", *TIERS), egress("aws", "eu-west-1", *TIERS))


def test_traffic_is_split_by_metro_share_and_priced_on_the_providers_total(solver):
    # 10 L4s growing 10% a month, 40% of the users in London and 60% in New York, 20 ms:
    # Europe must serve 40% of the demand and Virginia 60%. 10 TB of egress in the first
    # month, 11 TB in the second, sent in the same shares:
    #   2027-01: 7,300 GPU-hours: 2,920 in eu-west-1 (4,000 GB), 4,380 in us-east-1 (6,000 GB)
    #   2027-02: 8,030 GPU-hours: 3,212 (4,400 GB) and 4,818 (6,600 GB)
    # egress on the tiers of AWS's total each month:
    #   10,000 GB: 5,000 x 0.09 + 5,000 x 0.05 = 700; 11,000 GB: 450 + 6,000 x 0.05 = 750
    # hours: (4 x $2 + 6 x $1) x 730 = 10,220, then x 1.1 = 11,242
    doc = plan_doc({"name": "svc", "kind": "inference", "gpu": "L4", "gpus": 10.0,
                    "growth_per_month": 0.1, "users": {"eu-west": 0.4, "us-east": 0.6},
                    "max_latency_ms": 20, "egress_tb_per_month": 10}, months=2)
    loaded = plan_from_dict(doc)
    res = solve(loaded, LAT, solver=solver)
    rec = res.recommended
    assert_repriced(loaded.plan, LAT, rec, tolerance=0.01)
    got = [(t.scenario, t.workload, t.month, t.venue) for t in rec.traffic]
    assert got == [(rec.name, "svc", "2027-01", "aws:eu-west-1"),
                   (rec.name, "svc", "2027-01", "aws:us-east-1"),
                   (rec.name, "svc", "2027-02", "aws:eu-west-1"),
                   (rec.name, "svc", "2027-02", "aws:us-east-1")]
    assert [t.served_gpu_hours for t in rec.traffic] == pytest.approx(
        [2_920.0, 4_380.0, 3_212.0, 4_818.0], rel=1e-9)
    assert [t.egress_gb for t in rec.traffic] == pytest.approx(
        [4_000.0, 6_000.0, 4_400.0, 6_600.0], rel=1e-9)
    assert rec.breakdown["egress"] == pytest.approx(1_450.0, abs=1e-6 * 1_450.0)
    assert rec.total_usd == pytest.approx(1_450.0 + 10_220.0 + 11_242.0, abs=1e-6 * 22_912.0)
    doc_ = res.to_dict()
    rows = [t for t in doc_["traffic"] if t["scenario"] == rec.name]
    assert rows[0] == {"scenario": rec.name, "workload": "svc", "month": "2027-01",
                       "venue": "aws:eu-west-1", "served_gpu_hours": 2_920.0,
                       "egress_gb": 4_000.0}
    assert list(doc_)[list(doc_).index("allocations") + 1] == "traffic"


def test_no_traffic_is_recorded_for_a_workload_without_egress(solver):
    doc = plan_doc({"name": "svc", "kind": "inference", "gpu": "L4", "gpus": 1.0,
                    "growth_per_month": 0.0}, months=1)
    res = solve(plan_from_dict(doc), LAT, solver=solver)
    assert all(s.traffic == () for s in res.scenarios)
    assert res.to_dict()["traffic"] == []
