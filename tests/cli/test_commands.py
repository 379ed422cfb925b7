"""The commands end to end, in-process, on small plans and the bundled snapshot."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tco.cli.formats import OutputFormat
from tco.cli.main import main, starter_plan
from tco.cli.render import TEXT_RENDERERS
from tco.pricing import load_catalog

SMALL = """
[plan]
name = "small"
start = "2027-01"
months = 2
discount_rate = 0
mip_gap = 0

[cloud]
providers = ["aws"]
region_availability = 0.9995
commit_every_months = 1

[[workloads]]
name = "svc"
kind = "inference"
gpu = "L4"
gpus = 2
growth_per_month = 0
"""

CATALOG = {"schema": 1, "compute": [
    {"provider": "aws", "region": "us-east-1", "instance_type": "g6.xlarge", "gpu": "L4",
     "gpu_count": 1, "purchase": "on_demand", "usd_per_hour": 1.25, "as_of": "2026-11-01",
     "source_ref": "negotiated-2026"}]}


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    plan = tmp_path / "small.toml"
    plan.write_text(SMALL)
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps(CATALOG))
    return plan, cat


def test_compare_json_on_a_user_catalog(small, capsys):
    plan, cat = small
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # 2 GPUs x 730 h x 2 months x $1.25
    assert doc["recommended"] in ("hybrid", "cloud-only", "aws-only")
    hybrid = next(s for s in doc["scenarios"] if s["name"] == "hybrid")
    assert hybrid["total_usd"] == 3650.0
    assert hybrid["breakdown"]["cloud_compute"] == 3650.0
    assert doc["prices"] == [{"provider": "aws", "source": "user", "as_of": "2026-11-01",
                              "records": 1,
                              "spot_as_of": None}]
    assert {a["instance_type"] for a in doc["allocations"]} == {"g6.xlarge"}
    assert doc["plan"] == {"name": "small", "start": "2027-01", "months": 2}


def test_compare_csv_lists_allocations(small, capsys):
    plan, cat = small
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    hybrid = [r for r in rows if r["scenario"] == "hybrid"]
    assert [(r["month"], float(r["gpu_hours"]), float(r["cost_usd"])) for r in hybrid] == [
        ("2027-01", 1460.0, 1825.0), ("2027-02", 1460.0, 1825.0)]


def test_compare_markdown_and_table(small, capsys):
    plan, cat = small
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "## Scenarios" in md and "| hybrid" in md and "$3,650" in md
    assert "## Assumptions" in md
    assert main(["compare", str(plan), "--catalog", str(cat)]) == 0
    out = capsys.readouterr().out
    assert "Scenarios" in out and "$3,650" in out and "Prices used" in out


def test_every_output_format_is_rendered(small, tmp_path, capsys):
    plan, cat = small
    assert set(TEXT_RENDERERS) | {OutputFormat.TABLE} == set(OutputFormat)
    for fmt in OutputFormat:
        out = tmp_path / f"report.{fmt.value}"
        assert main(["compare", str(plan), "--catalog", str(cat), "--format", fmt.value,
                     "--output", str(out)]) == 0
        text = out.read_text()
        assert ("1825.0" if fmt == OutputFormat.CSV else "3,650") in text.replace("3650", "3,650")


def test_infeasible_plan_exits_1_with_reason(small, tmp_path, capsys):
    plan, cat = small
    plan.write_text(SMALL + 'users = { ap-south = 1.0 }\nmax_latency_ms = 20\n')
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "json"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["recommended"] is None
    assert "svc: no L4 offer within 20 ms of ap-south" in captured.err


def test_provider_without_prices_exits_3(small, capsys):
    plan, cat = small
    plan.write_text(SMALL.replace('providers = ["aws"]', 'providers = ["aws", "gcp"]'))
    assert main(["compare", str(plan), "--catalog", str(cat)]) == 3
    assert "no prices for provider(s) gcp" in capsys.readouterr().err


def test_export_then_plan_with_exactly_that_catalog(tmp_path, capsys):
    out = tmp_path / "frozen.json"
    assert main(["prices", "export", str(out)]) == 0
    doc = json.loads(out.read_text())
    snapshot = load_catalog(offline=True)
    assert doc["schema"] == 1 and len(doc["compute"]) == len(snapshot.compute)
    frozen = load_catalog(path=out)
    assert [r.usd_per_hour for r in frozen.compute] == [r.usd_per_hour for r in snapshot.compute]
    assert main(["prices", "export", str(out)]) == 2  # never overwrites without --force


def test_prices_list_filters_and_json(capsys):
    assert main(["prices", "list", "--provider", "aws", "--gpu", "H100", "--purchase",
                 "on_demand", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["provider"] == "aws" and r["gpu"] == "H100"
                        and r["purchase"] == "on_demand" for r in rows)
    assert all(r["usd_per_hour"] > 0 and r["source"] == "snapshot" and r["as_of"] for r in rows)
    assert main(["prices", "list", "--region", "us-east-1", "--gpu", "L4"]) == 0
    assert "g6.xlarge" in capsys.readouterr().out


def test_init_writes_a_plan_that_validates(tmp_path, capsys):
    target = tmp_path / "my plan.toml"
    assert main(["init", str(target)]) == 0
    text = target.read_text()
    # the file's own name, quoted for a shell, in the commands its comments suggest
    quoted = f"'{target}'"
    assert f"tco validate {quoted}" in text and f"tco compare {quoted}" in text
    assert text == starter_plan().replace("{file}", quoted)
    assert main(["validate", str(target)]) == 0
    assert "ok" in capsys.readouterr().out


def test_an_unproven_recommendation_exits_4_and_the_report_is_written(small, tmp_path, capsys,
                                                                       monkeypatch):
    # the solver stops without a plan of its own: the simple plan is returned, with no bound
    # to prove it by, and the recommendation built on it is unproven
    from tco.optimizer import optimize as optimizing
    from tco.optimizer.solver import SolveInfo, SolveStatus

    real_run = optimizing.run

    def busy(prob, solver, time_limit=None, gap=0.01, **kw):
        if kw.get("start") is not None:
            return SolveInfo("highs", SolveStatus.NOT_SOLVED, 60.0, None)
        return real_run(prob, solver, time_limit, gap, **kw)

    monkeypatch.setattr(optimizing, "warm_start", lambda *a, **k: None)
    monkeypatch.setattr(optimizing, "run", busy)
    plan, cat = small
    out = tmp_path / "report.json"
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "json",
                 "--output", str(out)]) == 4
    doc = json.loads(out.read_text())
    rec = next(s for s in doc["scenarios"] if s["name"] == doc["recommended"])
    assert rec["unproven"] is True and rec["total_usd"] == 3650.0
    assert "unproven" in capsys.readouterr().err


def test_csv_tables_of_cash_flows_and_retirements(small, capsys):
    plan, cat = small
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "csv",
                 "--table", "cash-flows"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    hybrid = [(r["month"], r["category"], float(r["usd"])) for r in rows
              if r["scenario"] == "hybrid"]
    assert hybrid == [("2027-01", "cloud_compute", 1825.0), ("2027-02", "cloud_compute", 1825.0)]
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "csv",
                 "--table", "retirements"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "scenario,site,server,cohort,month,age_months,count,reason,resale_usd,decommission_usd"]


def test_csv_tables_of_the_scenarios_and_the_cost_breakdown(small, capsys):
    # the small plan costs 1,825 a month on demand for two months
    plan, cat = small
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "csv",
                 "--table", "scenarios"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["scenario"] for r in rows] == [s["name"] for s in doc["scenarios"]]
    hybrid = rows[0]
    assert (hybrid["recommended"], hybrid["feasible"]) == ("True", "True")
    assert float(hybrid["npv_usd"]) == float(hybrid["total_usd"]) == 3650.0
    assert main(["compare", str(plan), "--catalog", str(cat), "--format", "csv",
                 "--table", "breakdown"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    for s in doc["scenarios"]:
        if s["feasible"]:
            mine = [r for r in rows if r["scenario"] == s["name"]]
            # the categories sum to the scenario's total, and compute is all of it here
            assert sum(float(r["usd"]) for r in mine) == pytest.approx(s["total_usd"])
            assert {r["category"]: float(r["usd"]) for r in mine}["cloud_compute"] == 3650.0


def test_the_tornado_draws_a_lever_that_lowers_cost_as_it_rises():
    from tco.cli.analysis import tornado_bars

    # the research lab's resale lever: $610,000 at its low value, -$51,000 at its high value,
    # around a base of $335,146: both ends are bars, the high one on the left
    bars = tornado_bars(335_146.0, 610_000.0, -51_000.0, 661_000.0)
    left, right = bars.split("|")
    assert left.strip().startswith("H ") and "█" in left
    assert right.strip().endswith(" L") and "█" in right
    # the wider swing draws the longer bar: 386,146 below against 274,854 above
    assert left.count("█") > right.count("█")
    # a lever that raises cost as it rises: L on the left, H on the right
    left, right = tornado_bars(100.0, 50.0, 150.0, 50.0).split("|")
    assert left.strip().startswith("L ") and right.strip().endswith(" H")
    # both ends above the base share the right side
    assert tornado_bars(100.0, 120.0, 150.0, 50.0).split("|")[1].endswith(" LH")


def test_assumptions_of_several_servers_share_a_row_and_a_source_is_given_once():
    from tco.cli.render import assumption_rows
    from tco.optimizer.plan import Assumption
    from tco.optimizer.result import Result

    fee = "a broker's fee, sourced"
    life = "five years, sourced"
    result = Result("p", "2027-01", 12, (), None, (), (
        Assumption("onprem.servers[0].resale_fee_fraction (hgx-h100)", "0.15", fee),
        Assumption("onprem.servers[1].resale_fee_fraction (hgx-h200)", "0.15", fee),
        Assumption("onprem.servers[2].resale_fee_fraction (hgx-b200)", "0.15", fee),
        Assumption("onprem.servers[0].useful_life_months (hgx-h100)", "60 months", life),
        Assumption("onprem.servers[2].useful_life_months (hgx-b200)", "48 months", life),
        Assumption("cloud.commit_every_months", "3 months", "tco default")))
    _, _, rows, _ = assumption_rows(result)
    assert rows == [
        ["onprem.servers[*].resale_fee_fraction (hgx-h100, hgx-h200, hgx-b200)", "0.15", fee],
        ["onprem.servers[0].useful_life_months (hgx-h100)", "60 months", life],
        ["onprem.servers[2].useful_life_months (hgx-b200)", "48 months", "as above"],
        ["cloud.commit_every_months", "3 months", "tco default"]]
