"""Training runs as teams run them (SPEC 17): a gang runs each run in one venue on one GPU
class, on nodes of at least ``node_gpus`` GPUs when it needs more GPUs than a node holds; fluid
GPU-hours may be split, and the report says so when a non-interruptible workload is.

Every expected cost is computed by hand below, with the discount rate at 0."""

from __future__ import annotations

import pytest

from tco.optimizer import solve
from tco.optimizer.errors import PlanError
from tco.optimizer.plan import plan_from_dict
from tests.conftest import catalog, offer, plan_doc

H = 730.0

# H100: 8-GPU p5 at $8/h ($1 per GPU-hour) in us-east-1, where a quota allows 4 GPUs, and at
# $12/h ($1.5) in us-west-2; A100-80GB: 8-GPU p4de at $4.80/h ($0.60 per GPU-hour) in
# us-east-1, at half an H100's speed: $1.20 per H100-hour
PRICES = catalog(
    offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "on_demand", 8.0),
    offer("aws", "us-west-2", "p5.48xlarge", "H100", 8, "on_demand", 12.0),
    offer("aws", "us-east-1", "p4de.24xlarge", "A100-80GB", 8, "on_demand", 4.8),
)
QUOTA = {"quotas": [{"provider": "aws", "region": "us-east-1", "gpu": "H100", "max_gpus": 4}]}


def _run(gang: bool | None, **extra):
    # 5,840 H100-hours a month for two months: 8 H100s, or 16 A100s
    w = {"name": "pretrain", "kind": "training", "gpu": {"H100": 1.0, "A100-80GB": 0.5},
         "gpu_hours": 2 * 8 * H, **extra}
    if gang is not None:
        w["gang"] = gang
    doc = plan_doc(w, months=2, cloud=QUOTA)
    return solve(doc, PRICES, workers=1).scenario("cloud-only")


def test_fluid_hours_split_across_classes_and_the_report_says_so():
    # fluid: 4 H100s in us-east-1 under the quota (2,920 h at $1) and the rest on A100s there
    # (2,920 H100-hours = 5,840 A100-hours at $0.60 = $3,504): $6,424 a month, $12,848
    s = _run(None)
    assert s.npv_usd == pytest.approx(2 * (4 * H * 1.0 + 4 * H * 2 * 0.6), rel=1e-9)
    assert {a.gpu for a in s.allocations} == {"H100", "A100-80GB"}
    (note,) = [n for n in s.notes if "gang = true" in n]
    assert "pretrain (2027-01..2027-02)" in note and "2 GPU class(es)" in note
    assert "workloads[0]" in note


def test_a_gang_runs_in_one_venue_on_one_class():
    # one class, one venue for the run: all on A100s in us-east-1, 11,680 A100-hours a month
    # at $0.60 = $7,008 a month, $14,016 (all on H100s in us-west-2 would be $17,520; the
    # quota keeps all-H100 out of us-east-1)
    s = _run(True)
    assert s.npv_usd == pytest.approx(2 * 16 * H * 0.6, rel=1e-9)
    assert {(a.venue, a.gpu) for a in s.allocations} == {("aws:us-east-1", "A100-80GB")}
    assert not [n for n in s.notes if "gang = true" in n]


def test_a_gang_may_take_several_instance_types_of_its_class_in_its_venue():
    # two H100 instance types in us-east-1 (8 GPUs at $1, 8 GPUs at $1.10 per GPU-hour), the
    # cheaper one under a quota... both are H100 in one venue: the run may use both
    prices = catalog(offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "on_demand", 8.0),
                     offer("aws", "us-east-1", "p5en.48xlarge", "H100", 8, "on_demand", 8.8))
    w = {"name": "pretrain", "kind": "training", "gpu": "H100", "gpu_hours": 8 * H,
         "gang": True}
    s = solve(plan_doc(w, months=1), prices, workers=1).scenario("cloud-only")
    assert s.npv_usd == pytest.approx(8 * H * 1.0, rel=1e-9)
    assert {(a.venue, a.gpu) for a in s.allocations} == {("aws:us-east-1", "H100")}


