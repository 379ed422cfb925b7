"""Workloads sized from their models (SPEC 14): the formulas against hand-computed values, the
memory a model's weights need, recurring training, and what the report says about each."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from tco.optimizer import PlanError, plan_from_dict, solve
from tco.optimizer.model import monthly_demand
from tco.optimizer.planfile import Precision
from tco.optimizer.sizing import table_throughput
from tco.optimizer.venues import Scenario, offers_for, venue_table
from tco.pricing import load_catalog
from tests.conftest import catalog, offer, plan_doc

H = 730.0


def _plan(*workloads, **kw):
    return plan_from_dict(plan_doc(*workloads, **kw))


def pretrain(**kw):
    return {"name": "pretrain", "kind": "training", "gpu": ["H100"],
            "model": {"params": 70e9, "tokens": 1.5e12}, **kw}


def chat(**kw):
    doc = {"name": "chat", "kind": "inference", "gpu": ["H100"], "growth_per_month": 0.0,
           "model": {"params": 8e9, "precision": "fp8"}, "tokens_per_second": 40_000}
    return {**doc, **kw}


# --- training: 6 x params x tokens / (peak x MFU x 3600) --------------------------------------

def test_training_gpu_hours_from_the_datasheet_peak_and_the_published_mfu():
    # H100 SXM: 989.4 dense BF16 TFLOPS (H100 whitepaper, Table 1); MFU 0.4257 (llm-foundry,
    # MPT-70B on 64 H100s). 6 x 70e9 x 1.5e12 = 6.3e23 FLOPs.
    # 6.3e23 / (989.4e12 x 0.4257 x 3600) = 415,491.83... GPU-hours
    loaded = _plan(pretrain())
    (w,) = loaded.plan.workloads
    assert w.gpu_hours == pytest.approx(6.3e23 / (989.4e12 * 0.4257 * 3600), rel=1e-12)
    assert w.gpu_hours == pytest.approx(415_491.83, abs=0.01)
    assert w.speeds == {"H100": 1.0}
    (z,) = loaded.sizings
    assert z.quantity == "gpu_hours" and z.reference.gpu == "H100"
    assert "6.3e+23 FLOPs" in z.basis and "70B params" in z.basis and "1.5T tokens" in z.basis


def test_plan_mfu_replaces_the_default_and_speeds_follow_peak_times_mfu():
    loaded = _plan(pretrain(gpu=["H100", "A100-80GB", "B200"], mfu={"A100-80GB": 0.5}))
    (w,) = loaded.plan.workloads
    # reference H100 at its default 0.4257; A100 at the plan's 0.5; B200 at its default 0.35
    assert w.gpu_hours == pytest.approx(6.3e23 / (989.4e12 * 0.4257 * 3600), rel=1e-12)
    assert w.speeds["A100-80GB"] == pytest.approx(312 * 0.5 / (989.4 * 0.4257), rel=1e-12)
    assert w.speeds["B200"] == pytest.approx(2250 * 0.35 / (989.4 * 0.4257), rel=1e-12)
    # the optimizer's hours on A100 (reference hours / speed) are the formula's on A100
    a100 = next(c for c in loaded.sizings[0].classes if c.gpu == "A100-80GB")
    assert a100.amount == pytest.approx(6.3e23 / (312e12 * 0.5 * 3600), rel=1e-12)
    assert w.gpu_hours / w.speeds["A100-80GB"] == pytest.approx(a100.amount, rel=1e-12)
    # one mfu for every class
    one = _plan(pretrain(gpu=["H100", "B200"], mfu=0.4)).plan.workloads[0]
    assert one.gpu_hours == pytest.approx(6.3e23 / (989.4e12 * 0.4 * 3600), rel=1e-12)
    assert one.speeds["B200"] == pytest.approx(2250 / 989.4, rel=1e-12)


def test_a_class_without_a_published_figure_is_left_out_with_the_reason():
    # L40S has no published training MFU; A10G no published BF16 peak
    loaded = _plan(pretrain(gpu=["L40S", "H100", "A10G"]))
    (w,) = loaded.plan.workloads
    assert set(w.speeds) == {"H100"} and w.speeds["H100"] == 1.0   # H100 became the reference
    reasons = {c.gpu: c.excluded for c in loaded.sizings[0].classes}
    assert "no published training MFU for L40S" in reasons["L40S"]
    assert "mfu = { L40S = ... }" in reasons["L40S"]
    assert "no published dense BF16 peak for A10G" in reasons["A10G"]
    keys = {a.key: a for a in loaded.assumptions}
    assert keys["workloads[0].gpu.L40S (pretrain)"].value == "left out"
    row = keys["workloads[0].gpu_hours.H100 (pretrain)"]
    assert row.value.startswith("415,491.83 GPU-hours per run = 6.3e+23 FLOPs / (989.4 TFLOPS")
    assert "llm-foundry" in row.source
    # with the plan's own MFU the L40S can be sized: 362.05 TFLOPS dense BF16
    sized = _plan(pretrain(gpu=["L40S", "H100"], mfu={"L40S": 0.3})).plan.workloads[0]
    assert sized.gpu_hours == pytest.approx(6.3e23 / (362.05e12 * 0.3 * 3600), rel=1e-12)


def test_no_class_that_can_be_sized_is_an_error_naming_each_reason():
    with pytest.raises(PlanError) as exc:
        _plan(pretrain(gpu=["L4", "A10G"]))
    text = str(exc.value)
    assert "workloads[0].gpu: no GPU class can be sized" in text
    assert "L4: no published training MFU" in text and "A10G: no published dense BF16" in text


@pytest.mark.parametrize(("change", "message"), [
    ({"model": {"params": 70e9}}, "model.tokens"),
    ({"gpu_hours": 10.0}, "give 'gpu_hours' or 'model', not both"),
    ({"gpu": {"H100": 1.0}}, "list the acceptable classes"),
    ({"model": {"params": 70e9, "tokens": 1e12, "precision": "fp8"}}, "model.precision is for"),
    ({"tokens_per_second": 10.0}, "'tokens_per_second' is for inference"),
    ({"mfu": {"H200": 0.4}}, "workloads[0].mfu.H200: not one of the workload's GPU classes"),
    ({"mfu": 1.5}, "workloads[0].mfu"),
])
def test_model_keys_are_checked_with_their_key_path(change, message):
    with pytest.raises(PlanError) as exc:
        _plan(pretrain(**change))
    assert message in str(exc.value)


def test_a_list_of_classes_needs_a_model_to_derive_speeds():
    doc = {"name": "t", "kind": "training", "gpu": ["H100", "A100-80GB"], "gpu_hours": 10.0}
    with pytest.raises(PlanError, match="'gpu' as a list needs 'model'"):
        _plan(doc)


# --- recurring training -------------------------------------------------------------------------

def test_a_recurring_fine_tune_runs_in_its_first_month_and_every_k_after():
    doc = {"name": "ft", "kind": "training", "gpu": "H100", "gpu_hours": 500.0,
           "every_months": 3, "window": ["2027-02", "2027-11"]}
    plan = _plan(doc).plan
    demand = monthly_demand(plan, plan.workloads[0])
    # window months 1..10; runs in 1, 4, 7, 10, each a whole run's 500 GPU-hours
    assert demand == [0, 500, 0, 0, 500, 0, 0, 500, 0, 0, 500, 0]


def test_a_monthly_fine_tune_is_priced_run_by_run(solver):
    # 70B on 2B tokens: 8.4e20 FLOPs / (989.4e12 x 0.4257 x 3600) = 553.99 GPU-hours per run,
    # every month for 12 months on an $8/GPU-hour H100 (one 8-GPU instance at $64/h)
    doc = pretrain(name="ft", model={"params": 70e9, "tokens": 2e9}, every_months=1)
    cat = catalog(replace(offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "on_demand",
                                64.0), gpu_memory_gib=80.0))
    res = solve(_plan(doc), cat, solver=solver)
    per_run = 8.4e20 / (989.4e12 * 0.4257 * 3600)
    assert res.recommended.total_usd == pytest.approx(12 * per_run * 8.0, abs=0.01)
    by_month = {}
    for a in res.recommended.allocations:
        assert a.workload == "ft"
        by_month[a.month] = by_month.get(a.month, 0.0) + a.gpu_hours
    assert len(by_month) == 12
    assert all(h == pytest.approx(per_run, abs=1e-3) for h in by_month.values())


def test_every_months_is_for_training():
    with pytest.raises(PlanError, match="'every_months' is for training"):
        _plan(chat(every_months=2))


# --- inference: tokens per second / measured throughput --------------------------------------

def test_inference_gpus_from_the_measured_throughput_at_the_model_size():
    # TensorRT-LLM 1.0, Llama 3.1 8B FP8 on one H100, 1000/1000 tokens: 15,220 tokens/s
    loaded = _plan(chat(gpu=["H100", "H200"]))
    (w,) = loaded.plan.workloads
    assert w.gpus == pytest.approx(40_000 / 15_220, rel=1e-12)
    # H200 in the same table: 17,744 tokens/s
    assert w.speeds["H200"] == pytest.approx(17_744 / 15_220, rel=1e-12)
    # 8e9 x 1 byte x 1.2 = 9.6 GB of weights
    assert w.weights_gb == pytest.approx(9.6)
    row = {a.key: a for a in loaded.assumptions}["workloads[0].gpus.H100 (chat)"]
    assert row.value == "2.63 GPUs = 40,000 tokens/s / 15,220.0 tokens/s per GPU"
    assert "TensorRT-LLM" in row.source and "2025-09-22" in row.source


def test_bf16_weights_use_the_16_bit_measurements_and_precision_defaults_to_bf16():
    loaded = _plan(chat(model={"params": 8e9}))
    (w,) = loaded.plan.workloads
    # TensorRT-LLM 0.13, Llama 3.1 8B FP16 on one H100, 1000/1000 tokens: 7,160.9 tokens/s
    assert w.gpus == pytest.approx(40_000 / 7_160.9, rel=1e-12)
    assert w.weights_gb == pytest.approx(8e9 * 2 * 1.2 / 1e9)
    keys = {a.key: a.value for a in loaded.assumptions}
    assert keys["workloads[0].model.precision (chat)"] == "bf16"


def test_throughput_between_measured_sizes_is_interpolated_log_log():
    # H100 FP8: 15,220 tokens/s at 8B, 2,102.5 at 70B. At 30B:
    # 15,220 x (30/8) ** (ln(2102.5/15220) / ln(70/8)) = 15,220 x 3.75 ** -0.91260 = 4,555.7
    slope = math.log(2102.5 / 15220) / math.log(70 / 8)
    expected = 15220 * (30 / 8) ** slope
    assert expected == pytest.approx(4555.7, abs=0.05)
    found = table_throughput("H100", 30e9, Precision.FP8)
    assert found is not None and found[0] == pytest.approx(expected, rel=1e-12)
    assert "log-log between" in found[1]


def test_throughput_outside_the_measured_sizes():
    # below the smallest: the smallest's figure, not scaled up
    small = table_throughput("H100", 1e9, Precision.FP8)
    assert small is not None and small[0] == 15220.0
    # above the largest (405B at 364.9): scaled by 405 / 800
    big = table_throughput("H100", 800e9, Precision.FP8)
    assert big is not None and big[0] == pytest.approx(364.9 * 405 / 800, rel=1e-12)
    # no measurement for the class at that precision, or a format the table does not hold
    assert table_throughput("L4", 8e9, Precision.FP8) is None
    assert table_throughput("H100", 8e9, Precision.INT4) is None


def test_the_plans_throughput_replaces_the_table():
    loaded = _plan(chat(gpu=["L4", "H100"], throughput={"L4": 800.0}))
    (w,) = loaded.plan.workloads
    assert w.gpus == pytest.approx(40_000 / 800, rel=1e-12)          # L4 is the reference
    assert w.speeds["H100"] == pytest.approx(15_220 / 800, rel=1e-12)


# --- memory: a box whose GPUs cannot hold the weights is left out ------------------------------

def _offers(plan, cat, w):
    scenario = Scenario("cloud-only", ("aws",), False)
    return offers_for(plan, cat, scenario, venue_table(plan, cat, scenario), w)


def test_instances_that_cannot_hold_the_weights_are_left_out():
    # 70B at bf16: 70e9 x 2 x 1.2 = 168 GB. One L4 holds 24 GB: 7 are needed, so only the
    # 8-GPU g6.48xlarge can serve; a 4-GPU g6.12xlarge (96 GB) cannot.
    doc = chat(gpu=["L4"], model={"params": 70e9, "precision": "bf16"},
               throughput={"L4": 100.0})
    plan = _plan(doc).plan
    cat = catalog(
        offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 0.8),
        offer("aws", "us-east-1", "g6.12xlarge", "L4", 4, "on_demand", 4.6),
        offer("aws", "us-east-1", "g6.48xlarge", "L4", 8, "on_demand", 13.4),
        offer("aws", "us-east-1", "g6.48xlarge", "L4", 8, "reserved_1y", 9.0),
        offer("aws", "us-east-1", "g6.12xlarge", "L4", 4, "reserved_1y", 3.0),
    )
    offers, pools = _offers(plan, cat, plan.workloads[0])
    assert [r.instance_type for r in offers.on_demand.values()] == ["g6.48xlarge"]
    assert [r.instance_type for recs in pools.values() for r in recs] == ["g6.48xlarge"]
    sizing = _plan(doc).sizings[0]
    assert sizing.classes[0].min_gpus == 7
    # solved: 40,000 / 100 = 400 L4 GPUs = 50 whole g6.48xlarge-equivalents at $13.4/h or
    # reserved at $9/h: reserved wins, 50 instances x $9 x 730 x 12
    res = solve(plan_from_dict(plan_doc(doc)), cat)
    assert res.recommended.total_usd == pytest.approx(50 * 9.0 * H * 12, abs=0.01)
    assert {a.instance_type for a in res.recommended.allocations} == {"g6.48xlarge"}


def test_servers_that_cannot_hold_the_weights_are_left_out():
    doc = chat(gpu=["L40S"], model={"params": 70e9, "precision": "bf16"},
               throughput={"L40S": 300.0})
    servers = [{"name": "two", "gpu": "L40S", "gpus": 2, "price_usd": 30_000, "power_kw": 1.5},
               {"name": "four", "gpu": "L40S", "gpus": 4, "price_usd": 60_000, "power_kw": 3.0}]
    plan = _plan(doc, onprem={"sites": [{"name": "dc", "location": "us-east"}],
                              "servers": servers}).plan
    scenario = Scenario("hybrid", (), True)
    venues = venue_table(plan, catalog(), scenario)
    offers, _ = offers_for(plan, catalog(), scenario, venues, plan.workloads[0])
    # 2 x 48 GB = 96 GB < 168 GB; 4 x 48 = 192 GB holds it
    assert [z.name for _, z in offers.servers] == ["four"]


def test_nothing_holds_the_weights_is_a_reason_naming_the_memory():
    # 405B at bf16 = 972 GB: more than eight L4s (192 GB) hold
    doc = chat(gpu=["L4"], model={"params": 405e9, "precision": "bf16"},
               throughput={"L4": 10.0})
    cat = catalog(offer("aws", "us-east-1", "g6.48xlarge", "L4", 8, "on_demand", 13.4))
    res = solve(plan_from_dict(plan_doc(doc)), cat)
    assert not res.feasible
    reason = res.scenario("cloud-only").reason or ""
    assert ("chat: no usable L4 offer in aws: no instance holds 972.0 GB of weights in "
            "aws:us-east-1") in reason


def test_the_snapshot_has_no_offer_left_that_is_too_small():
    # every offer the optimizer may use for a 70B fp8 model (84 GB) holds it, by its own
    # GPU count and memory: checked against the bundled snapshot, all providers
    doc = chat(gpu=["L4", "L40S", "H100", "A100-80GB", "A10G"],
               model={"params": 70e9, "precision": "fp8"},
               throughput={"L4": 100.0, "A10G": 100.0, "L40S": 278.3, "A100-80GB": 300.0})
    plan = plan_from_dict(plan_doc(doc, providers=("aws", "gcp", "azure"))).plan
    cat = load_catalog(offline=True)
    scenario = Scenario("cloud-only", ("aws", "gcp", "azure"), False)
    offers, pools = offers_for(plan, cat, scenario, venue_table(plan, cat, scenario),
                               plan.workloads[0])
    used = [*offers.on_demand.values(), *(r for recs in pools.values() for r in recs)]
    assert used
    for r in used:
        assert r.gpu_count * r.gpu_memory_gib >= 84.0, r.instance_type
    # and a smaller instance of each class is in the catalog but was left out
    small = [r for r in cat.compute if r.gpu in ("L4", "L40S") and r.gpu_count == 1]
    assert small and all(r not in used for r in small)


# --- the report -------------------------------------------------------------------------------

def test_the_report_shows_each_class_and_the_figures_it_came_from():
    cat = catalog(replace(offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "on_demand",
                                64.0), gpu_memory_gib=80.0))
    res = solve(plan_from_dict(plan_doc(chat(), pretrain(window=["2027-01", "2027-03"]))), cat)
    data = res.to_dict()
    by_name = {z["workload"]: z for z in data["sizing"]}
    assert by_name["chat"]["quantity"] == "gpus"
    (h100,) = by_name["chat"]["classes"]
    assert h100["amount"] == pytest.approx(40_000 / 15_220, abs=1e-4)
    assert h100["rate"] == 15_220.0 and h100["min_gpus"] == 1
    assert by_name["pretrain"]["classes"][0]["figure"] == "989.4 TFLOPS dense BF16 x MFU 0.4257"
    keys = [a["key"] for a in data["assumptions"]]
    assert "workloads[0].gpus.H100 (chat)" in keys
    assert "workloads[1].gpu_hours.H100 (pretrain)" in keys
