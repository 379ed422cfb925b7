"""$ per million output tokens (SPEC 20) for inference sized from throughput, by hand.

8 H100 serving 16,000 output tokens/s at a measured 2,000 tokens/s per GPU, one month, on AWS
at $8 an instance-hour of 8 GPUs ($1 a GPU-hour): 8 x 730 = 5,840 GPU-hours, $5,840; tokens
5,840 x 2,000 x 3,600 = 42,048,000,000; $5,840 / 42,048 million = $0.138888... (= $1 a
GPU-hour / 7.2 million tokens a GPU-hour).
"""

from __future__ import annotations

import json

import pytest

from tco.cli.main import main
from tco.optimizer import plan_from_dict, solve
from tco.optimizer.result import token_costs
from tests.conftest import catalog, offer, plan_doc

CLOUD = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 8.0))


def chat():
    return {"name": "chat", "kind": "inference", "gpu": ["H100"], "growth_per_month": 0.0,
            "model": {"params": 8e9, "precision": "fp8"}, "tokens_per_second": 16_000,
            "throughput": {"H100": 2_000}, "availability": 0.99}


def test_dollars_per_million_tokens_by_hand():
    result = solve(plan_from_dict(plan_doc(chat(), months=1)), CLOUD)
    rows = token_costs(result.recommended, result.sizings)
    assert [r.venue for r in rows] == ["aws:us-east-1", "all"]
    venue, every = rows
    assert venue.gpu_hours == pytest.approx(5_840.0, rel=1e-9)
    assert venue.tokens == pytest.approx(42_048_000_000.0, rel=1e-9)
    assert venue.cost_usd == pytest.approx(5_840.0, rel=1e-9)
    assert venue.usd_per_million_tokens == pytest.approx(1.0 / 7.2, rel=1e-9)
    assert every.usd_per_million_tokens == pytest.approx(1.0 / 7.2, rel=1e-9)
    doc = result.to_dict()
    assert doc["tokens"][0]["usd_per_million_tokens"] == pytest.approx(0.138889, abs=1e-6)


def test_training_and_gpu_count_workloads_have_no_token_rows():
    doc = plan_doc({"name": "train", "kind": "training", "gpu": "H100", "gpu_hours": 1000.0},
                   {"name": "api", "kind": "inference", "gpu": "H100", "gpus": 8,
                    "growth_per_month": 0.0, "availability": 0.99}, months=1)
    result = solve(plan_from_dict(doc), CLOUD)
    assert token_costs(result.recommended, result.sizings) == []
    assert result.to_dict()["tokens"] == []


PLAN = """
[plan]
name = "chat"
start = "2027-01"
months = 1
discount_rate = 0
mip_gap = 0

[cloud]
providers = ["aws"]
region_availability = 0.9995

[[workloads]]
name = "chat"
kind = "inference"
gpu = ["H100"]
growth_per_month = 0
model = { params = 8e9, precision = "fp8" }
tokens_per_second = 16_000
throughput = { H100 = 2_000 }
availability = 0.99
"""


def test_the_table_and_json_show_the_cost_per_million_tokens(tmp_path, capsys):
    plan = tmp_path / "chat.toml"
    plan.write_text(PLAN)
    cat = tmp_path / "cat.json"
    cat.write_text(json.dumps({"schema": 1, "compute": [
        {"provider": "aws", "region": "us-east-1", "instance_type": "p5", "gpu": "H100",
         "gpu_count": 8, "purchase": "on_demand", "usd_per_hour": 8.0,
         "as_of": "2026-11-01", "source_ref": "list-2026"}]}))
    assert main(["compare", str(plan), "--catalog", str(cat)]) == 0
    out = capsys.readouterr().out
    assert "Cost per million output tokens" in out and "$0.1389" in out and "42.05B" in out
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "json"]) == 0
    # a row per venue and one for all, in every scenario
    rows = [r for r in json.loads(capsys.readouterr().out)["tokens"]
            if r["scenario"] == "hybrid"]
    assert [r["venue"] for r in rows] == ["aws:us-east-1", "all"]
    assert rows[1]["tokens"] == 42_048_000_000
