"""Levers set what they name, and nothing else; a lever that names nothing says so."""

from __future__ import annotations

import pytest

from tco.analysis.evaluate import at, relevant
from tco.analysis.levers import LeverError, Scale, lever, plan_levers
from tco.optimizer import plan_from_dict
from tco.pricing.models import Provider
from tests.conftest import catalog, offer, plan_doc

from .test_closed_form import SERVER, SITE

CAT = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 8.0),
              offer("aws", "us-east-1", "p5", "H100", 8, "spot", 4.0),
              offer("gcp", "us-central1", "a3", "H100", 8, "on_demand", 10.0, upfront=5.0),
              offer("gcp", "us-central1", "g2", "L4", 1, "on_demand", 1.0))


def loaded(**extra):
    doc = plan_doc({"name": "train", "kind": "training", "gpu": "H100", "gpu_hours": 1000.0,
                    "interruptible": True, "spot_overhead": 0.1},
                   {"name": "chat", "kind": "inference", "gpu": "L4", "gpus": 4.0},
                   providers=("aws", "gcp"),
                   onprem={"sites": [SITE], "servers": [SERVER]})
    doc["plan"].update(extra)
    return plan_from_dict(doc).plan


def prices(cat):
    return {(r.provider, r.instance_type, r.purchase.value): (r.usd_per_hour, r.upfront_usd)
            for r in cat.compute}


def test_price_levers_scale_their_prices_only():
    p = loaded()
    _, c = at(p, CAT, {"cloud_prices.gcp": 2.0})
    assert prices(c) == {("aws", "p5", "on_demand"): (8.0, 0.0), ("aws", "p5", "spot"): (4.0, 0.0),
                         ("gcp", "a3", "on_demand"): (20.0, 10.0),
                         ("gcp", "g2", "on_demand"): (2.0, 0.0)}
    _, c = at(p, CAT, {"spot_prices": 0.5, "cloud_prices": 2.0})
    # both apply: spot at 4 x 2 x 0.5
    assert prices(c)[("aws", "p5", "spot")] == (4.0, 0.0)
    assert prices(c)[("aws", "p5", "on_demand")] == (16.0, 0.0)


def test_plan_levers_set_the_plan():
    p = loaded(discount_rate=0.08)
    q, _ = at(p, CAT, {"demand.chat": 1.5, "electricity": 2.0, "server_prices": 0.5,
                       "utilization": 1.5, "resale": 0.8, "discount_rate": 0.1})
    train, chat = q.workloads
    assert (train.gpu_hours, chat.gpus) == (1000.0, 6.0)
    assert q.onprem.sites[0].electricity_usd_per_kwh == pytest.approx(0.2)
    (srv,) = q.onprem.servers
    assert (srv.price_usd, srv.max_utilization, srv.value_factor) == (50_000.0, 1.0, 0.8)
    assert q.plan.discount_rate == 0.1
    # the plan given is untouched
    assert p.workloads[1].gpus == 4.0 and p.onprem.servers[0].price_usd == 100_000.0


def test_demand_scales_hours_and_gpus():
    q, _ = at(loaded(), CAT, {"demand": 0.5})
    assert [(w.gpu_hours, w.gpus) for w in q.workloads] == [(500.0, None), (None, 2.0)]


def test_more_demand_sends_more_traffic_and_a_faster_model_does_not():
    # a service at 1.5 times its demand serves 1.5 times the traffic: 1.5 times the GPUs and
    # the egress; a training run 1.5 times the GPU-hours sends out what it did; the rates a
    # model was sized with change the GPUs for the same traffic
    from dataclasses import replace

    p = loaded()
    train, chat = p.workloads
    p = replace(p, workloads=(replace(train, egress_tb_per_month=2.0),
                              replace(chat, egress_tb_per_month=10.0, from_model=True)))
    for name in ("demand", "demand.chat"):
        q, _ = at(p, CAT, {name: 1.5})
        assert [w.egress_tb_per_month for w in q.workloads] == [2.0, 15.0], name
    q, _ = at(p, CAT, {"demand.train": 1.5})
    assert [(w.gpu_hours, w.egress_tb_per_month) for w in q.workloads] == [(1500.0, 2.0),
                                                                           (None, 10.0)]
    q, _ = at(p, CAT, {"throughput": 2.0})
    assert [(w.gpus, w.egress_tb_per_month) for w in q.workloads] == [(None, 2.0), (2.0, 10.0)]


def test_key_paths_read_and_set_the_resolved_plan():
    p = loaded()
    lv = lever("cloud.discounts.gcp", p)
    assert (lv.scale, lv.base) == (Scale.ABSOLUTE, 0.0)
    q, _ = lv.apply(p, CAT, 0.25)
    assert q.cloud.discounts[Provider.GCP] == 0.25 and q.cloud.discounts[Provider.AWS] == 0.0
    lv = lever("onprem.servers[0].lead_time_months", p)
    q, _ = lv.apply(p, CAT, 2.6)
    assert q.onprem.servers[0].lead_time_months == 3          # a whole number stays whole
    q, _ = lever("workloads[1].gpus", p).apply(p, CAT, 7.0)
    assert q.workloads[1].gpus == 7.0
    assert lever("trends.cloud_by_gpu.H100", p).base == 0.0
    q, _ = lever("trends.cloud_by_gpu.H100", p).apply(p, CAT, -0.3)
    assert q.trends.cloud_rate("H100") == -0.3 and q.trends.cloud_rate("L4") == 0.0


@pytest.mark.parametrize(("name", "expected"), [
    ("cloud_price", "did you mean 'cloud_prices'"),
    ("cloud_prices.azure", "no provider 'azure'"),
    ("demand.chatt", "did you mean 'chat'"),
    ("workloads[5].gpus", "workloads[5] is out of range (2 entries)"),
    ("workloads[0].gpu_hourz", "did you mean 'gpu_hours'"),
    ("onprem.sites[0].name", "is not a number"),
    ("onprem.sites.0", "onprem.sites is a list: index it, as onprem.sites[0]"),
    ("plan.discount_rate.x", "plan.discount_rate has no keys"),
    ("trends.cloud_by_gpu.H1000", "unknown GPU class 'H1000'"),
    ("cloud..discounts", "not a key path"),
])
def test_bad_levers_name_the_problem(name, expected):
    with pytest.raises(LeverError, match="--param") as info:
        lever(name, loaded(), "--param")
    assert expected in str(info.value)


def test_the_default_levers_are_those_the_plan_uses():
    assert plan_levers(loaded()) == ["cloud_prices", "spot_prices", "server_prices",
                                     "electricity", "utilization", "resale", "demand"]
    assert plan_levers(loaded(discount_rate=0.05))[-1] == "discount_rate"


def test_relevant_keeps_the_prices_a_plan_can_use():
    p = loaded()
    kept = relevant(p, CAT)
    assert len(kept.compute) == 4
    only_h100 = plan_from_dict(plan_doc({"name": "t", "kind": "training", "gpu": "H100",
                                         "gpu_hours": 10.0}, providers=("aws",))).plan
    assert {r.instance_type for r in relevant(only_h100, CAT).compute} == {"p5"}