def test_a_multi_node_gang_runs_only_on_nodes_of_node_gpus():
    # 16 H100s a month (11,680 h): more than one 8-GPU node. A 1-GPU p5.4xlarge sells at $0.90
    # per GPU-hour, the 8-GPU p5.48xlarge at $1: the gang must take the 8-GPU nodes ($11,680);
    # as fluid hours (gang = false) it takes the single GPUs ($10,512)
    prices = catalog(offer("aws", "us-east-1", "p5.4xlarge", "H100", 1, "on_demand", 0.9),
                     offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "on_demand", 8.0))

    def run(gang, hours, **extra):
        w = {"name": "pretrain", "kind": "training", "gpu": "H100", "gpu_hours": hours,
             "gang": gang, **extra}
        return solve(plan_doc(w, months=1), prices, workers=1).scenario("cloud-only")

    gang = run(True, 16 * H)
    assert gang.npv_usd == pytest.approx(16 * H * 1.0, rel=1e-9)
    assert {a.instance_type for a in gang.allocations} == {"p5.48xlarge"}
    fluid = run(False, 16 * H)
    assert fluid.npv_usd == pytest.approx(16 * H * 0.9, rel=1e-9)
    # a run of 8 GPUs fits one node: single GPUs are fine
    small = run(True, 8 * H)
    assert small.npv_usd == pytest.approx(8 * H * 0.9, rel=1e-9)
    # with node_gpus = 16 the 8-GPU instances are too small for a run of 20 GPUs, and no
    # offer is left: the scenario says why
    big = run(True, 20 * H, node_gpus=16)
    assert not big.feasible


def test_each_recurrence_is_its_own_run():
    # a monthly fine-tune of 8 H100s for 3 months: three runs, each placed on its own
    w = {"name": "tune", "kind": "training", "gpu": "H100", "gpu_hours": 8 * H,
         "every_months": 1, "gang": True}
    plan = plan_from_dict(plan_doc(w, months=3)).plan
    (wl,) = plan.workloads
    assert [list(r) for r in plan.runs(wl)] == [[0], [1], [2]]
    from tco.optimizer.build import build
    from tco.optimizer.scenarios import scenarios_for

    model = build(plan, PRICES, scenarios_for(plan)[1])
    assert sorted(model.use.gangs) == [("tune", 0), ("tune", 1), ("tune", 2)]
    # each run: 8 H100s in us-east-1 at $1 (no quota here), 5,840 a run
    s = solve(plan, PRICES, workers=1).scenario("cloud-only")
    assert s.npv_usd == pytest.approx(3 * 8 * H * 1.0, rel=1e-9)


def test_a_model_sized_run_that_cannot_be_interrupted_is_a_gang_by_default():
    model = {"name": "pretrain", "kind": "training", "gpu": ["H100"],
             "model": {"params": 7e9, "tokens": 1e11}}
    loaded = plan_from_dict(plan_doc(model, months=2))
    (w,) = loaded.plan.workloads
    assert w.gang and w.node_gpus == 8
    keys = {a.key for a in loaded.assumptions}
    assert "workloads[0].gang (pretrain)" in keys
    assert "workloads[0].node_gpus (pretrain)" in keys
    # interruptible, or gang = false: fluid; a gpu_hours workload keeps its meaning
    for extra in ({"interruptible": True}, {"gang": False}):
        (w,) = plan_from_dict(plan_doc({**model, **extra}, months=2)).plan.workloads
        assert not w.gang
    hours = {"name": "pretrain", "kind": "training", "gpu": "H100", "gpu_hours": 1000.0}
    (w,) = plan_from_dict(plan_doc(hours, months=2)).plan.workloads
    assert not w.gang


@pytest.mark.parametrize("key, value", [("gang", True), ("node_gpus", 8)])
def test_gang_keys_are_for_training(key, value):
    w = {"name": "chat", "kind": "inference", "gpu": "L4", "gpus": 2, key: value}
    with pytest.raises(PlanError, match=f"workloads\\[0\\].*'{key}' is for training"):
        plan_from_dict(plan_doc(w))
