"""``tco sensitivity``, ``tco breakeven`` and ``tco risk`` end to end, in-process, on the plan of
``test_closed_form`` written as a plan file with its catalog; and the bad input they refuse."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tco.cli.main import main

from .test_closed_form import CLOUD_FLIP, CLOUD_NPV, ENERGY, ONPREM

PLAN = """
[plan]
name = "one box"
start = "2027-01"
months = 12
discount_rate = 0
mip_gap = 0

[cloud]
providers = ["aws"]
region_availability = 0.9995
commit_every_months = 1

[[onprem.sites]]
name = "dc"
location = "us-east"
pue = 1.0
electricity_usd_per_kwh = 0.10
colo_usd_per_kw_month = 100
staff_usd_per_server_month = 200
storage_usd_per_tb_month = 5
egress_usd_per_gb = 0
availability = 0.999

[[onprem.servers]]
name = "box"
gpu = "H100"
gpus = 8
price_usd = 100_000
network_usd = 0
power_kw = 10
idle_power_fraction = 0.5
useful_life_months = 60
residual_fraction = 0.1
maintenance_rate = 0.12
lead_time_months = 0
max_utilization = 1.0
decommission_usd = 2_000
resale_fee_fraction = 0

[[workloads]]
name = "train"
kind = "training"
gpu = "H100"
gpu_hours = 70_080
"""

UNCERTAINTY = """
[uncertainty]
cloud_prices = { dist = "uniform", low = 0.5, high = 1.5 }
electricity = { dist = "uniform", low = 0.5, high = 2.5 }
"""

CATALOG = {"schema": 1, "compute": [
    {"provider": "aws", "region": "us-east-1", "instance_type": "p5", "gpu": "H100",
     "gpu_count": 8, "purchase": "on_demand", "usd_per_hour": 8.0, "as_of": "2026-11-01",
     "source_ref": "list-2026"}]}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    plan = tmp_path / "box.toml"
    plan.write_text(PLAN + UNCERTAINTY)
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps(CATALOG))
    return plan, cat


def tco(plan: Path, cat: Path, *args: str) -> int:
    return main([args[0], str(plan), "--catalog", str(cat), "--workers", "1", *args[1:]])


def test_sensitivity_json(files, capsys):
    assert tco(*files, "sensitivity", "--param", "electricity", "--param", "cloud_prices",
               "--swing", "0.5", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["base"] == {"npv_usd": ONPREM, "recommended": "hybrid", "gap_usd": 0.0,
                           "proven": True, "unproven": False}
    first, second = doc["parameters"]
    assert {k: first[k] for k in ("param", "low", "high", "npv_low_usd", "npv_high_usd",
                                  "committed_npv_low_usd", "committed_npv_high_usd",
                                  "decision_changes_low", "decision_changes_high")} == {
        "param": "cloud_prices", "low": 0.5, "high": 1.5, "npv_low_usd": CLOUD_NPV / 2,
        "npv_high_usd": ONPREM, "committed_npv_low_usd": ONPREM,
        "committed_npv_high_usd": ONPREM, "decision_changes_low": True,
        "decision_changes_high": False}
    assert second["param"] == "electricity"
    assert second["npv_low_usd"] == ONPREM - ENERGY / 2
    assert second["npv_high_usd"] == ONPREM + ENERGY / 2


def test_sensitivity_table_is_a_tornado(files, capsys):
    assert tco(*files, "sensitivity", "--param", "electricity", "--param", "server_prices") == 0
    out = capsys.readouterr().out
    assert out.index("server_prices") < out.index("electricity")     # the wider swing first
    assert "█" in out and "No lever changes the first-stage decisions" in out


def test_breakeven_json_and_csv(files, capsys, tmp_path):
    assert tco(*files, "breakeven", "--param", "cloud_prices", "--low", "0.5", "--high", "1.5",
               "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    (flip,) = doc["flips"]
    assert abs(flip["value"] - CLOUD_FLIP) <= 0.001
    assert flip["before"]["servers"] == {} and flip["after"]["servers"] == {"box": 1}
    assert flip["after"]["npv_usd"] == ONPREM
    # the curve is the plan re-optimized at the 11 values of the grid; the flip's interval
    # (within 0.1% of the range) has the cloud proven cheaper at its low end and the server
    # at its high end, each held at the other's end
    assert len(doc["curve"]) == 11 and doc["param"] == "cloud_prices"
    low, high = flip["interval"]
    assert low <= CLOUD_FLIP <= high and high - low <= 0.001
    assert flip["after_held_at_before"]["npv_usd"] == ONPREM
    assert flip["before_held_at_after"]["npv_usd"] == pytest.approx(high * CLOUD_NPV, abs=0.01)
    assert flip["before"]["proven"] and flip["after"]["proven"] and doc["ties"] == []

    out = tmp_path / "curve.csv"
    assert tco(*files, "breakeven", "--param", "cloud_prices", "--low", "0.5", "--high", "1.5",
               "--points", "3", "--format", "csv", "--output", str(out)) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert float(rows[0]["value"]) == 0.5
    assert float(rows[0]["npv_usd"]) == CLOUD_NPV / 2
    assert float(rows[-1]["npv_usd"]) == ONPREM


def test_breakeven_table_names_the_decisions_on_each_side(files, capsys):
    assert tco(*files, "breakeven", "--param", "onprem.sites[0].electricity_usd_per_kwh",
               "--low", "0.1", "--high", "0.5", "--points", "5") == 0
    out = capsys.readouterr().out
    assert "1 box" in out and "no servers" in out
    assert "0.293" in out


def test_risk_json_and_markdown(files, capsys):
    assert tco(*files, "risk", "--samples", "16", "--seed", "4", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["samples"], doc["seed"], doc["criterion"]) == (16, 4, "mean")
    names = {c["scenario"]: c for c in doc["candidates"]}
    assert set(names) == {"hybrid", "cloud-only"}
    assert names["hybrid"]["same_as"] == ["onprem-only"]
    assert set(names["hybrid"]) >= {"mean_usd", "p10_usd", "p50_usd", "p90_usd", "cvar90_usd",
                                    "p_cheapest", "p_infeasible"}
    assert doc["recommended"] in names

    assert tco(*files, "risk", "--samples", "16", "--seed", "4", "--criterion", "p90",
               "--format", "markdown") == 0
    md = capsys.readouterr().out
    assert "| candidate |" in md and "hybrid * (= onprem-only)" in md


def test_risk_without_uncertainty_is_usage_error(tmp_path, capsys):
    plan = tmp_path / "plain.toml"
    plan.write_text(PLAN)
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps(CATALOG))
    assert tco(plan, cat, "risk", "--samples", "4") == 2
    assert "no [uncertainty] table" in capsys.readouterr().err


BAD = [
    ('electricty = { dist = "uniform", low = 0.8, high = 1.2 }',
     ["uncertainty.electricty", "did you mean 'electricity'"]),
    ('electricity = { dist = "gauss", mean = 1, sd = 0.1 }',
     ["uncertainty.electricity.dist", "uniform", "lognormal"]),
    ('electricity = { dist = "uniform", low = 1.4, high = 0.8 }',
     ["uncertainty.electricity", "'low' (1.4) must be less than 'high' (0.8)"]),
    ('electricity = { dist = "triangular", low = 0.8, high = 1.2 }',
     ["uncertainty.electricity", "needs 'mode'"]),
    ('electricity = { dist = "lognormal", median = 1, sigma = 0.2, low = 0.5 }',
     ["uncertainty.electricity", "takes no 'low'"]),
    ('electricity = { dist = "lognormal", median = 1, sigma = -0.2 }',
     ["uncertainty.electricity.sigma", "greater than 0"]),
    ('electricity = { dist = "choice", values = [] }',
     ["uncertainty.electricity", "at least one value"]),
    ('electricity = { dist = "choice", values = [1, 2], weights = [1] }',
     ["uncertainty.electricity", "one non-negative weight per value"]),
    ('cloud_prices = { dist = "normal", mean = 1, sd = 0.5 }',
     ["uncertainty.cloud_prices", "cannot be negative", "truncate it"]),
    ('"demand.trian" = { dist = "uniform", low = 0.8, high = 1.2 }',
     ['uncertainty."demand.trian"', "no workload named 'trian'", "did you mean 'train'"]),
    ('"trends.clod" = { dist = "uniform", low = -0.2, high = 0 }',
     ['uncertainty."trends.clod"', "did you mean 'cloud'"]),
    ('"trends.cloud" = { dist = "normal", mean = -0.2, sd = 0.5 }',
     ['uncertainty."trends.cloud"', "above -1"]),
    ('"onprem.sites[0].electricity_usd_per_kwhh" = { dist = "uniform", low = 0.1, high = 0.2 }',
     ["no key 'electricity_usd_per_kwhh'", "did you mean 'electricity_usd_per_kwh'"]),
    ('electricity = { dist = "uniform", low = 0.8, high = 1.2, hgh = 3 }',
     ["uncertainty.electricity.hgh", "did you mean 'high'"]),
]


@pytest.mark.parametrize("command", ["risk", "validate", "compare"])
@pytest.mark.parametrize(("line", "expected"), BAD, ids=[b[1][-1] for b in BAD])
def test_bad_uncertainty_exits_2_naming_the_key(tmp_path, capsys, command, line, expected):
    plan = tmp_path / "bad.toml"
    plan.write_text(PLAN + "\n[uncertainty]\n" + line + "\n")
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps(CATALOG))
    args = [command, str(plan)] + (["--catalog", str(cat)] if command != "validate" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(plan) in err
    for text in expected:
        assert text in err, (text, err)
    assert "Traceback" not in err


@pytest.mark.parametrize(("args", "expected"), [
    (["sensitivity", "--param", "electrcity"], ["--param", "did you mean 'electricity'"]),
    (["sensitivity", "--param", "cloud_prices.gcp"], ["no provider 'gcp'"]),
    (["breakeven", "--param", "plan.name"], ["'plan.name' is not a number"]),
    (["breakeven", "--param", "onprem.servers[3].price_usd"], ["out of range (1 entries)"]),
    (["breakeven", "--param", "electricity", "--low", "2", "--high", "1"],
     ["--low (2) must be less than --high (1)"]),
    (["risk", "--samples", "0"], ["--samples must be at least 1"]),
    (["risk", "--executor", "threads"], ["expected 'local' or 'dask://HOST:PORT'"]),
])
def test_bad_options_exit_2(files, capsys, args, expected):
    assert tco(*files, *args) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, (text, err)
