"""Savings plans and capacity blocks (SPEC 18, "More ways to buy"), on small plans with
hand-computed costs asserted to the cent. A month is 730 hours, a day 24; the discount rate is
0, so the NPV is the sum of the cash flows."""

from __future__ import annotations

import pytest

from tco.optimizer import plan_from_dict, solve
from tests.conftest import catalog, offer, plan_doc
from tests.reprice import assert_repriced

H = 730.0


def run(doc, cat, solver):
    return solve(plan_from_dict(doc), cat, solver=solver)


def service(gpus=1.0, gpu="L4"):
    return {"name": "svc", "kind": "inference", "gpu": gpu, "gpus": gpus,
            "growth_per_month": 0.0}


def job(gpu_hours, window=("2027-01", "2027-01")):
    return {"name": "job", "kind": "training", "gpu": "H100", "gpu_hours": gpu_hours,
            "window": list(window)}


SAVINGS = catalog(
    offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 10.0),
    offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "savings_plan_1y", 7.0),
)


def test_a_steady_service_commits_to_a_savings_plan(solver):
    # one instance for 12 months under a 1-year savings plan at $7/h: 7 x 730 x 12 = 61,320
    res = run(plan_doc(service(1)), SAVINGS, solver)
    rec = res.recommended
    assert rec.npv_usd == pytest.approx(61_320.0, abs=0.01)
    assert rec.breakdown["cloud_reserved"] == pytest.approx(61_320.0, abs=0.01)
    (c,) = rec.commitments
    assert (c.purchase, c.count, c.start_month, c.end_month) == ("savings_plan_1y", 1,
                                                                 "2027-01", "2027-12")
    assert c.usd_per_month == pytest.approx(7.0 * H)
    assert_repriced(plan_from_dict(plan_doc(service(1))).plan, SAVINGS, rec)


def test_a_savings_plan_is_paid_used_or_not(solver):
    # half an instance: committing a whole one costs 61,320 > 0.5 x 10 x 730 x 12 = 43,800 on
    # demand, so nothing is committed; with the plan not allowed at all the answer is the same
    res = run(plan_doc(service(0.5)), SAVINGS, solver)
    assert res.recommended.npv_usd == pytest.approx(43_800.0, abs=0.01)
    assert res.recommended.commitments == ()


def test_a_savings_plan_is_not_used_where_the_plan_does_not_allow_it(solver):
    doc = plan_doc(service(1), cloud={"purchase_options": ["on_demand"]})
    assert run(doc, SAVINGS, solver).recommended.npv_usd == pytest.approx(87_600.0, abs=0.01)


BLOCKS = catalog(
    # an 8-GPU instance: $40 an hour on demand ($5 a GPU-hour), $30 in a capacity block
    offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "on_demand", 40.0),
    offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "capacity_block", 30.0),
)


def test_a_training_job_books_whole_days_and_tops_up_on_demand(solver):
    # 1,000 GPU-hours in January. A day of a block holds 8 x 24 = 192 GPU-hours for 720:
    # 5 days hold 960 (3,600), the other 40 GPU-hours run on demand at $5 (200): 3,800.
    # A sixth day instead would cost 4,320; all on demand 5,000.
    res = run(plan_doc(job(1000)), BLOCKS, solver)
    rec = res.recommended
    assert rec.npv_usd == pytest.approx(3_800.0, abs=0.01)
    assert rec.breakdown["cloud_reserved"] == pytest.approx(3_600.0, abs=0.01)
    assert rec.breakdown["cloud_compute"] == pytest.approx(200.0, abs=0.01)
    (c,) = rec.commitments
    assert (c.purchase, c.count, c.start_month, c.end_month) == ("capacity_block", 5,
                                                                 "2027-01", "2027-01")
    hours = {a.purchase: a.gpu_hours for a in rec.allocations}
    assert hours == pytest.approx({"capacity_block": 960.0, "on_demand": 40.0})
    assert_repriced(plan_from_dict(plan_doc(job(1000))).plan, BLOCKS, rec)


def test_a_block_is_booked_in_the_months_of_the_window_only(solver):
    # 2,000 GPU-hours over February and March, 1,000 a month: 5 days and 40 hours on demand in
    # each, 2 x 3,800; nothing in the other months
    res = run(plan_doc(job(2000, ("2027-02", "2027-03"))), BLOCKS, solver)
    rec = res.recommended
    assert rec.npv_usd == pytest.approx(7_600.0, abs=0.01)
    assert sorted((c.start_month, c.count) for c in rec.commitments) == [("2027-02", 5),
                                                                         ("2027-03", 5)]


def test_a_service_cannot_run_on_capacity_blocks(solver):
    # an inference service runs every day of the month: on demand only, 8 GPUs x 5 x 730 x 12
    res = run(plan_doc(service(8, "H100")), BLOCKS, solver)
    rec = res.recommended
    assert rec.npv_usd == pytest.approx(8 * 5.0 * H * 12, abs=0.01)
    assert rec.commitments == ()


