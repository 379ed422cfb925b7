"""The 2026 snapshot refresh: its new and changed rows load with the values their sources give,
and pass the catalog's integrity rules.

Expected values are copied from the sources named in SOURCES_*.md (gpu-price-index
2026-10-10.csv, tsaol/aws-gpu gpu_instances_raw.json and data/*.js, dstack pull request #4110,
Cyclenerd tools/machinetypes.csv), not from the loader."""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources

import pytest

from tco.pricing import Purchase
from tco.pricing.integrity import check_catalog, compute_problem
from tco.pricing.snapshot import load_snapshot

GPI = ("https://github.com/ewyluda/gpu-price-index/blob/ab49c8081de81f1dae5f8f7e7d46af80b68c35d6/"
       "data/observations/2026/2026-10-10.csv")
CYCLENERD = ("https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/"
             "fd66b26ff84fee5cdd94f341ea89206e76c06b99/pricing.yml")
TSAOL_RAW = ("https://github.com/tsaol/aws-gpu/blob/2d0108c7bd261c8e40493fbd35135437bd6c9099/"
             "data/gpu_instances_raw.json")
TSAOL_2026 = "https://github.com/tsaol/aws-gpu/blob/18aebd1d72819fea767dd5b5f835114120b2ad39/"
DSTACK = "https://github.com/dstackai/dstack/pull/4110"


@pytest.fixture(scope="module")
def snapshot():
    return load_snapshot()


@pytest.fixture(scope="module")
def rows(snapshot):
    return {(r.provider, r.region, r.instance_type, r.purchase.value): r for r in snapshot.compute}


# (provider, region, instance_type, purchase) of every row the refresh added
ADDED = [
    *[("aws", "ap-south-1", f"g6e.{size}", "on_demand")
      for size in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge",
                   "48xlarge")],
    ("aws", "ap-south-1", "p6-b200.48xlarge", "on_demand"),
    ("aws", "us-east-1", "p5.4xlarge", "on_demand"),
    ("aws", "us-east-1", "p5.4xlarge", "reserved_3y"),
    *[("aws", region, "p5.48xlarge", "reserved_1y")
      for region in ("us-east-1", "us-east-2", "us-west-2", "eu-north-1", "eu-west-2",
                     "ap-northeast-1", "ap-south-1")],
    *[("aws", region, "p5.4xlarge", "reserved_1y")
      for region in ("us-east-1", "us-east-2", "us-west-2", "ap-northeast-1", "ap-south-1")],
    ("gcp", "us-central1", "a3-megagpu-8g", "on_demand"),
    ("gcp", "us-central1", "a3-megagpu-8g", "spot"),
    ("gcp", "us-central1", "a3-ultragpu-8g", "on_demand"),
    ("gcp", "us-central1", "a3-ultragpu-8g", "spot"),
    ("gcp", "us-central1", "a4-highgpu-8g", "spot"),
]
P5EN_SPOT = {"eu-north-1": 39.8158}
KOEN_0917 = ("https://github.com/koen-nebius/price-monitor/blob/"
             "ee1d0748038c7378b0dafacb1cd2f4d809525a47/store/last_snapshot.json")
# (region, instance type) -> spot $/instance-hour on 2026-09-17 (SOURCES_aws.md)
SPOT_0917 = {("us-east-1", "p5en.48xlarge"): 26.9326, ("us-east-2", "p5en.48xlarge"): 27.0426,
             ("us-west-2", "p5en.48xlarge"): 27.0766,
             ("ap-northeast-1", "p5en.48xlarge"): 30.2276,
             ("us-east-1", "p6-b200.48xlarge"): 42.0874,
             ("us-east-2", "p6-b200.48xlarge"): 42.2719,
             ("us-west-2", "p6-b200.48xlarge"): 40.7235}


def _new_rows(snapshot):
    """Every row the refresh added or whose value, class or date it changed."""
    return [r for r in snapshot.compute
            if (r.provider, r.region, r.instance_type, r.purchase.value) in set(ADDED)
            or r.gpu == "H100-NVL"
            or r.as_of >= dt.date(2026, 7, 30) and r.provider in ("aws", "gcp")
            or r.source_ref == DSTACK]


def test_the_new_rows_pass_the_integrity_rules(snapshot):
    new = _new_rows(snapshot)
    assert len(new) > 600
    for r in new:
        assert compute_problem(r) is None, r
        assert r.usd_per_hour > 0 and r.gpu_count > 0 and r.as_of <= dt.date(2026, 12, 1)
    report = check_catalog(snapshot)
    assert report.rejected == ()
    kept = set(report.catalog.compute)
    assert all(r in kept for r in new)
    # no warning names a new row: reservations and spot are all cheaper than on-demand
    labels = {f"{r.provider}:{r.region} {r.instance_type} {r.purchase.value}:" for r in new}
    assert not [w for w in report.warnings if any(w.startswith(x) for x in labels)]


