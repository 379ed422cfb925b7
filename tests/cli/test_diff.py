"""``tco diff``: what changed between two reports of ``tco compare --format json``, on reports
written by real runs of small plans whose answers are worked out by hand.

The plan: one site, one server type ("box": 8 H100, $100,000, 10 kW, a 60-month life, worth
10% at its end, straight line; a sale pays a 10% fee), discount rate 0, 12 months. A month of a
box's full use costs energy 730 + colo 1,000 + maintenance 1,000 + staff 200 = 2,930, and a
bought box loses 1,500 of value a month. The cloud: p5 (8 H100) at $8/h on demand or $7/h
reserved for a year (5,110 a month). One box is owned already, 54 months old.

- OLD: two boxes of work all year (140,160 GPU-hours). The owned box works until its end of
  life in 2027-07 (sold for 10,000 less the fee: 9,000; decommissioning 2,000); one box is
  ordered in 2027-01 and one in 2027-07, worth 82,000 and 91,000 at the end:
  NPV 2 x 12 x 2,930 + 200,000 - 173,000 - 9,000 + 2,000 = 90,320 (hybrid and onprem-only).
  cloud-only reserves two p5 for the year (122,640) and sells the box now (19,000 less 10%):
  122,640 - 17,100 + 2,000 = 107,540.
- NEW: three boxes of work (210,240 GPU-hours), two owned boxes, prices dated later. One box in
  2027-01 and two in 2027-07: 3 x 12 x 2,930 + 300,000 - 264,000 - 18,000 + 4,000 = 127,480;
  cloud-only: 183,960 - 34,200 + 4,000 = 153,760.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tco.cli.diff import diff_reports
from tco.cli.main import main

PLAN = """
[plan]
name = "one box"
start = "2027-01"
months = {months}
discount_rate = 0
mip_gap = 0

