"""The warnings of a report: only about offers the plan could use, one line per kind, and one
line per provider whose prices are old, with the dates of the prices of each kind."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tco.cli.main import main
from tco.optimizer import plan_from_dict
from tco.optimizer.notices import could_use, price_warnings
from tco.pricing.cache import RecordCache
from tco.pricing.catalog import read_catalog_file
from tco.pricing.integrity import check_catalog
from tco.pricing.settings import PricingSettings
from tests.conftest import catalog, egress, offer, plan_doc, storage

TODAY = dt.date.today()
GPU_DAY = TODAY - dt.timedelta(days=200)
STORAGE_DAY = TODAY - dt.timedelta(days=400)
FRESH_DAY = TODAY - dt.timedelta(days=10)

PLAN = """
[plan]
name = "warnings"
start = "2027-01"
months = 2
discount_rate = 0
mip_gap = 0

[cloud]
providers = ["aws"]
regions = ["us-east-1", "us-east-2"]
region_availability = 0.9995
commit_every_months = 1

[[workloads]]
name = "train"
kind = "training"
gpu = "L4"
gpu_hours = 1000
interruptible = true
spot_overhead = 0.1
storage_tb = 1
egress_tb_per_month = 1

[[workloads]]
name = "serve"
kind = "inference"
gpu = "L40S"
gpus = 1
growth_per_month = 0
"""


def _compute(region: str, itype: str, gpu: str, purchase: str, usd: float,
             as_of: dt.date = GPU_DAY, provider: str = "aws") -> dict[str, object]:
    return {"provider": provider, "region": region, "instance_type": itype, "gpu": gpu,
            "gpu_count": 1, "purchase": purchase, "usd_per_hour": usd,
            "as_of": as_of.isoformat()}


def _tiers(region: str, as_of: dt.date, rate: float) -> dict[str, object]:
    return {"provider": "aws", "region": region, "tiers": [[0, rate]], "as_of": as_of.isoformat()}


CATALOG = {"schema": 1, "compute": [
    # what the plan can use: L4 (spot too) and L40S in us-east-1 and us-east-2
    _compute("us-east-1", "g6.xlarge", "L4", "on_demand", 1.0),
    _compute("us-east-1", "g6.xlarge", "L4", "spot", 1.0),           # not cheaper: relevant
    _compute("us-east-2", "g6.xlarge", "L4", "on_demand", 1.0),
    _compute("us-east-2", "g6.xlarge", "L4", "spot", 1.2),           # not cheaper: relevant
    _compute("us-east-1", "g6e.xlarge", "L40S", "on_demand", 2.0, FRESH_DAY),
    _compute("us-east-1", "g6e.xlarge", "L40S", "reserved_1y", 2.5, FRESH_DAY),  # relevant
    # what it cannot: a region it leaves out, a GPU class no workload accepts, spot for a
    # workload that may not be interrupted, a provider it does not use
    _compute("eu-west-1", "g6.xlarge", "L4", "on_demand", 1.0),
    _compute("eu-west-1", "g6.xlarge", "L4", "spot", 1.5),
    _compute("us-east-1", "p5.48xlarge", "H100", "on_demand", 50.0),
    _compute("us-east-1", "p5.48xlarge", "H100", "spot", 60.0),
    _compute("us-east-1", "g6e.xlarge", "L40S", "spot", 2.0, FRESH_DAY),
    _compute("us-central1", "g2-standard-4", "L4", "on_demand", 0.9, provider="gcp"),
    _compute("us-central1", "g2-standard-4", "L4", "spot", 0.9, provider="gcp"),
    # left out: a price that is not positive, in a region the plan does not use
    _compute("eu-west-1", "g6.2xlarge", "L4", "on_demand", 0.0),
], "storage": [_tiers("us-east-1", STORAGE_DAY, 0.023), _tiers("us-east-2", STORAGE_DAY, 0.023),
               _tiers("eu-west-1", TODAY - dt.timedelta(days=900), 0.023)],
   "egress": [_tiers("us-east-1", FRESH_DAY, 0.09), _tiers("us-east-2", FRESH_DAY, 0.09)]}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    cat = tmp_path / "negotiated.json"
    cat.write_text(json.dumps(CATALOG))
    return plan, cat


def _warnings(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["compare", *argv, "--format", "json"]) == 0
    return list(json.loads(capsys.readouterr().out)["warnings"])


def test_compare_warns_only_about_offers_the_plan_could_use(files, capsys):
    plan, cat = files
    assert _warnings(capsys, str(plan), "--catalog", str(cat)) == [
        (f"2 spot offers cost as much as on-demand or more; `tco prices list --catalog {cat} "
         f"--purchase spot --provider aws --gpu L4` shows them"),
        (f"1 reservation costs as much per hour as on-demand or more; `tco prices list --catalog "
         f"{cat} --purchase reserved_1y --provider aws --region us-east-1 --gpu L40S` shows it"),
        (f"prices in {cat} older than 90 days: aws GPU {GPU_DAY.isoformat()}, storage "
         f"{STORAGE_DAY.isoformat()}; update the file before committing to a purchase"),
    ]


def test_a_catalog_file_is_never_answered_with_pass_a_catalog(files, capsys):
    plan, cat = files
    stale = [w for w in _warnings(capsys, str(plan), "--catalog", str(cat)) if "old" in w]
    assert stale and all("--catalog" not in w and "tco prices refresh" not in w for w in stale)


def test_irrelevant_offers_produce_no_warning(tmp_path, capsys):
    doc = {"schema": 1, "compute": [c for c in CATALOG["compute"]
                                    if c["region"] not in ("us-east-1", "us-east-2")
                                    or c["gpu"] == "H100"
                                    or (c["gpu"] == "L40S" and c["purchase"] == "spot")]
           + [_compute("us-east-1", "g6.xlarge", "L4", "on_demand", 1.0, FRESH_DAY),
              _compute("us-east-1", "g6e.xlarge", "L40S", "on_demand", 2.0, FRESH_DAY)]}
    cat = tmp_path / "c.json"
    cat.write_text(json.dumps(doc))
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN.replace("storage_tb = 1\negress_tb_per_month = 1\n", ""))
    # the catalog has four spot offers no cheaper than on-demand, one left out as unusable,
    # storage 900 days old: none of them is an offer this plan could use
    assert len(check_catalog(read_catalog_file(cat)).catalog.notices) == 5
    assert _warnings(capsys, str(plan), "--catalog", str(cat)) == []


def test_snapshot_or_cache_prices_are_refreshed_and_dates_are_per_kind():
    plan = plan_from_dict(plan_doc({"name": "w", "kind": "inference", "gpu": "L4", "gpus": 1,
                                    "storage_tb": 1, "egress_tb_per_month": 1},
                                   providers=("aws", "gcp"))).plan
    today = dt.date(2026, 12, 1)
    old = dt.date(2025, 11, 30)
    older = dt.date(2024, 9, 25)
    cat = catalog(_at(offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0), old),
                  _at(storage("aws", "us-east-1", (0.0, 0.02)), older),
                  _at(egress("aws", "us-east-1", (0.0, 0.09)), older),
                  _at(offer("gcp", "us-central1", "g2", "L4", 1, "on_demand", 1.0), old),
                  _at(storage("gcp", "us-central1", (0.0, 0.02)), old),
                  _at(egress("gcp", "us-central1", (0.0, 0.09)), dt.date(2026, 11, 1)),
                  # the H100 price is older still, but no workload of the plan runs on H100
                  _at(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 50.0),
                      dt.date(2020, 1, 1)))
    # one line for every provider, each kind with the date of its oldest usable price
    assert price_warnings(plan, check_catalog(cat).catalog, today) == [
        ("prices older than 90 days: aws GPU 2025-11-30, storage and egress 2024-09-25; gcp "
         "GPU and storage 2025-11-30; run `tco prices refresh` before committing to a purchase"),
    ]


def test_spot_counts_only_for_a_workload_that_may_be_interrupted():
    steady = plan_from_dict(plan_doc({"name": "w", "kind": "inference", "gpu": "L4",
                                      "gpus": 1})).plan
    spot = offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "spot", 0.5)
    assert not could_use(steady, spot)
    assert could_use(steady, offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0))
    flexible = plan_from_dict(plan_doc({"name": "w", "kind": "training", "gpu": "L4",
                                        "gpu_hours": 10, "interruptible": True,
                                        "spot_overhead": 0.1})).plan
    assert could_use(flexible, spot)


def _at(record, day: dt.date):
    return replace(record, as_of=day)


def test_cache_info_shows_the_last_failure_and_the_next_attempt(capsys):
    settings = PricingSettings.from_env()          # the test's own cache (conftest)
    cache = RecordCache(settings)
    at = dt.datetime(2030, 1, 2, 3, 4, tzinfo=dt.UTC)   # its cool-down is still running
    cache.record_failure("azure", "API unreachable: host not found (prices.azure.com:443)", at=at)
    cache.record_failure("gcp", "API unreachable: connection refused (127.0.0.1:9)",
                         at=dt.datetime(2020, 5, 6, 7, 8, tzinfo=dt.UTC))
    assert main(["cache", "info"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"cache: {settings.cache_dir} (live prices are fresh for 24 h)",
        ("azure: no live prices cached (plans use the bundled snapshot); last refresh failed "
         "2030-01-02 03:04 UTC: API unreachable: host not found (prices.azure.com:443); next "
         "automatic attempt not before 2030-01-02 04:04 UTC"),
        ("gcp: no live prices cached (plans use the bundled snapshot); last refresh failed "
         "2020-05-06 07:08 UTC: API unreachable: connection refused (127.0.0.1:9); next automatic "
         "attempt on the next run"),
    ]


def test_warnings_go_to_standard_error_beside_the_report(files, capsys):
    plan, cat = files
    assert main(["compare", str(plan), "--catalog", str(cat)]) == 0
    out = capsys.readouterr()
    assert "warning:" not in out.out and "Recommended:" in out.out
    lines = [line for line in out.err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 3
    assert any("update the file before committing to a purchase" in line for line in lines)


def test_at_most_three_warnings_the_last_saying_how_many_more():
    from dataclasses import replace

    from tco.cli.render import warning_lines
    from tco.optimizer.result import Result

    result = Result("p", "2027-01", 12, (), None, (), (), tuple(f"w{i}" for i in range(5)))
    assert warning_lines(result) == ["warning: w0", "warning: w1",
                                     "warning: 3 more warnings; `--format json` lists them all"]
    three = replace(result, warnings=("a", "b", "c"))
    assert warning_lines(three) == ["warning: a", "warning: b", "warning: c"]