SPOT_BLOCKS = catalog(
    offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "on_demand", 40.0),
    # $30 an hour for 8 GPUs in a block: $3.75 a GPU-hour; spot $3 a GPU-hour
    offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "capacity_block", 30.0),
    offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "spot", 24.0),
)


def spot_job(overhead, **more):
    return {**job(1000), "interruptible": True, "spot_overhead": overhead, **more}


def _block_pools(doc, lean):
    from tco.optimizer.build import prepare
    from tco.optimizer.scenarios import scenarios_for

    plan = plan_from_dict(doc).plan
    cloud = next(s for s in scenarios_for(plan) if s.name == "cloud-only")
    model = prepare(plan, SPOT_BLOCKS, cloud, lean=lean)
    return {p for p in model.offers["job"].reserved_pools if p[2].value == "capacity_block"}


def test_spot_that_beats_every_block_leaves_the_blocks_out_of_the_program(solver):
    # spot delivers a GPU-hour for 3 x 1.2 = $3.60, a block books one for $3.75: every
    # block-hour is served by spot for less. All on spot: 1,000 x 1.2 x 3 = 3,600; five days
    # of blocks and the rest on spot would cost 3,600 + 40 x 3.6 = 3,744
    doc = plan_doc(spot_job(0.2))
    assert _block_pools(doc, lean=False) and not _block_pools(doc, lean=True)
    rec = run(doc, SPOT_BLOCKS, solver).recommended
    assert rec.npv_usd == pytest.approx(3_600.0, abs=0.01)
    assert rec.commitments == ()


def test_blocks_stay_where_spot_costs_more_per_gpu_hour_delivered(solver):
    # with 30% overhead spot delivers a GPU-hour for $3.90, more than a block's $3.75: five
    # days of blocks (3,600) and 40 GPU-hours on spot (40 x 1.3 x 3 = 156) make 3,756, less
    # than all on spot (3,900) or six days (4,320)
    doc = plan_doc(spot_job(0.3))
    assert _block_pools(doc, lean=True)
    rec = run(doc, SPOT_BLOCKS, solver).recommended
    assert rec.npv_usd == pytest.approx(3_756.0, abs=0.01)
    (c,) = rec.commitments
    assert (c.purchase, c.count) == ("capacity_block", 5)


def test_blocks_stay_for_an_availability_target_a_quota_or_held_decisions(solver):
    # spot counts towards no availability target, and a quota counts the blocks' GPUs
    target = plan_doc(spot_job(0.2, availability=0.999))
    quota = plan_doc(spot_job(0.2), cloud={"quotas": [{"provider": "aws", "region": "us-east-1",
                                                       "gpu": "H100", "max_gpus": 64}]})
    for doc in (target, quota):
        assert _block_pools(doc, lean=True)
    # five days booked where spot cost more, held where it costs less: paid all the same,
    # 3,600, and the 40 GPU-hours left run on spot at $3.60: 3,744
    from tco.optimizer.scenarios import committed_npv, scenarios_for

    booked = run(plan_doc(spot_job(0.3)), SPOT_BLOCKS, solver).recommended
    plan = plan_from_dict(plan_doc(spot_job(0.2))).plan
    cloud = next(s for s in scenarios_for(plan) if s.name == booked.name)
    held = committed_npv(plan, SPOT_BLOCKS, cloud, booked.decisions, solver)
    assert held is not None and held.usd == pytest.approx(3_744.0, abs=0.01)


def test_a_held_build_leaves_out_the_pools_the_decisions_take_nothing_from(solver):
    # the decisions book no block: the block pool has no capacity and is not built, and the
    # job runs on spot, 1,000 x 1.3 x 3 = 3,900; decisions that book five days keep it (3,756)
    from tco.optimizer.build import prepare
    from tco.optimizer.result import Decisions
    from tco.optimizer.scenarios import committed_npv, scenarios_for

    booked = run(plan_doc(spot_job(0.3)), SPOT_BLOCKS, solver).recommended
    plan = plan_from_dict(plan_doc(spot_job(0.3))).plan
    cloud = next(s for s in scenarios_for(plan) if s.name == booked.name)

    def pools(held):
        model = prepare(plan, SPOT_BLOCKS, cloud, held=held)
        return {p[2].value for p in model.offers["job"].reserved_pools}
    assert pools(None) == pools(booked.decisions) == {"capacity_block"}
    assert pools(Decisions()) == set()
    nothing = committed_npv(plan, SPOT_BLOCKS, cloud, Decisions(), solver)
    assert nothing is not None and nothing.usd == pytest.approx(3_900.0, abs=0.01)
    held = committed_npv(plan, SPOT_BLOCKS, cloud, booked.decisions, solver)
    assert held is not None and held.usd == pytest.approx(3_756.0, abs=0.01)
