"""Plan loading: defaults come from the sourced defaults table and are all reported."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tco.optimizer import load_plan, plan_from_dict, solve
from tco.optimizer.defaults import defaults
from tco.optimizer.errors import PlanError
from tests.conftest import catalog, offer

MINIMAL = {"plan": {"start": "2027-01", "months": 12},
           "workloads": [{"name": "svc", "kind": "inference", "gpu": "L4", "gpus": 1}]}


def test_every_default_used_is_an_assumption_with_a_source():
    loaded = plan_from_dict(MINIMAL)
    keys = {a.key for a in loaded.assumptions}
    assert {"plan.discount_rate", "cloud.region_availability", "cloud.commit_every_months",
            "workloads[0].growth_per_month (svc)", "workloads[0].window (svc)"} <= keys
    for a in loaded.assumptions:
        assert a.source, a
    p = loaded.plan
    assert p.plan.discount_rate == defaults()["plan.discount_rate"].value
    assert p.cloud.region_availability == 0.9999
    assert p.workloads[0].window == ("2027-01", "2027-12")
    assert [x.value for x in p.cloud.providers] == ["aws", "gcp", "azure"]


def test_an_interruptible_workload_takes_the_sourced_spot_overhead():
    doc = {"plan": {"start": "2027-01", "months": 12},
           "workloads": [{"name": "train", "kind": "training", "gpu": "H100",
                          "gpu_hours": 1000, "interruptible": True}]}
    loaded = plan_from_dict(doc)
    assert loaded.plan.workloads[0].spot_overhead == 0.10
    (a,) = [a for a in loaded.assumptions if a.key == "workloads[0].spot_overhead (train)"]
    assert a.value == "0.1" and "skypilot-org/spot-traces" in a.source
    # a stated value is not an assumption; without spot there is nothing to default
    stated = plan_from_dict({**doc, "workloads": [{**doc["workloads"][0], "spot_overhead": 0.3}]})
    assert stated.plan.workloads[0].spot_overhead == 0.3
    assert not [a for a in stated.assumptions if "spot_overhead" in a.key]
    no_spot = plan_from_dict({**doc, "cloud": {"purchase_options": ["on_demand"]}})
    assert no_spot.plan.workloads[0].spot_overhead == 0.0


def test_stated_values_are_not_assumptions():
    doc = {**MINIMAL, "plan": {**MINIMAL["plan"], "discount_rate": 0.05}}
    loaded = plan_from_dict(doc)
    assert "plan.discount_rate" not in {a.key for a in loaded.assumptions}
    assert loaded.plan.plan.discount_rate == 0.05


def test_site_and_server_defaults_are_sourced():
    doc = {**MINIMAL, "onprem": {
        "sites": [{"name": "dc", "location": {"lat": 39.0, "lon": -77.5}}],
        "servers": [{"name": "box", "gpu": "H100", "gpus": 8, "price_usd": 200_000,
                     "power_kw": 10, "residual_fraction": 0.1}]}}
    loaded = plan_from_dict(doc)
    server = loaded.plan.onprem.servers[0]
    frac = defaults()["servers.network_usd_fraction"].value
    assert server.network_usd == pytest.approx(200_000 * frac)
    site = loaded.plan.onprem.sites[0]
    assert site.pue == defaults()["sites.pue"].value
    sourced = {a.key: a.source for a in loaded.assumptions}
    assert "https://" in sourced["onprem.sites[0].pue (dc)"]
    assert "onprem.servers[0].network_usd (box)" in sourced


def test_shipped_examples_and_starter_validate(tmp_path):
    # every example, and the starter plan `tco init` writes, load with their workloads and
    # sites, each default they rely on listed with a source
    from pathlib import Path

    from tco.cli.main import starter_plan
    root = Path(__file__).parents[2]
    starter = tmp_path / "starter.toml"
    starter.write_text(starter_plan())
    paths = [*sorted((root / "examples").glob("*.toml")), starter]
    assert len(paths) >= 4
    for path in paths:
        loaded = load_plan(path)
        assert loaded.plan.workloads, path
        assert all(a.source for a in loaded.assumptions), path
    starter_plan_ = load_plan(starter).plan
    assert [w.name for w in starter_plan_.workloads] == ["pretrain", "chat-api"]
    assert [s.name for s in starter_plan_.onprem.sites] == ["colo-east"]


def test_library_api_matches_spec_section_9():
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0))
    doc = {"plan": {"start": "2027-01", "months": 1, "discount_rate": 0},
           "cloud": {"providers": ["aws"]},
           "workloads": [{"name": "svc", "kind": "inference", "gpu": "L4", "gpus": 1}]}
    result = solve(doc, catalog=cat)          # a plain dict is accepted too
    assert result.recommended.npv_usd == pytest.approx(730.0)
    assert result.to_dict()["scenarios"][0]["total_usd"] == 730.0
    with pytest.raises(PlanError):
        solve({"plan": {"start": "2027-01"}}, catalog=cat)


def test_equal_regions_are_pruned_without_changing_the_answer():
    from tco.optimizer.build import build
    from tco.optimizer.venues import Scenario
    cat = catalog(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  offer("aws", "us-east-2", "g6.xlarge", "L4", 1, "on_demand", 1.0),
                  offer("aws", "us-west-2", "g6.xlarge", "L4", 1, "on_demand", 0.9))
    doc = {"plan": {"start": "2027-01", "months": 1, "discount_rate": 0},
           "cloud": {"providers": ["aws"]},
           "workloads": [{"name": "svc", "kind": "inference", "gpu": "L4", "gpus": 1,
                          "users": {"us-east": 1.0}, "max_latency_ms": 30}]}
    plan = plan_from_dict(doc).plan
    model = build(plan, cat, Scenario("aws-only", ("aws",), False))
    # us-west-2 is cheaper but out of reach; one of the equal eastern regions suffices
    assert len(model.venues) == 2 and "aws:us-west-2" in model.venues
    assert solve(doc, catalog=cat).recommended.total_usd == pytest.approx(730.0)


@pytest.mark.parametrize("change, message", [
    (lambda p: replace(p, cloud=replace(p.cloud, discounts={k: 7.0 for k in p.cloud.discounts})),
     "cloud.discounts.aws: must be at least 0 and below 1 (got 7)"),
    (lambda p: replace(p, plan=replace(p.plan, months=0)), "plan.months: must be at least 1"),
    (lambda p: replace(p, workloads=(replace(p.workloads[0], gpu_hours=-1.0),)),
     "workloads (t).gpu_hours: must be at least 0 (got -1)"),
    (lambda p: replace(p, workloads=(replace(p.workloads[0], speeds={"H100": 0.0}),)),
     "workloads (t).gpu.H100: must be above 0"),
])
def test_a_resolved_plan_cannot_be_changed_into_an_invalid_one(change, message):
    # a budgeting script that changes a loaded plan in code is held to the plan file's rules
    plan = plan_from_dict({"plan": {"start": "2027-01", "months": 12},
                           "cloud": {"providers": ["aws"]},
                           "workloads": [{"name": "t", "kind": "training", "gpu": "H100",
                                          "gpu_hours": 1000}]}).plan
    with pytest.raises(PlanError, match=re.escape(message)):
        change(plan)
