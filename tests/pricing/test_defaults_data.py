"""Rows of pricing/data/defaults.csv whose value is derived from published figures: the value
is what the stated arithmetic gives, and the row names its sources and date."""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources

import pytest


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    path = resources.files("tco.pricing").joinpath("data", "defaults.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["key"]: r for r in csv.DictReader(fh)}


def test_keys_are_unique_and_sourced_rows_are_dated():
    path = resources.files("tco.pricing").joinpath("data", "defaults.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        keys = [r["key"] for r in csv.DictReader(fh)]
    assert len(keys) == len(set(keys))
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["source"].startswith("http"):
                assert dt.date.fromisoformat(r["as_of"]), r


def test_spot_overhead_from_the_preemption_traces(rows):
    r = rows["workloads.spot_overhead"]
    # median interruptions per running hour of the seven AWS V100 traces, 0.2 h lost each
    rates = sorted([0.735, 0.571, 0.313, 0.439, 0.571, 0.118, 0.267])
    lost = rates[3] * 0.2
    assert float(r["value"]) == round(lost / (1 - lost), 2) == 0.10
    assert "https://github.com/skypilot-org/spot-traces" in r["source"].split()
    assert (r["unit"], r["as_of"]) == ("fraction", "2024-04-16")


def test_site_storage_from_backblaze_figures(rows):
    r = rows["sites.storage_usd_per_tb_month"]
    drives_retail = (10_364 - 8_734) / 0.2                  # the pod with retail drives is 20% dearer
    other_parts = 8_734 - 0.8 * drives_retail               # $2,214
    pod = 960_000 * 0.014 + other_parts                     # 60 x 16 TB at $0.014/GB
    per_usable_tb_month = pod / 960 / (17 / 20) / 60        # usable share, 60-month life
    assert other_parts == pytest.approx(2_214)
    assert float(r["value"]) == round(per_usable_tb_month, 2) == 0.32
    assert "https://www.backblaze.com/blog/hard-drive-cost-per-gigabyte/" in r["source"].split()
    assert r["as_of"] == "2022-12-13"


def test_maintenance_keeps_the_ten_to_fifteen_percent_rule(rows):
    r = rows["servers.maintenance_rate"]
    assert float(r["value"]) == (0.10 + 0.15) / 2
    blog = ("http://www.philipcrewe.net/2013/05/27/how-much-should-you-pay-for-your-software-or-"
            "hardware-support-contract/")
    assert r["source"].split() == [blog, "https://www.supercluster.blog/p/4-nvidia-dgx-h100-hardware"]
    assert r["as_of"] == "2013-05-27"


def test_cloud_region_availability_is_the_providers_regional_figure(rows):
    r = rows["cloud.region_availability"]
    assert float(r["value"]) == 0.9999
    assert r["source"].split() == [
        "https://aws.amazon.com/compute/sla/",
        "https://docs.cloud.google.com/architecture/infra-reliability-guide/design"]
    assert r["as_of"] == "2024-11-20"
    # the site default is the Uptime Institute Tier III figure, a figure of the same kind
    assert float(rows["sites.availability"]["value"]) == 0.99982