def test_every_added_row_is_there_once(rows, snapshot):
    keys = [(r.provider, r.region, r.instance_type, r.purchase.value) for r in snapshot.compute]
    assert len(keys) == len(set(keys))
    for key in ADDED:
        assert key in rows, key
    assert len(ADDED) == 28
    # A4 has no on-demand price in the source, and the new GCP types no committed-use price
    assert ("gcp", "us-central1", "a4-highgpu-8g", "on_demand") not in rows
    for itype in ("a3-ultragpu-8g", "a4-highgpu-8g"):
        for purchase in ("reserved_1y", "reserved_3y"):
            assert ("gcp", "us-central1", itype, purchase) not in rows
    assert {r.region for r in snapshot.compute
            if r.instance_type in ("a3-ultragpu-8g", "a4-highgpu-8g")} == {"us-central1"}


def test_gcp_h200_and_b200_rows(rows):
    od = rows[("gcp", "us-central1", "a3-ultragpu-8g", "on_demand")]
    assert (od.gpu, od.gpu_count, od.gpu_memory_gib, od.vcpus, od.memory_gib) == (
        "H200", 8, 141, 224, 2952)
    assert od.usd_per_hour == 84.8069 and od.upfront_usd == 0 and od.term_months == 0
    assert (od.source_ref, od.as_of) == (GPI, dt.date(2026, 10, 10))
    assert rows[("gcp", "us-central1", "a3-ultragpu-8g", "spot")].usd_per_hour == 50.835

    spot = rows[("gcp", "us-central1", "a4-highgpu-8g", "spot")]
    assert (spot.gpu, spot.gpu_count, spot.gpu_memory_gib, spot.vcpus, spot.memory_gib) == (
        "B200", 8, 180, 224, 3968)
    assert spot.usd_per_hour == 39.6336
    assert (spot.source_ref, spot.as_of) == (GPI, dt.date(2026, 10, 10))

    mega = rows[("gcp", "us-central1", "a3-megagpu-8g", "on_demand")]
    assert (mega.gpu, mega.gpu_count, mega.usd_per_hour) == ("H100", 8, 93.4007)
    assert rows[("gcp", "us-central1", "a3-megagpu-8g", "spot")].usd_per_hour == 53.0992


def test_gcp_rows_are_dated_by_their_source(snapshot, rows):
    gcp = [r for r in snapshot.compute if r.provider == "gcp"]
    assert len(gcp) == 604
    for r in gcp:
        if r.as_of == dt.date(2026, 10, 10):
            assert r.source_ref == GPI and r.region == "us-central1", r
            assert r.purchase in (Purchase.ON_DEMAND, Purchase.SPOT), r
        else:
            assert (r.source_ref, r.as_of) == (CYCLENERD, dt.date(2026, 7, 30)), r
    assert sum(r.as_of == dt.date(2026, 10, 10) for r in gcp) == 25
    # the published us-central1 price, 4 decimals; the component sum elsewhere
    assert rows[("gcp", "us-central1", "a3-highgpu-8g", "on_demand")].usd_per_hour == 88.49
    assert rows[("gcp", "us-central1", "a3-highgpu-8g", "spot")].usd_per_hour == 50.3153
    assert rows[("gcp", "us-west1", "a3-highgpu-8g", "on_demand")].usd_per_hour == 88.4899999025753
    # the 2025-03-06 anomaly (spot $89.06/h against $126.64/h on-demand) is gone
    assert rows[("gcp", "asia-northeast1", "a3-highgpu-8g", "spot")].usd_per_hour == (
        25.9100287123288)


def test_aws_p5_one_year_reservations_are_convertible_all_upfront(rows):
    # gpu_instances_raw.json: yrTerm1Convertible.allUpfront, $/h; the fee is rate x 8,760 h
    effective = {("p5.48xlarge", "us-east-1"): (40.454452, 354_381.00),
                 ("p5.48xlarge", "us-east-2"): (40.454452, 354_381.00),
                 ("p5.48xlarge", "us-west-2"): (40.454452, 354_381.00),
                 ("p5.48xlarge", "eu-north-1"): (43.286187, 379_187.00),
                 ("p5.48xlarge", "eu-west-2"): (52.590753, 460_695.00),
                 ("p5.48xlarge", "ap-northeast-1"): (50.568037, 442_976.00),
                 ("p5.48xlarge", "ap-south-1"): (48.54532, 425_257.00),
                 ("p5.4xlarge", "us-east-1"): (5.056849, 44_298.00),
                 ("p5.4xlarge", "ap-northeast-1"): (6.321005, 55_372.00),
                 ("p5.4xlarge", "ap-south-1"): (6.068151, 53_157.00)}
    for (itype, region), (rate, fee) in effective.items():
        r = rows[("aws", region, itype, "reserved_1y")]
        assert (r.upfront_usd, r.term_months) == (fee, 12), r
        assert r.usd_per_hour == pytest.approx(rate, abs=5e-7), r
        assert (r.source_ref, r.as_of) == (TSAOL_RAW, dt.date(2025, 11, 30))
        od = rows[("aws", region, itype, "on_demand")].usd_per_hour
        three = rows[("aws", region, itype, "reserved_3y")].usd_per_hour
        assert three < r.usd_per_hour < od, (itype, region)
    assert rows[("aws", "us-east-1", "p5.48xlarge", "on_demand")].usd_per_hour == 55.04
    r3 = rows[("aws", "us-east-1", "p5.4xlarge", "reserved_3y")]
    assert (r3.upfront_usd, r3.term_months, r3.gpu, r3.gpu_count) == (67_983.00, 36, "H100", 1)
    assert r3.usd_per_hour == pytest.approx(2.586872, abs=5e-7)
    assert rows[("aws", "us-east-1", "p5.4xlarge", "on_demand")].usd_per_hour == 6.88


