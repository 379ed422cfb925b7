"""True exclusion reasons (SPEC 17, 18): for every metro a workload cannot serve from a provider,
the reason names the first missing price or constraint of each venue within the latency bound
that sells the workload's class, and the latency bound only when none does.

Round trips from the shipped coordinates: New York (us-east) to us-east-1 7.3 ms; London
(eu-west) to eu-west-2 2.0 ms and eu-west-1 8.9 ms; Frankfurt (eu-central) to eu-central-1
2.0 ms; Mumbai (ap-south) has no AWS region of the catalog within 10 ms."""

from __future__ import annotations

from tco.optimizer.build import prepare
from tco.optimizer.diagnosis import precheck
from tco.optimizer.plan import plan_from_dict
from tco.optimizer.scenarios import scenarios_for
from tests.conftest import catalog, egress, offer, plan_doc

PRICES = catalog(
    offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 0.8),
    offer("aws", "eu-west-2", "g6.xlarge", "L4", 1, "on_demand", 0.9),      # no egress price
    offer("aws", "eu-central-1", "g6.xlarge", "L4", 1, "spot", 0.4),        # spot only
    egress("aws", "us-east-1", (0.0, 0.09)),
    egress("aws", "eu-central-1", (0.0, 0.09)),
)


def reasons(users, **extra):
    w = {"name": "svc", "kind": "inference", "gpu": "L4", "gpus": 2, "users": users,
         "max_latency_ms": 10, "egress_tb_per_month": 1.0, **extra}
    plan = plan_from_dict(plan_doc(w)).plan
    aws = next(s for s in scenarios_for(plan) if s.name == "aws-only")
    return precheck(prepare(plan, PRICES, aws))


def test_two_metros_each_named_with_its_true_cause():
    # before: only the first unserved metro was named, and "no offer within 80 ms" when the
    # offer was there but had no egress price
    assert reasons({"us-east": 0.5, "eu-west": 0.5}) == (
        "svc: no usable L4 offer within 10 ms of eu-west in aws: no internet egress price in "
        "aws:eu-west-2")
    assert reasons({"eu-west": 0.5, "eu-central": 0.5}) == (
        "svc: no usable L4 offer within 10 ms of eu-west in aws: no internet egress price in "
        "aws:eu-west-2; svc: no usable L4 offer within 10 ms of eu-central in aws: only spot "
        "offers for a workload that is not interruptible in aws:eu-central-1")


def test_three_metros_latency_only_where_nothing_lies_within_the_bound():
    assert reasons({"us-east": 0.25, "eu-west": 0.25, "eu-central": 0.25, "ap-south": 0.25}) == (
        "svc: no usable L4 offer within 10 ms of eu-west in aws: no internet egress price in "
        "aws:eu-west-2; svc: no usable L4 offer within 10 ms of eu-central in aws: only spot "
        "offers for a workload that is not interruptible in aws:eu-central-1; svc: no L4 "
        "offer within 10 ms of ap-south in aws")


def test_a_metro_served_needs_no_reason():
    assert reasons({"us-east": 1.0}) is None
    # interruptible, the spot offer in eu-central-1 serves Frankfurt
    assert reasons({"us-east": 0.5, "eu-central": 0.5}, interruptible=True) is None


def test_memory_and_node_size_are_named():
    # an 8B model in fp16 needs 8e9 x 2 x 1.2 = 19.2 GB: a 24 GB L4 holds it; a 70B one
    # (168 GB) does not fit any 1-GPU instance
    w = {"name": "svc", "kind": "inference", "gpu": ["L4"],
         "model": {"params": 70e9, "precision": "bf16"}, "tokens_per_second": 100,
         "throughput": {"L4": 50}, "users": {"us-east": 1.0}, "max_latency_ms": 10}
    plan = plan_from_dict(plan_doc(w)).plan
    aws = next(s for s in scenarios_for(plan) if s.name == "aws-only")
    assert precheck(prepare(plan, PRICES, aws)) == (
        "svc: no usable L4 offer within 10 ms of us-east in aws: no instance holds 168.0 GB of "
        "weights in aws:us-east-1")


UNPLACED = catalog(
    # RunPod names its data centres without cities: US-TX-3 has no coordinates
    offer("runpod", "US-TX-3", "1x NVIDIA L4", "L4", 1, "on_demand", 0.5),
    egress("runpod", "US-TX-3", (0.0, 0.02)),
)


def _runpod_only(**sections):
    w = {"name": "svc", "kind": "inference", "gpu": "L4", "gpus": 2,
         "users": {"us-east": 1.0}, "max_latency_ms": 30, "egress_tb_per_month": 1.0}
    plan = plan_from_dict(plan_doc(w, providers=("runpod",), **sections)).plan
    only = next(s for s in scenarios_for(plan) if s.name == "runpod-only")
    return precheck(prepare(plan, UNPLACED, only))


def test_a_region_without_a_location_is_named_and_a_given_round_trip_admits_it():
    assert _runpod_only() == (
        "svc: no L4 offer within 30 ms of us-east in runpod (runpod:US-TX-3 sells it but "
        "publishes no location, so no latency is estimated to it: give its round trip from "
        "us-east in [latency] to use it)")
    assert _runpod_only(latency={"us-east": {"runpod:US-TX-3": 28.0}}) is None