[cloud]
providers = ["aws"]
region_availability = 0.9995
commit_every_months = 1
{onprem}
[[workloads]]
name = "train"
kind = "training"
gpu = "H100"
gpu_hours = {gpu_hours}
"""

ONPREM = """
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
{power}existing = [{{ server = "box", count = {owned}, age_months = 54 }}]

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
resale_fee_fraction = 0.1
"""


def plan_text(months: int = 12, gpu_hours: str = "140_160", owned: int = 1, power: str = "",
              site: bool = True) -> str:
    onprem = ONPREM.format(owned=owned, power=power) if site else ""
    return PLAN.format(months=months, gpu_hours=gpu_hours, onprem=onprem)


def catalog(as_of: str) -> dict[str, Any]:
    p5 = {"provider": "aws", "region": "us-east-1", "instance_type": "p5", "gpu": "H100",
          "gpu_count": 8, "purchase": "on_demand", "usd_per_hour": 8.0, "as_of": as_of,
          "source_ref": "list"}
    return {"schema": 1, "compute": [p5, {**p5, "purchase": "reserved_1y", "usd_per_hour": 7.0}]}


REPORTS = {
    "old": (plan_text(), "2026-11-01"),
    "new": (plan_text(gpu_hours="210_240", owned=2), "2027-01-15"),
    # half the horizon, and a site with power for one box: onprem-only cannot do the work
    "short": (plan_text(months=6, power="power_kw = 20\n"), "2026-11-01"),
    # no site: no onprem-only scenario
    "cloud": (plan_text(site=False), "2026-11-01"),
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The four reports, each written by ``tco compare --format json --output``."""
    where = tmp_path_factory.mktemp("reports")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TCO_CACHE_DIR", str(where / "cache"))
        mp.setenv("TCO_OFFLINE", "1")
        for name, (text, as_of) in REPORTS.items():
            plan = where / f"{name}.toml"
            plan.write_text(text)
            cat = where / f"{name}-catalog.json"
            cat.write_text(json.dumps(catalog(as_of)))
            out[name] = where / f"{name}.json"
            assert main(["compare", str(plan), "--catalog", str(cat), "--format", "json",
                         "--output", str(out[name])]) == 0
    return out


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def diff_json(old: Path, new: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["diff", str(old), str(new), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def scenario(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["scenarios"] if s["name"] == name)


def test_the_reports_are_the_worked_answers(reports):
    old, new = load(reports["old"]), load(reports["new"])
    assert old["recommended"] == new["recommended"] == "hybrid"
    assert [scenario(old, n)["npv_usd"] for n in ("hybrid", "cloud-only", "onprem-only")] == [
        90_320.0, 107_540.0, 90_320.0]
    assert [scenario(new, n)["npv_usd"] for n in ("hybrid", "cloud-only", "onprem-only")] == [
        127_480.0, 153_760.0, 127_480.0]


def test_npv_and_total_change_per_scenario(reports, capsys):
    d = diff_json(reports["old"], reports["new"], capsys)
    assert d["old_file"] == str(reports["old"]) and d["new_file"] == str(reports["new"])
    assert d["recommended"] == {"old": "hybrid", "new": "hybrid", "changed": False}
    assert d["plan"]["changed"] == [] and d["plan"]["new"] == {
        "name": "one box", "start": "2027-01", "months": 12}
    hybrid = scenario(d, "hybrid")
    assert hybrid["change"] == "changed"
    assert hybrid["old"] == {"feasible": True, "reason": None, "npv_usd": 90_320.0,
                             "total_usd": 90_320.0}
    assert hybrid["npv_change_usd"] == 127_480.0 - 90_320.0 == 37_160.0
    assert hybrid["npv_change_pct"] == round(100 * 37_160 / 90_320, 2) == 41.14
    assert scenario(d, "cloud-only")["npv_change_usd"] == 153_760.0 - 107_540.0
    assert scenario(d, "cloud-only")["total_change_pct"] == 42.98
    # every scenario's change is the new report's amount less the old one's
    old, new = load(reports["old"]), load(reports["new"])
    assert [s["name"] for s in d["scenarios"]] == [s["name"] for s in new["scenarios"]]
    for s in d["scenarios"]:
        for key in ("npv", "total"):
            assert s[f"{key}_change_usd"] == round(
                scenario(new, s["name"])[f"{key}_usd"] - scenario(old, s["name"])[f"{key}_usd"],
                2)


def test_a_changed_count_is_one_changed_row(reports, capsys):
    d = diff_json(reports["old"], reports["new"], capsys)
    # the 2027-01 order (one box in both) did not change; the 2027-07 order went 1 -> 2
    assert d["procurement"] == [
        {"change": "changed", "scenario": s, "site": "dc", "server": "box",
         "order_month": "2027-07",
         "old": {"arrival_month": "2027-07", "count": 1, "capex_usd": 100_000.0, "leased": 0,
                 "loan": 0},
         "new": {"arrival_month": "2027-07", "count": 2, "capex_usd": 200_000.0, "leased": 0,
                 "loan": 0},
         "changed_fields": ["count", "capex_usd"]} for s in ("hybrid", "onprem-only")]
    rows = {r["scenario"]: r for r in d["retirements"]}
    assert set(rows) == {"hybrid", "cloud-only", "aws-only", "onprem-only"}
    assert {r["change"] for r in d["retirements"]} == {"changed"}
    assert (rows["hybrid"]["month"], rows["hybrid"]["cohort"]) == ("2027-07", "existing[0]")
    assert rows["hybrid"]["changed_fields"] == ["count", "resale_usd", "decommission_usd"]
    assert (rows["hybrid"]["old"]["resale_usd"], rows["hybrid"]["new"]["resale_usd"]) == (
        9_000.0, 18_000.0)
    assert rows["cloud-only"]["month"] == "2027-01"
    assert (rows["cloud-only"]["old"]["resale_usd"], rows["cloud-only"]["new"]["resale_usd"]) == (
        17_100.0, 34_200.0)
    # a year of reserved p5 at $7/h is 5,110 a month each: two, then three
    assert [(c["scenario"], c["change"], c["old"]["count"], c["new"]["count"],
             c["old"]["usd_per_month"], c["new"]["usd_per_month"], c["changed_fields"])
            for c in d["commitments"]] == [
        (s, "changed", 2, 3, 10_220.0, 15_330.0, ["count", "usd_per_month"])
        for s in ("cloud-only", "aws-only")]
    assert d["prices"] == [{"change": "changed", "provider": "aws",
                            "old": {"source": "user", "as_of": "2026-11-01", "records": 2,
                                    "spot_as_of": None},
                            "new": {"source": "user", "as_of": "2027-01-15", "records": 2,
                                    "spot_as_of": None},
                            "changed_fields": ["as_of"]}]
    assert d["notes"] == []


def test_a_report_against_itself_changes_nothing(reports, capsys):
    d = diff_json(reports["old"], reports["old"], capsys)
    assert {s["change"] for s in d["scenarios"]} == {"same"}
    assert all(s["npv_change_usd"] == 0.0 for s in d["scenarios"])
    assert [d[t] for t in ("procurement", "retirements", "commitments", "prices")] == [[]] * 4


def test_another_horizon_and_an_infeasible_scenario(reports, capsys):
    d = diff_json(reports["old"], reports["short"], capsys)
    assert d["plan"]["changed"] == ["months"]
    assert d["notes"][0].startswith("warning: the reports are of different plans or horizons "
                                    "(one box, 12 months from 2027-01 -> one box, 6 months")
    onprem = scenario(d, "onprem-only")
    assert onprem["change"] == "changed"
    assert onprem["new"]["feasible"] is False and onprem["new"]["npv_usd"] is None
    assert [onprem[k] for k in ("npv_change_usd", "npv_change_pct", "total_change_usd",
                                "total_change_pct")] == [None] * 4
    reason = scenario(load(reports["short"]), "onprem-only")["reason"]
    assert reason and f"onprem-only: infeasible in {reports['short']}: {reason}" in d["notes"]
    # six months of two boxes' work: the box ordered for 2027-07 is no longer ordered
    assert {"change": "removed", "scenario": "hybrid", "site": "dc", "server": "box",
            "order_month": "2027-07",
            "old": {"arrival_month": "2027-07", "count": 1, "capex_usd": 100_000.0,
                    "leased": 0, "loan": 0},
            "new": None, "changed_fields": []} in d["procurement"]
    # the amount the new report lacks is shown as "-", never as $0
    assert main(["diff", str(reports["old"]), str(reports["short"]), "--format",
                 "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| onprem-only | NPV | $90,320 | - | - | - |" in md
    assert "| (infeasible in new) | total |" in md
    assert "| (infeasible in new) | total | $90,320 | - | - | - |" in md
    same = diff_json(reports["short"], reports["short"], capsys)
    assert same["notes"] == [f"onprem-only: infeasible in both reports: {reason}"]
    assert scenario(same, "onprem-only")["change"] == "same"


def test_a_scenario_in_one_report_only(reports, capsys):
    d = diff_json(reports["old"], reports["cloud"], capsys)
    onprem = scenario(d, "onprem-only")
    assert onprem["change"] == "removed" and onprem["new"] is None
    assert onprem["old"]["npv_usd"] == 90_320.0 and onprem["npv_change_usd"] is None
    assert f"onprem-only: only in {reports['old']}" in d["notes"]
    assert [s["name"] for s in d["scenarios"]][-1] == "onprem-only"
    # without a site, hybrid is the cloud-only plan
    assert d["recommended"]["old"] == "hybrid"
    assert scenario(d, "hybrid")["new"]["npv_usd"] == scenario(d, "cloud-only")["new"]["npv_usd"]
    assert {r["change"] for r in d["procurement"]} == {"removed"}
    back = diff_json(reports["cloud"], reports["old"], capsys)
    assert scenario(back, "onprem-only")["change"] == "added"
    assert scenario(back, "onprem-only")["old"] is None


def test_markdown_and_table(reports, capsys):
    old, new = str(reports["old"]), str(reports["new"])
    assert main(["diff", old, new, "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith(f"# What changed: {old} -> {new}\n")
    assert "Recommended: hybrid (unchanged)." in md
    assert "| hybrid | NPV | $90,320 | $127,480 | +$37,160 | +41.1% |" in md
    assert "| (recommended) | total |" in md
    assert ("| changed | hybrid | dc | box | 2027-07 | 2027-07 | 1 -> 2 | "
            "$100,000 -> $200,000 |") in md
    assert "| changed | aws | user | 2026-11-01 -> 2027-01-15 | 2 |" in md
    assert main(["diff", old, new]) == 0
    out = capsys.readouterr().out
    assert "Recommended: hybrid (unchanged)" in out
    assert "+$37,160" in out and "+41.1%" in out and "1 -> 2" in out
    assert "Procurement changes" in out and "Price source changes" in out


def test_output_writes_each_format_to_a_file(reports, tmp_path, capsys):
    old, new = str(reports["old"]), str(reports["new"])
    for fmt in ("table", "json", "markdown"):
        target = tmp_path / "out" / f"diff.{fmt}"
        assert main(["diff", old, new, "--format", fmt, "--output", str(target)]) == 0
        captured = capsys.readouterr()
        assert captured.out == "" and f"wrote {target}" in captured.err
        text = target.read_text()
        if fmt == "json":
            assert json.loads(text)["recommended"]["old"] == "hybrid"
        else:
            assert "$100,000 -> $200,000" in text and "+$37,160" in text
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


def test_a_table_missing_from_a_report_is_not_compared(reports):
    old, new = load(reports["old"]), load(reports["new"])
    del old["retirements"]
    new["recommended"] = None
    d = diff_reports(old, new, "a.json", "b.json")
    assert d.tables[next(t for t in d.tables if t.value == "retirements")] is None
    doc = d.to_dict()
    assert doc["retirements"] is None
    assert "retirements: not compared (a.json has no retirements table)" in doc["notes"]
    assert doc["recommended"] == {"old": "hybrid", "new": None, "changed": True}


def test_a_percentage_of_nothing_is_none():
    def report(npv: float | None, total: float | None) -> dict[str, Any]:
        return {"plan": {"name": "p", "start": "2027-01", "months": 1}, "recommended": "s",
                "scenarios": [{"name": "s", "feasible": True, "npv_usd": npv,
                               "total_usd": total}],
                "procurement": [], "retirements": [], "commitments": [], "prices": []}

    s = diff_reports(report(0.0, 10.0), report(5.0, 12.5)).scenarios[0]
    assert (s.npv_change_usd, s.npv_change_pct) == (5.0, None)
    assert (s.total_change_usd, s.total_change_pct) == (2.5, 25.0)


def _without_site(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    del doc["procurement"][0]["site"]
    return doc


BAD = [
    ("missing", None, "no such file"),
    ("not json", "{\"plan\": ", "not JSON (Expecting value at line 1 column 10)"),
    ("a list", "[1, 2]", "found a JSON list"),
    ("a catalog", json.dumps(catalog("2026-11-01")), "no 'plan', 'recommended', 'scenarios'"),
    ("a bad row", _without_site, "procurement[0] has no 'site'"),
]


@pytest.mark.parametrize(("case", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_naming_the_file(reports, tmp_path, capsys, case, content, message):
    bad = tmp_path / "bad.json"
    if callable(content):
        bad.write_text(json.dumps(content(load(reports["old"]))))
    elif content is not None:
        bad.write_text(content)
    for args in ([str(bad), str(reports["new"])], [str(reports["old"]), str(bad)]):
        assert main(["diff", *args]) == 2
        err = capsys.readouterr().err
        assert f"tco: error: {bad}: " in err and message in err
        assert "tco compare --format json" in err and "Traceback" not in err


def test_an_unwritable_output_exits_2(reports, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["diff", str(reports["old"]), str(reports["new"]), "--output",
                 str(blocker / "diff.md")]) == 2
    assert f"{blocker / 'diff.md'}: cannot write it" in capsys.readouterr().err


def test_the_inputs_that_changed_are_listed(reports, capsys):
    # OLD and NEW differ in the work (140,160 -> 210,240 GPU-hours) and the boxes owned
    # (1 -> 2): exactly those two keys changed, named by workload and site, not by index
    d = diff_json(reports["old"], reports["new"], capsys)
    assert [(r["change"], r["key"], r["old"]["value"], r["new"]["value"])
            for r in d["inputs"]] == [
        ("changed", "onprem.sites[dc].existing[0].count", 1, 2),
        ("changed", "workloads[train].gpu_hours", 140_160.0, 210_240.0)]
    # a report against itself: no input changed
    assert diff_json(reports["old"], reports["old"], capsys)["inputs"] == []
    # the table lists them, brackets and all
    assert main(["diff", str(reports["old"]), str(reports["new"])]) == 0
    text = capsys.readouterr().out
    assert "Input changes" in text
    assert "workloads[train].gpu_hours" in text and "140160.0 -> 210240.0" in text


def test_the_horizon_change_is_an_input_change_too(reports, capsys):
    d = diff_json(reports["old"], reports["short"], capsys)
    changed = {r["key"]: (r["old"]["value"], r["new"]["value"]) for r in d["inputs"]
               if r["change"] == "changed"}
    assert changed["plan.months"] == (12, 6)
    assert changed["onprem.sites[dc].power_kw"] == (None, 20.0)