def test_aws_on_demand_and_p5en_spot_sources(snapshot, rows):
    for region, price in P5EN_SPOT.items():
        r = rows[("aws", region, "p5en.48xlarge", "spot")]
        assert (r.usd_per_hour, r.source_ref, r.as_of) == (price, DSTACK, dt.date(2026, 8, 6))
        assert (r.gpu, r.gpu_count) == ("H200", 8)
    for (region, itype), price in SPOT_0917.items():
        r = rows[("aws", region, itype, "spot")]
        assert (r.usd_per_hour, r.source_ref, r.as_of) == (price, KOEN_0917,
                                                           dt.date(2026, 9, 17)), r
    # no source quotes a newer p5en spot price there: the 2025-11-30 row stays
    assert rows[("aws", "ap-south-1", "p5en.48xlarge", "spot")].as_of == dt.date(2025, 11, 30)
    b200 = rows[("aws", "ap-south-1", "p6-b200.48xlarge", "on_demand")]
    assert (b200.gpu, b200.gpu_count, b200.usd_per_hour) == ("B200", 8, 160.6453)
    # rounded to 4 decimals by the 2026-10-10 file (21.957642 before)
    assert rows[("aws", "us-east-1", "p4d.24xlarge", "on_demand")].usd_per_hour == 21.9576
    g6e = rows[("aws", "ap-south-1", "g6e.2xlarge", "on_demand")]
    assert (g6e.gpu, g6e.usd_per_hour, g6e.as_of) == ("L40S", 2.69266, dt.date(2026, 8, 26))
    assert g6e.source_ref == TSAOL_2026 + "data/all_gpu_instances.js"
    on_demand = [r for r in snapshot.compute
                 if r.provider == "aws" and r.purchase == Purchase.ON_DEMAND]
    assert len(on_demand) == 212
    for r in on_demand:
        assert (r.source_ref, r.as_of) == (GPI, dt.date(2026, 10, 10)) or (
            r.source_ref.startswith(TSAOL_2026) and r.as_of == dt.date(2026, 8, 26)), r


def test_azure_ncads_h100_v5_is_h100_nvl(snapshot):
    nvl = [r for r in snapshot.compute if r.provider == "azure" and r.instance_type in (
        "Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5")]
    assert len([r for r in nvl if not r.purchase.is_savings_plan]) == 52
    for r in nvl:
        assert (r.gpu, r.gpu_memory_gib) == ("H100-NVL", 94), r
        assert r.gpu_count == (1 if r.instance_type == "Standard_NC40ads_H100_v5" else 2)
    assert {r.gpu for r in snapshot.compute if r.instance_type == "Standard_ND96isr_H100_v5"} == {
        "H100"}
    eastus = {r.instance_type: r.usd_per_hour for r in nvl
              if r.region == "eastus" and r.purchase == Purchase.ON_DEMAND}
    assert eastus == {"Standard_NC40ads_H100_v5": 6.98, "Standard_NC80adis_H100_v5": 13.96}


def _data_rows(name: str) -> list[dict[str, str]]:
    path = resources.files("tco.pricing").joinpath("data", name)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_instance_shapes_of_the_new_types():
    gcp = {r["instance_type"]: r for r in _data_rows("instances_gcp.csv")}
    for itype, gpu, memory_gib, gpu_memory in (("a3-ultragpu-8g", "H200", "2952", "141"),
                                               ("a4-highgpu-8g", "B200", "3968", "180")):
        row = gcp[itype]
        assert (row["gpu"], row["gpu_count"], row["gpu_memory_gib"], row["vcpus"],
                row["memory_gib"], row["local_ssd_gib"]) == (gpu, "8", gpu_memory, "224",
                                                             memory_gib, "12000")
        assert row["source"].endswith("fd66b26ff84fee5cdd94f341ea89206e76c06b99/tools/"
                                      "machinetypes.csv")
    azure = {r["instance_type"]: r for r in _data_rows("instances_azure.csv")}
    assert azure["Standard_NC40ads_H100_v5"]["gpu"] == "H100-NVL"
    assert azure["Standard_NC80adis_H100_v5"]["gpu"] == "H100-NVL"
    assert azure["Standard_ND96isr_H100_v5"]["gpu"] == "H100"


@pytest.mark.parametrize("provider", ["aws", "gcp", "azure"])
def test_every_file_row_has_a_date_and_a_source(provider):
    rows = _data_rows(f"snapshot/compute_{provider}.csv")
    assert rows
    for row in rows:
        assert dt.date.fromisoformat(row["as_of"]).isoformat() == row["as_of"], row
        assert row["source_ref"].strip().startswith("https://"), row
