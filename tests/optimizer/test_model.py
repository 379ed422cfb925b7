"""Demand and internet egress by month (``model.monthly_demand``, ``model.monthly_egress_gb``),
worked out by hand, and what a growing service's egress costs once solved."""

from __future__ import annotations

import pytest

from tco.optimizer import plan_from_dict, solve
from tco.optimizer.model import monthly_demand, monthly_egress_gb
from tests.conftest import catalog, egress, offer, plan_doc
from tests.reprice import assert_repriced

H = 730.0


def service(**kw):
    return {"name": "svc", "kind": "inference", "gpu": "L4", "gpus": 2.0, **kw}


def test_egress_grows_like_the_demand_from_the_windows_first_month():
    # 3 TB in the window's first month (2027-02), 10% more each month after it; nothing
    # before the window or after it:
    #   2027-01: 0; 2027-02: 3,000; 2027-03: 3,000 x 1.1 = 3,300; 2027-04: 3,000 x 1.21 = 3,630
    # and the GPU-hours alike: 2 x 730 = 1,460, 1,606, 1,766.6
    doc = plan_doc(service(growth_per_month=0.1, egress_tb_per_month=3,
                           window=["2027-02", "2027-04"]), months=5)
    plan = plan_from_dict(doc).plan
    (w,) = plan.workloads
    assert monthly_egress_gb(plan, w) == pytest.approx([0.0, 3_000.0, 3_300.0, 3_630.0, 0.0],
                                                       rel=1e-12)
    assert monthly_demand(plan, w) == pytest.approx([0.0, 1_460.0, 1_606.0, 1_766.6, 0.0],
                                                    rel=1e-12)


def test_a_shrinking_service_sends_less_each_month():
    # growth -20%: 5,000 GB, then 4,000, then 3,200
    plan = plan_from_dict(plan_doc(service(growth_per_month=-0.2, egress_tb_per_month=5),
                                   months=3)).plan
    (w,) = plan.workloads
    assert monthly_egress_gb(plan, w) == pytest.approx([5_000.0, 4_000.0, 3_200.0], rel=1e-12)


def test_a_growing_services_egress_priced_on_the_tiers_each_month(solver):
    # 2 L4s on demand at $1 an hour, growing 10% a month for three months, discounted at
    # 12% a year; 2 TB of egress in the first month on tiers [0: $0.09, 2,100 GB: $0.05]:
    #   month 0: 2,000 GB          = 2,000 x 0.09                 = 180
    #   month 1: 2,200 GB          = 2,100 x 0.09 + 100 x 0.05    = 194
    #   month 2: 2,420 GB          = 2,100 x 0.09 + 320 x 0.05    = 205
    # (one month early, 2,200 / 2,420 / 2,662 GB: 194 + 205 + 217.10 = 616.10, not 579)
    #   hours: 1,460 + 1,606 + 1,766.6 = 4,832.6 at $1
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  egress("aws", "us-east-1", (0.0, 0.09), (2_100.0, 0.05)))
    doc = plan_doc(service(growth_per_month=0.1, egress_tb_per_month=2), months=3)
    doc["plan"]["discount_rate"] = 0.12
    loaded = plan_from_dict(doc)
    res = solve(loaded, cat, solver=solver)
    rec = res.recommended
    assert_repriced(loaded.plan, cat, rec, tolerance=0.01)
    assert rec.breakdown["egress"] == pytest.approx(579.0, abs=1e-6 * 579.0)
    assert rec.breakdown["cloud_compute"] == pytest.approx(4_832.6, abs=1e-6 * 4_832.6)

    def f(m):
        return 1.12 ** (-m / 12)
    npv = (180 + 1_460) * f(0) + (194 + 1_606) * f(1) + (205 + 1_766.6) * f(2)
    assert rec.npv_usd == pytest.approx(npv, abs=1e-6 * npv)
    # the traffic record: every GPU-hour served in the one region, and its egress
    assert [(t.month, t.venue) for t in rec.traffic] == [
        ("2027-01", "aws:us-east-1"), ("2027-02", "aws:us-east-1"), ("2027-03", "aws:us-east-1")]
    assert [t.served_gpu_hours for t in rec.traffic] == pytest.approx(
        [1_460.0, 1_606.0, 1_766.6], rel=1e-9)
    assert [t.egress_gb for t in rec.traffic] == pytest.approx([2_000.0, 2_200.0, 2_420.0],
                                                               rel=1e-9)


def test_a_recurring_run_sends_egress_only_in_the_months_it_runs():
    # a training run every 2 months in a 4-month window, 1 TB of egress in a month it runs:
    # 2027-01 and 2027-03 only (before, every month of the window was counted, and only the
    # months with a run were billed)
    w = {"name": "tune", "kind": "training", "gpu": "H100", "gpu_hours": 100.0,
         "every_months": 2, "egress_tb_per_month": 1.0}
    plan = plan_from_dict(plan_doc(w, months=4)).plan
    (wl,) = plan.workloads
    assert monthly_demand(plan, wl) == pytest.approx([100.0, 0.0, 100.0, 0.0])
    assert monthly_egress_gb(plan, wl) == pytest.approx([1_000.0, 0.0, 1_000.0, 0.0])
